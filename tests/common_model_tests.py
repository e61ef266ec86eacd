"""Checks every momentzoo model family runs on its own tiny config: mix `ModelTesterMixin` into a `Test...` class
and fill in the hooks. Registry-wide resolution and a save/load round-trip on `dummy_inputs` already run for
every `MODELS` entry in tests/models/test_registration.py; the mixin adds what needs the model's own inputs and labels:
config round-trip with non-default values and field validation, save/load after training (weights *and*
buffers), backprop to every trainable parameter, padding invariance, gradient checkpointing and bf16.

Hooks a subclass provides:
    model_type                        the `MODELS` entry under test (tests/models/test_common_coverage.py fails
                                      for an entry without a subclass); `model_class` and `task` come from it
    get_config(**overrides)           default: the entry's tiny config (dropout and drop path off) with overrides
    non_default_config_kwargs         dict of valid, non-default field values for the round-trip test
    invalid_config_kwargs             list of (kwargs, field name that the ValueError must name)
    make_inputs(model, lengths)       forward kwargs for a batch of videos of these lengths (padded to the longest),
                                      labels included; must be deterministic
    real_step_outputs(outputs, index, length)
                                      dict name -> tensor: video `index`'s outputs restricted to its first `length`
                                      real steps (for padding invariance)
"""

import json

import pytest
import torch
from transformers import AutoConfig, AutoModel

from momentzoo.auto import TASK_AUTO_CLASSES, _resolve
from momentzoo.models import MODELS, ModelEntry

__all__ = [
    "ModelTesterMixin",
    "assert_close_outputs",
    "assert_same_outputs",
    "small_config",
    "one_thread",
    "registry_entry",
]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run a test module's tiny models on one thread: a second thread only adds synchronisation, which on a loaded
    2-core machine costs seconds. Import it into a test module to apply it there (it is autouse)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def small_config(entry: ModelEntry):
    config_class = _resolve(entry.config)
    config = _resolve(entry.tiny_config)() if entry.tiny_config else config_class()
    assert isinstance(config, config_class), f"{entry.tiny_config} returned {type(config).__name__}"
    return config


def registry_entry(model_type: str) -> ModelEntry:
    found = [entry for entry in MODELS if entry.model_type == model_type]
    if not found:
        raise ValueError(f"no MODELS entry for model_type {model_type!r}")
    return found[0]


def assert_same_outputs(actual, expected, where="outputs"):
    """Every tensor of two (nested) model outputs is bit-identical."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor) and actual.shape == expected.shape, where
        assert torch.equal(actual, expected), f"{where} differ after reload"
    elif isinstance(expected, dict):  # ModelOutput is an OrderedDict of its non-None fields
        assert list(actual.keys()) == list(expected.keys()), where
        for key in expected:
            assert_same_outputs(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same_outputs(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, where


def assert_close_outputs(actual: dict, expected: dict, atol: float, rtol: float = 1e-4, where: str = ""):
    assert actual.keys() == expected.keys(), where
    for key in expected:
        assert actual[key].shape == expected[key].shape, f"{where}{key}: {actual[key].shape} vs {expected[key].shape}"
        torch.testing.assert_close(
            actual[key], expected[key], atol=atol, rtol=rtol, msg=lambda m, key=key: f"{where}{key}: {m}"
        )


class ModelTesterMixin:
    model_type: str | None = None  # the MODELS entry under test; model_class, task and get_config default to it
    model_class = None
    task = None
    non_default_config_kwargs: dict = {}
    invalid_config_kwargs: list = []
    padding_atol = 1e-5
    lengths = (13, 9)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.model_type is not None:
            entry = registry_entry(cls.model_type)
            cls.model_class = cls.model_class or _resolve(entry.model)
            cls.task = cls.task or entry.task

    # ---------------------------------------------------------------- hooks
    def get_config(self, **overrides):
        """The registry entry's tiny config (`ModelEntry.tiny_config`) with `overrides`."""
        entry = registry_entry(self.model_type)
        if entry.tiny_config is None:
            return _resolve(entry.config)(**overrides)
        return _resolve(entry.tiny_config)(**overrides)

    def make_inputs(self, model, lengths):
        raise NotImplementedError

    def real_step_outputs(self, outputs, index: int, length: int) -> dict:
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    def make_model(self, **overrides):
        torch.manual_seed(0)
        return self.model_class(self.get_config(**overrides))

    @staticmethod
    def trainable(model):
        return [(name, p) for name, p in model.named_parameters() if p.requires_grad]

    # ---------------------------------------------------------------- tests
    def test_config_round_trip(self, tmp_path):
        config = self.get_config(**self.non_default_config_kwargs)
        text = config.to_json_string()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"config JSON holds {c}: not strict JSON"))
        config.save_pretrained(tmp_path)
        loaded = AutoConfig.from_pretrained(tmp_path)
        assert type(loaded) is type(config)
        drop = {"_name_or_path", "transformers_version"}
        assert {k: v for k, v in loaded.to_dict().items() if k not in drop} == {
            k: v for k, v in config.to_dict().items() if k not in drop
        }
        for key, value in self.non_default_config_kwargs.items():
            assert getattr(loaded, key) == value, key

    def test_config_rejects_invalid_values(self):
        assert self.invalid_config_kwargs, "list some invalid config values to check"
        for kwargs, field in self.invalid_config_kwargs:
            with pytest.raises(ValueError, match=field):
                self.get_config(**kwargs)

    def test_auto_classes_resolve(self):
        config = self.get_config()
        assert type(AutoConfig.for_model(config.model_type)) is type(config)
        assert type(AutoModel.from_config(config)) is self.model_class
        assert type(TASK_AUTO_CLASSES[self.task].from_config(config)) is self.model_class

    def test_save_load_after_training_gives_identical_outputs(self, tmp_path):
        model = self.make_model()
        inputs = self.make_inputs(model, self.lengths)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(2):  # move weights (and any running buffers) away from their initial values
            model(**inputs).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            expected = model(**inputs)
        model.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file() and not list(tmp_path.glob("*.bin"))
        state = model.state_dict()
        for auto_class in (AutoModel, TASK_AUTO_CLASSES[self.task]):
            loaded = auto_class.from_pretrained(tmp_path)
            assert type(loaded) is self.model_class and not loaded.training
            loaded_state = loaded.state_dict()
            assert loaded_state.keys() == state.keys()
            for key in state:
                assert loaded_state[key].dtype == state[key].dtype, key
                assert torch.equal(loaded_state[key], state[key]), f"{auto_class.__name__}: {key} differs"
            with torch.no_grad():
                assert_same_outputs(loaded(**inputs), expected)

    def test_backprop_reaches_every_trainable_parameter(self):
        model = self.make_model().train()
        inputs = self.make_inputs(model, self.lengths)
        loss = model(**inputs).loss
        assert loss.ndim == 0 and torch.isfinite(loss)
        loss.backward()
        no_grad = [name for name, p in self.trainable(model) if p.grad is None or not torch.any(p.grad != 0)]
        assert not no_grad, f"no gradient reaches {no_grad}"

    def test_padding_does_not_change_real_steps(self):
        model = self.make_model().eval()
        lengths = self.lengths
        padded_inputs = self.make_inputs(model, lengths)
        with torch.no_grad():
            padded = model(**padded_inputs)
            for index, length in enumerate(lengths):
                alone = model(**self.make_inputs(model, (length,)))
                assert_close_outputs(
                    self.real_step_outputs(padded, index, length),
                    self.real_step_outputs(alone, 0, length),
                    atol=self.padding_atol,
                    where=f"video {index} (length {length}): ",
                )

    def test_gradient_checkpointing_gives_the_same_gradients(self):
        if not self.model_class.supports_gradient_checkpointing:
            pytest.skip("model does not support gradient checkpointing")
        grads = []
        for checkpointing in (False, True):
            model = self.make_model().train()
            if checkpointing:
                model.activation_checkpointing_enable()
                assert model.is_activation_checkpointing
                assert any(getattr(m, "gradient_checkpointing", False) for m in model.modules())
            inputs = self.make_inputs(model, self.lengths)
            model(**inputs).loss.backward()
            grads.append({name: p.grad.clone() for name, p in self.trainable(model)})
        assert_close_outputs(grads[1], grads[0], atol=1e-6, where="checkpointed grad ")

    def test_bfloat16_forward_and_backward(self):
        model = self.make_model()
        inputs32 = self.make_inputs(model, self.lengths)
        model.eval()
        with torch.no_grad():
            reference = model(**inputs32).loss
        model.to(torch.bfloat16)
        inputs = {
            k: v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in inputs32.items()
        }
        with torch.no_grad():
            loss = model(**inputs).loss
        assert torch.isfinite(loss)
        torch.testing.assert_close(loss.float(), reference, atol=0.05, rtol=0.05)
        model.train()
        model(**inputs).loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for _, p in self.trainable(model))
