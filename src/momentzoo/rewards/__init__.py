"""Rewards for GRPO fine-tuning of video LLMs on temporal grounding (Invert4TVG), with TRL's signature,
the answer parser shared with the grounding metric and pipeline, and the verb lemmatizer they use."""

from .common import GAP, INVERSION_TASKS, TASKS
from .grounding import answer_format_reward, format_reward, grounding_format_reward, iou_reward, temporal_iou
from .inversion import action_recognition_reward, fill_gap, verb_completion_reward, video_description_reward
from .inversion_examples import build_inversion_example, build_inversion_examples, mask_verbs, select_target_verb
from .lemmatizer import VerbLemmatizer, default_lemmatizer
from .parsing import completion_text, extract_answer, parse_answer_format, parse_format, parse_window, parse_windows
from .tasks import MIXED_REWARD_FUNCS, TASK_REWARD_FUNCS, task_rewards
from .verb_lexicon import VerbLexicon, VerbToken

__all__ = [
    "TASKS",
    "INVERSION_TASKS",
    "GAP",
    "format_reward",
    "answer_format_reward",
    "grounding_format_reward",
    "iou_reward",
    "temporal_iou",
    "verb_completion_reward",
    "action_recognition_reward",
    "video_description_reward",
    "fill_gap",
    "build_inversion_example",
    "build_inversion_examples",
    "select_target_verb",
    "mask_verbs",
    "VerbLemmatizer",
    "default_lemmatizer",
    "VerbLexicon",
    "VerbToken",
    "completion_text",
    "extract_answer",
    "parse_format",
    "parse_answer_format",
    "parse_window",
    "parse_windows",
    "TASK_REWARD_FUNCS",
    "MIXED_REWARD_FUNCS",
    "task_rewards",
]
