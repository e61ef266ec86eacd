"""TimeExpert's recipe: the expert lifecycle callback, the four task types as training examples and the collator."""

from .data import TIMEEXPERT_TASK_PROMPTS, TimeExpertCollator, format_timeexpert_example, sample_frames
from .inference import (
    evaluate_highlights,
    evaluate_moment_retrieval,
    events_to_saliency,
    events_to_windows,
    generate_events,
)
from .lifecycle import TimeExpertLifecycleCallback, apply_expert_update, plan_expert_update, remap_optimizer_state
from .stages import TIMEEXPERT_STAGES, set_stage_trainable

__all__ = [
    "TIMEEXPERT_STAGES",
    "TIMEEXPERT_TASK_PROMPTS",
    "TimeExpertCollator",
    "TimeExpertLifecycleCallback",
    "apply_expert_update",
    "evaluate_highlights",
    "evaluate_moment_retrieval",
    "events_to_saliency",
    "events_to_windows",
    "format_timeexpert_example",
    "generate_events",
    "plan_expert_update",
    "remap_optimizer_state",
    "sample_frames",
    "set_stage_trainable",
]
