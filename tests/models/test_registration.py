"""Registration: every model of `momentzoo.MODELS` resolves through AutoConfig, AutoModel and its task auto class
and round-trips save/load with identical weights and outputs. The same check runs on two small models defined in
the tests (tests/tiny_models.py), so the mechanism is proven whether or not the registry has entries yet."""

import pytest
import torch
from common_model_tests import assert_same_outputs, small_config
from tiny_models import (
    TinyDetectorConfig,
    TinyDetectorForTemporalLocalization,
    TinyGrounderConfig,
    TinyGrounderForTemporalGrounding,
    register_tiny_models,
)
from transformers import AutoConfig, AutoModel

import momentzoo
from momentzoo.auto import TASK_AUTO_CLASSES, _resolve
from momentzoo.models import MODELS, ModelEntry

TINY_ENTRIES = [
    ModelEntry(
        "tiny_detector",
        config="tiny_models.TinyDetectorConfig",
        model="tiny_models.TinyDetectorForTemporalLocalization",
        task="temporal-localization",
        tiny_config="tiny_models.TinyDetectorConfig",
    ),
    ModelEntry(
        "tiny_grounder",
        config="tiny_models.TinyGrounderConfig",
        model="tiny_models.TinyGrounderForTemporalGrounding",
        task="temporal-grounding",
    ),
]


def check_registered_model(entry: ModelEntry, tmp_path) -> None:
    config_class, model_class = _resolve(entry.config), _resolve(entry.model)
    task_auto = TASK_AUTO_CLASSES[entry.task]
    assert config_class.model_type == entry.model_type
    assert model_class.config_class is config_class, "the model must set config_class (transformers 5.x)"

    # Resolution from a model type and from a config, through all three auto classes.
    assert type(AutoConfig.for_model(entry.model_type)) is config_class
    config = small_config(entry)
    model = AutoModel.from_config(config)
    assert type(model) is model_class, "AutoModel must map the config to its full task model"
    assert type(task_auto.from_config(config)) is model_class
    for other_task, other_auto in TASK_AUTO_CLASSES.items():
        if other_task != entry.task:
            with pytest.raises(ValueError, match="Unrecognized configuration class"):
                other_auto.from_config(config)

    # Save (safetensors only) and load back through each auto class: same config, weights and outputs.
    model.eval()
    inputs = model.dummy_inputs
    with torch.no_grad():
        expected = model(**inputs)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()
    assert not list(tmp_path.glob("*.bin")), "weights must be saved as safetensors only"
    reloaded_config = AutoConfig.from_pretrained(tmp_path)
    assert type(reloaded_config) is config_class
    drop = {"_name_or_path", "transformers_version"}
    assert {k: v for k, v in reloaded_config.to_dict().items() if k not in drop} == {
        k: v for k, v in config.to_dict().items() if k not in drop
    }
    state = model.state_dict()
    for auto_class in (AutoModel, task_auto):
        loaded = auto_class.from_pretrained(tmp_path)
        assert type(loaded) is model_class
        assert not loaded.training, "from_pretrained returns a model in eval mode"
        loaded_state = loaded.state_dict()
        assert loaded_state.keys() == state.keys()
        for key, value in state.items():
            assert torch.equal(loaded_state[key], value), f"{auto_class.__name__}: weight {key} differs after reload"
        with torch.no_grad():
            assert_same_outputs(loaded(**inputs), expected)


def test_registry_entries_are_consistent():
    model_types = [entry.model_type for entry in MODELS]
    assert len(model_types) == len(set(model_types)), f"duplicate model_type in MODELS: {model_types}"
    for entry in MODELS:
        assert entry.task in TASK_AUTO_CLASSES, f"{entry.model_type}: unknown task {entry.task!r}"


@pytest.mark.parametrize("entry", MODELS, ids=lambda entry: entry.model_type)
def test_registered_model(entry, tmp_path):
    # No registration here: `import momentzoo` must already have registered every entry.
    check_registered_model(entry, tmp_path)


@pytest.mark.parametrize("entry", TINY_ENTRIES, ids=lambda entry: entry.model_type)
def test_mechanism_with_models_defined_in_the_tests(entry, tmp_path):
    register_tiny_models()
    check_registered_model(entry, tmp_path)


def test_register_all_resolves_dotted_paths():
    momentzoo.auto.register_all(TINY_ENTRIES)  # idempotent: the same pairs again
    assert AutoModel._model_mapping[TinyDetectorConfig] is TinyDetectorForTemporalLocalization
    assert (
        momentzoo.AutoModelForTemporalGrounding._model_mapping[TinyGrounderConfig] is TinyGrounderForTemporalGrounding
    )
    assert TinyGrounderConfig not in momentzoo.AutoModelForTemporalLocalization._model_mapping


def test_register_model_rejects_an_unknown_task():
    with pytest.raises(ValueError, match="task must be one of"):
        momentzoo.register_model(TinyDetectorConfig, TinyDetectorForTemporalLocalization, task="action-detection")


def test_reload_detects_a_changed_weight(tmp_path):
    """The round-trip check can fail: a checkpoint whose weights were altered after saving is caught."""
    register_tiny_models()
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig()).eval()
    model.save_pretrained(tmp_path)
    loaded = AutoModel.from_pretrained(tmp_path)
    with torch.no_grad():
        loaded.classifier.bias.add_(1e-3)
        with pytest.raises(AssertionError, match="differ after reload"):
            assert_same_outputs(loaded(**model.dummy_inputs), model(**model.dummy_inputs))


@pytest.mark.parametrize(
    "entry", [e for e in MODELS if e.task == "temporal-localization"], ids=lambda entry: entry.model_type
)
def test_temporal_localization_configs_declare_the_interface(entry):
    """Pipelines and evaluation read these declarations instead of probing the model (see
    momentzoo.models.temporal_localization)."""
    from momentzoo.models.temporal_localization import TemporalLocalizationConfigMixin
    from momentzoo.segments import batched_nms

    config = small_config(entry)
    assert isinstance(config, TemporalLocalizationConfigMixin)
    size, overlap = config.inference_window
    assert size is None or (isinstance(size, int) and size > 0)
    assert 0 <= overlap < 1
    kwargs = config.window_merge_nms_kwargs()
    segments, scores, labels = (
        torch.tensor([[0.0, 4.0], [0.0, 4.0], [1.0, 5.0]]),
        torch.tensor([0.9, 0.9, 0.5]),
        torch.tensor([0, 0, 0]),
    )
    kept, kept_scores, _ = batched_nms(segments, scores, labels, **kwargs)  # the declared kwargs are batched_nms's
    duplicates = kept_scores[(kept == torch.tensor([0.0, 4.0])).all(-1)]
    assert len(duplicates) == 1 or duplicates.min() < 0.9, "merging windows must suppress an exact duplicate"
    assert isinstance(config.takes_class_names, bool) and isinstance(config.has_video_encoder, bool)
    for key in config.keys_to_ignore_at_inference:
        assert isinstance(key, str)
    assert config.input_dim > 0 and config.fps > 0 and config.feature_stride > 0 and config.num_frames > 0
