"""TimeExpert's recipe: the expert lifecycle callback, the four task types as training examples and the collator."""

from .data import TIMEEXPERT_TASK_PROMPTS, TimeExpertCollator, format_timeexpert_example, sample_frames
from .lifecycle import TimeExpertLifecycleCallback, apply_expert_update, plan_expert_update, remap_optimizer_state

__all__ = [
    "TIMEEXPERT_TASK_PROMPTS",
    "TimeExpertCollator",
    "TimeExpertLifecycleCallback",
    "apply_expert_update",
    "format_timeexpert_example",
    "plan_expert_update",
    "remap_optimizer_state",
    "sample_frames",
]
