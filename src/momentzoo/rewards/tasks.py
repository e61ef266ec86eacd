"""Which rewards make each task's total: ``r_format + r_task`` (Invert4TVG).

TRL's ``GRPOTrainer(reward_funcs=[...])`` sums its reward functions per completion (weights
``GRPOConfig.reward_weights``, default 1 each) and skips ``None``. Two ways to train:

* one task per batch (the paper's Algorithm 1 draws the task once per iteration) or a single task:
  ``reward_funcs=TASK_REWARD_FUNCS[task]``, e.g. ``[grounding_format_reward, iou_reward]`` for TVG (the
  inversion tasks' format is ``answer_format_reward``: their prompts ask for the answer block alone);
* tasks mixed within a batch (or switching between batches without rebuilding the trainer):
  ``reward_funcs=MIXED_REWARD_FUNCS`` and a ``task`` column. Every row then gets exactly
  ``format_reward`` (which asks TVG answers for a window) plus the reward of its own task, since the others
  return ``None`` on it; TRL logs each reward's mean over the rows it scored, i.e. per task.

``task_rewards`` computes the same totals outside TRL (evaluation, tests).
"""

from __future__ import annotations

from .common import TASKS, completion_texts, task_rows
from .grounding import answer_format_reward, format_reward, grounding_format_reward, iou_reward
from .inversion import action_recognition_reward, verb_completion_reward, video_description_reward

__all__ = ["TASK_REWARD_FUNCS", "MIXED_REWARD_FUNCS", "task_rewards"]

TASK_REWARD_FUNCS = {
    "tvg": (grounding_format_reward, iou_reward),
    "vc": (answer_format_reward, verb_completion_reward),
    "ar": (answer_format_reward, action_recognition_reward),
    "vd": (answer_format_reward, video_description_reward),
}
MIXED_REWARD_FUNCS = (
    format_reward,
    iou_reward,
    verb_completion_reward,
    action_recognition_reward,
    video_description_reward,
)


def task_rewards(prompts=None, completions=None, **kwargs) -> list[float]:
    """Total reward per completion as TRL would sum it: with a ``task`` column, ``MIXED_REWARD_FUNCS``
    per row; without one, pass ``task=`` as a single task name for every row."""
    texts = completion_texts(completions, "task_rewards")
    task = kwargs.get("task")
    if isinstance(task, str):
        if task not in TASKS:
            raise ValueError(f"task_rewards: task must be one of {TASKS}, got {task!r}")
        kwargs = {**kwargs, "task": [task] * len(texts)}
    task_rows(kwargs, None, len(texts), "task_rewards")  # validates the column (required here)
    if kwargs.get("task") is None:
        raise ValueError("task_rewards needs a `task` column (or task='tvg'|'vc'|'ar'|'vd')")
    totals = [0.0] * len(texts)
    for func in MIXED_REWARD_FUNCS:
        for i, value in enumerate(func(prompts=prompts, completions=completions, **kwargs)):
            if value is not None:
                totals[i] += value
    return totals
