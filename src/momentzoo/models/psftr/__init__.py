"""PSFTR: zero-shot temporal action localization with progressive semantic fusion of CLIP text embeddings."""

from .configuration_psftr import CLIP_TEXT_MODEL_ID, DEFAULT_PROMPT_TEMPLATE, PSFTRConfig
from .modeling_psftr import (
    PSFTRActionnessHead,
    PSFTRDecoderLayer,
    PSFTREncoderLayer,
    PSFTRFeedForward,
    PSFTRModel,
    PSFTROutput,
    PSFTRPreTrainedModel,
    PSFTRPrototypeClassifier,
    PSFTRSemanticGuidedDecoder,
    PSFTRSemanticGuidedEncoder,
    format_class_prompt,
)

__all__ = [
    "CLIP_TEXT_MODEL_ID",
    "DEFAULT_PROMPT_TEMPLATE",
    "PSFTRConfig",
    "PSFTRActionnessHead",
    "PSFTRDecoderLayer",
    "PSFTREncoderLayer",
    "PSFTRFeedForward",
    "PSFTRModel",
    "PSFTROutput",
    "PSFTRPreTrainedModel",
    "PSFTRPrototypeClassifier",
    "PSFTRSemanticGuidedDecoder",
    "PSFTRSemanticGuidedEncoder",
    "format_class_prompt",
]
