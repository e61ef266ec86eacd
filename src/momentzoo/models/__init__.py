"""The model registry: one line per model. `import momentzoo` registers every entry with the Auto classes."""

from dataclasses import dataclass

__all__ = ["ModelEntry", "MODELS"]


@dataclass(frozen=True)
class ModelEntry:
    model_type: str
    config: str  # dotted path of the config class
    model: str  # dotted path of the full task model (what AutoModel returns)
    task: str  # "temporal-localization" or "temporal-grounding"
    # dotted path of a zero-argument callable returning a small config for the registry-wide tests
    # (tests/test_registration.py); None: the config class's defaults are small enough
    tiny_config: str | None = None


MODELS: list[ModelEntry] = [
    ModelEntry(
        "actionformer",
        config="momentzoo.models.actionformer.ActionFormerConfig",
        model="momentzoo.models.actionformer.ActionFormerForTemporalLocalization",
        task="temporal-localization",
        tiny_config="momentzoo.testing.actionformer.tiny_actionformer_config",
    ),
    ModelEntry(
        "actionvlm",
        config="momentzoo.models.actionvlm.ActionVLMConfig",
        model="momentzoo.models.actionvlm.ActionVLMForTemporalLocalization",
        task="temporal-localization",
        tiny_config="momentzoo.testing.actionvlm.tiny_actionvlm_config",
    ),
    ModelEntry(
        "delu",
        config="momentzoo.models.delu.DELUConfig",
        model="momentzoo.models.delu.DELUModel",
        task="temporal-localization",
        tiny_config="momentzoo.testing.delu.tiny_delu_config",
    ),
    ModelEntry(
        "mllm4wtal",
        config="momentzoo.models.mllm4wtal.MLLM4WTALConfig",
        model="momentzoo.models.mllm4wtal.MLLM4WTALModel",
        task="temporal-localization",
        tiny_config="momentzoo.testing.mllm4wtal.tiny_mllm4wtal_config",
    ),
    ModelEntry(
        "psftr",
        config="momentzoo.models.psftr.PSFTRConfig",
        model="momentzoo.models.psftr.PSFTRModel",
        task="temporal-localization",
        tiny_config="momentzoo.testing.psftr.tiny_psftr_config",
    ),
    ModelEntry(
        "timeexpert",
        config="momentzoo.models.timeexpert.TimeExpertConfig",
        model="momentzoo.models.timeexpert.TimeExpertMoE",
        task="temporal-grounding",
        tiny_config="momentzoo.testing.timeexpert.tiny_timeexpert_config",
    ),
]
