"""TimeExpert: a mixture-of-experts video LLM for temporal grounding (task-aware dynamic gating, experts added and
removed during training, timestamp and score tokens with their own encoders and heads)."""

from .configuration_timeexpert import TimeExpertConfig
from .modeling_timeexpert import (
    TimeExpertDynamicGate,
    TimeExpertExperts,
    TimeExpertHeadSwitchLogitsProcessor,
    TimeExpertMoE,
    TimeExpertMoELayer,
    TimeExpertOutput,
    TimeExpertPreTrainedModel,
    TimeExpertSharedExperts,
    TimeExpertVisionProjector,
)
from .processing_timeexpert import (
    TASK_TYPES,
    TimeExpertEvent,
    TimeExpertFormatError,
    TimeExpertProcessor,
    TimeExpertTokenLayout,
    events_to_string,
    format_score,
    format_timestamp,
    parse_event_string,
    safe_parse_events,
)

__all__ = [
    "TASK_TYPES",
    "TimeExpertConfig",
    "TimeExpertDynamicGate",
    "TimeExpertEvent",
    "TimeExpertExperts",
    "TimeExpertFormatError",
    "TimeExpertHeadSwitchLogitsProcessor",
    "TimeExpertMoE",
    "TimeExpertMoELayer",
    "TimeExpertOutput",
    "TimeExpertPreTrainedModel",
    "TimeExpertProcessor",
    "TimeExpertSharedExperts",
    "TimeExpertTokenLayout",
    "TimeExpertVisionProjector",
    "events_to_string",
    "format_score",
    "format_timestamp",
    "parse_event_string",
    "safe_parse_events",
]
