"""ActionFormer: anchor-free temporal action localization with a local-attention transformer pyramid."""

from .configuration_actionformer import THUMOS14_CLASSES, ActionFormerConfig
from .modeling_actionformer import (
    ActionFormerBackbone,
    ActionFormerForTemporalLocalization,
    ActionFormerModel,
    ActionFormerModelOutput,
    ActionFormerOutput,
    ActionFormerPreTrainedModel,
)

__all__ = [
    "THUMOS14_CLASSES",
    "ActionFormerConfig",
    "ActionFormerBackbone",
    "ActionFormerForTemporalLocalization",
    "ActionFormerModel",
    "ActionFormerModelOutput",
    "ActionFormerOutput",
    "ActionFormerPreTrainedModel",
]
