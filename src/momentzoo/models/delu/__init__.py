"""DELU: weakly-supervised temporal action localization with dual evidential learning (ECCV 2022)."""

from .configuration_delu import THUMOS14_CLASSES, DELUConfig
from .modeling_delu import DELUCrossModalAttention, DELUModel, DELUOutput, DELUPreTrainedModel, video_labels_tensor

__all__ = [
    "THUMOS14_CLASSES",
    "DELUConfig",
    "DELUCrossModalAttention",
    "DELUModel",
    "DELUOutput",
    "DELUPreTrainedModel",
    "video_labels_tensor",
]
