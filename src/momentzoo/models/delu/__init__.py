"""DELU: weakly-supervised temporal action localization with dual evidential learning (ECCV 2022)."""

from .configuration_delu import DELUConfig
from .modeling_delu import DELUCrossModalAttention, DELUModel, DELUOutput, DELUPreTrainedModel, video_labels_tensor

__all__ = [
    "DELUConfig",
    "DELUCrossModalAttention",
    "DELUModel",
    "DELUOutput",
    "DELUPreTrainedModel",
    "video_labels_tensor",
]
