"""ActionVLM: a vision-language semantic enhancer for temporal action localization, weighted by the language
advantage, on an ActionFormer detector (Li et al., arXiv:2601.21078)."""

from .configuration_actionvlm import ACTIONVLM_PRESETS, ActionVLMConfig
from .modeling_actionvlm import (
    ActionVLMForTemporalLocalization,
    ActionVLMOutput,
    ActionVLMPreTrainedModel,
    ActionVLMTemporalAdapter,
    language_advantage_weight,
)
from .processing_actionvlm import format_action_prompt, format_proposal_answer

__all__ = [
    "ACTIONVLM_PRESETS",
    "ActionVLMConfig",
    "ActionVLMForTemporalLocalization",
    "ActionVLMOutput",
    "ActionVLMPreTrainedModel",
    "ActionVLMTemporalAdapter",
    "format_action_prompt",
    "format_proposal_answer",
    "language_advantage_weight",
]
