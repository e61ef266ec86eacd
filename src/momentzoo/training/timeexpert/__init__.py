"""TimeExpert's recipe: the expert lifecycle callback, the four task types as training examples and the collator."""

from .stages import TIMEEXPERT_STAGES, set_stage_trainable
from .data import TIMEEXPERT_TASK_PROMPTS, TimeExpertCollator, format_timeexpert_example, sample_frames
from .inference import evaluate_moment_retrieval, events_to_windows, generate_events
from .lifecycle import TimeExpertLifecycleCallback, apply_expert_update, plan_expert_update, remap_optimizer_state

__all__ = [
    "TIMEEXPERT_STAGES",
    "evaluate_moment_retrieval",
    "events_to_windows",
    "generate_events",
    "set_stage_trainable",
    "TIMEEXPERT_TASK_PROMPTS",
    "TimeExpertCollator",
    "TimeExpertLifecycleCallback",
    "apply_expert_update",
    "format_timeexpert_example",
    "plan_expert_update",
    "remap_optimizer_state",
    "sample_frames",
]
