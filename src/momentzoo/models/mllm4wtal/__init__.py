"""MLLM4WTAL: weakly-supervised temporal action localization guided by MLLM descriptions, on a DELU base."""

from .configuration_mllm4wtal import CLIP_TEXT_MODEL_ID, MLLM4WTALConfig
from .modeling_mllm4wtal import (
    MLLM4WTALModel,
    MLLM4WTALOutput,
    MLLM4WTALPreTrainedModel,
    MLLM4WTALSemanticReconstructor,
    interactive_distillation_loss,
    key_match_loss,
    reconstruction_mask,
)

__all__ = [
    "CLIP_TEXT_MODEL_ID",
    "MLLM4WTALConfig",
    "MLLM4WTALModel",
    "MLLM4WTALOutput",
    "MLLM4WTALPreTrainedModel",
    "MLLM4WTALSemanticReconstructor",
    "interactive_distillation_loss",
    "key_match_loss",
    "reconstruction_mask",
]
