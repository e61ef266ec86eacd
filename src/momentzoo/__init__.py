"""momentzoo: a Hugging Face-native model zoo for finding moments in video."""

from .version import __version__

from .auto import AutoModelForTemporalGrounding, AutoModelForTemporalLocalization, register_all, register_model
from .models import MODELS
from .models.actionformer import ActionFormerConfig, ActionFormerForTemporalLocalization, ActionFormerModel
from .models.actionvlm import ActionVLMConfig, ActionVLMForTemporalLocalization

register_all(MODELS)

from . import pipelines  # noqa: E402  (registers momentzoo's pipelines with transformers' PIPELINE_REGISTRY)

__all__ = [
    "__version__",
    "AutoModelForTemporalLocalization",
    "AutoModelForTemporalGrounding",
    "register_model",
    "MODELS",
    "ActionFormerConfig",
    "ActionFormerForTemporalLocalization",
    "ActionFormerModel",
    "ActionVLMConfig",
    "ActionVLMForTemporalLocalization",
]
