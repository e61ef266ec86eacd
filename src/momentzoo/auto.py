"""Task auto classes and the registration of momentzoo's models with transformers' Auto API."""

from collections import OrderedDict
from importlib import import_module

from transformers import AutoConfig, AutoModel
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

__all__ = [
    "AutoModelForTemporalLocalization",
    "AutoModelForTemporalGrounding",
    "TASK_AUTO_CLASSES",
    "register_model",
    "register_all",
]


class AutoModelForTemporalLocalization(_BaseAutoModelClass):
    """Builds the temporal action localization model (supervised, zero-shot or weakly supervised) of a config."""

    _model_mapping = _LazyAutoMapping(CONFIG_MAPPING_NAMES, OrderedDict())


class AutoModelForTemporalGrounding(_BaseAutoModelClass):
    """Builds the temporal video grounding model (sentence -> window) of a config."""

    _model_mapping = _LazyAutoMapping(CONFIG_MAPPING_NAMES, OrderedDict())


TASK_AUTO_CLASSES = {
    "temporal-localization": AutoModelForTemporalLocalization,
    "temporal-grounding": AutoModelForTemporalGrounding,
}


def _resolve(qualified_name: str):
    module, _, name = qualified_name.rpartition(".")
    return getattr(import_module(module), name)


def register_model(config_class, model_class, task: str) -> None:
    """Register one model with `AutoConfig`, `AutoModel` (mapped to the full task model, so it can predict)
    and the auto class of `task`. Registering the same pair twice is a no-op."""
    if task not in TASK_AUTO_CLASSES:
        raise ValueError(f"task must be one of {sorted(TASK_AUTO_CLASSES)}, got {task!r}")
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, model_class, exist_ok=True)
    TASK_AUTO_CLASSES[task].register(config_class, model_class, exist_ok=True)


def register_all(entries) -> None:
    """Register every `ModelEntry` of `entries` (see `momentzoo.models.MODELS`)."""
    for entry in entries:
        register_model(_resolve(entry.config), _resolve(entry.model), entry.task)
