"""momentzoo: a Hugging Face-native model zoo for finding moments in video.

`import momentzoo` registers every model of `momentzoo.models.MODELS` with transformers' Auto classes and momentzoo's
pipelines with `transformers.pipeline`. Every other public name is importable from here and imported on first use,
as transformers does (`from momentzoo import PSFTRModel, Invert4TVGTrainer`), so the package stays light: no TRL
until a trainer is asked for.
"""

# Re-exported names (listed in __all__ below, which ruff cannot read as it is built from two lists).
from .auto import AutoModelForTemporalGrounding, AutoModelForTemporalLocalization, register_all, register_model  # noqa: F401
from .lazy import lazy_exports
from .models import MODELS, ModelEntry  # noqa: F401
from .version import __version__  # noqa: F401

register_all(MODELS)

from . import pipelines  # noqa: E402, F401  (registers momentzoo's pipelines with transformers' PIPELINE_REGISTRY)

_EAGER = [
    "__version__",
    "MODELS",
    "ModelEntry",
    "AutoModelForTemporalLocalization",
    "AutoModelForTemporalGrounding",
    "register_model",
]

# Submodule -> the public names it defines (one place to look up where a name lives).
_LAZY_STRUCTURE = {
    "models.temporal_localization": ["TemporalLocalizationConfigMixin", "THUMOS14_CLASSES"],
    "models.actionformer": [
        "ActionFormerConfig",
        "ActionFormerPreTrainedModel",
        "ActionFormerModel",
        "ActionFormerForTemporalLocalization",
        "ActionFormerModelOutput",
        "ActionFormerOutput",
    ],
    "models.actionvlm": [
        "ACTIONVLM_PRESETS",
        "ActionVLMConfig",
        "ActionVLMPreTrainedModel",
        "ActionVLMForTemporalLocalization",
        "ActionVLMOutput",
    ],
    "models.psftr": ["PSFTRConfig", "PSFTRPreTrainedModel", "PSFTRModel", "PSFTROutput"],
    "models.delu": ["DELUConfig", "DELUPreTrainedModel", "DELUModel", "DELUOutput"],
    "models.mllm4wtal": ["MLLM4WTALConfig", "MLLM4WTALPreTrainedModel", "MLLM4WTALModel", "MLLM4WTALOutput"],
    "models.timeexpert": [
        "TimeExpertConfig",
        "TimeExpertPreTrainedModel",
        "TimeExpertMoE",
        "TimeExpertOutput",
        "TimeExpertProcessor",
    ],
    "pipelines": ["TemporalActionLocalizationPipeline", "TemporalVideoGroundingPipeline"],
    "data": [
        "TemporalLocalizationCollator",
        "TemporalGroundingCollator",
        "TemporalVideoCollator",
        "TemporalFeatureDataset",
        "SlidingWindowDataset",
        "VideoFeatureExtractor",
        "Thumos14Builder",
        "ActivityNetBuilder",
        "EpicKitchensBuilder",
        "CharadesSTABuilder",
        "QVHighlightsBuilder",
        "Thumos14WeakBuilder",
        "make_synthetic_tal_dataset",
        "make_synthetic_grounding_dataset",
        "make_synthetic_video_dataset",
        "merge_window_predictions",
    ],
    "data.model_video_encoder": ["ModelVideoEncoder"],
    "metrics": ["TemporalActionLocalizationMAP", "TemporalGroundingRecall", "QVHighlightsMetric"],
    "training": [
        "ActionFormerTrainer",
        "ModelEMACallback",
        "TemporalLocalizationTrainer",
        "TemporalLocalizationTrainingArguments",
        "LanguageAdvantageTrainer",
        "LanguageAdvantageTrainingArguments",
        "evaluate_modality_bias",
        "Invert4TVGConfig",
        "Invert4TVGTrainer",
        "Invert4TVGTaskSampler",
        "Invert4TVGSFTCollator",
        "make_invert_sft_dataset",
        "WTALTrainer",
        "WTALTrainingArguments",
        "WeakTALCollator",
        "evaluate_wtal",
        "make_synthetic_wtal_dataset",
        "evaluate_tal",
        "predict_tal",
        "evaluate_zero_shot",
        "TALDataArguments",
        "load_tal_dataset",
    ],
    "training.timeexpert": ["TimeExpertLifecycleCallback", "TimeExpertCollator"],
    "hub": ["MomentzooModelCardMixin", "push_to_hub"],
    "model_cards": ["render_model_card", "save_model_card"],
    "commands.quickstart": ["run_quickstart"],
}

_lazy_all, __getattr__, _lazy_dir = lazy_exports(__name__, _LAZY_STRUCTURE)
__all__ = _EAGER + _lazy_all


def __dir__():
    return sorted(set(globals()) | set(__all__))
