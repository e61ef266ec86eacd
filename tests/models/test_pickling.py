"""Every registered model pickles (`pickle.dumps`, `torch.save`) and comes back with the same outputs: no lambdas,
closures or other unpicklable objects are attached to its modules (weight init goes by module class)."""

import io
import pickle

import pytest
import torch

from momentzoo.auto import _resolve
from momentzoo.models import MODELS
from momentzoo.testing.actionvlm import tiny_actionvlm_config
from momentzoo.testing.backbones import tiny_videomae


def _build(config, model_class):
    torch.manual_seed(0)
    return model_class(config).eval()


def _assert_same(actual, expected):
    for key, value in expected.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(actual[key], value), key


def _round_trips(model):
    inputs = model.dummy_inputs
    with torch.no_grad():
        expected = model(**inputs)
    copies = [pickle.loads(pickle.dumps(model))]
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copies.append(torch.load(buffer, weights_only=False))  # the whole module: our own object, not a download
    for copy in copies:
        assert type(copy) is type(model)
        with torch.no_grad():
            _assert_same(copy(**inputs), expected)


@pytest.mark.parametrize("entry", MODELS, ids=lambda entry: entry.model_type)
def test_registered_model_pickles(entry):
    _round_trips(_build(_resolve(entry.tiny_config)(), _resolve(entry.model)))


def test_actionvlm_with_its_video_encoder_pickles():
    """The temporal adapters run as forward hooks on the vision layers: the hooks must pickle too."""
    from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization

    vision = tiny_videomae(image_size=32, num_frames=4, hidden_size=32).config
    config = tiny_actionvlm_config(vision_config=vision.to_dict(), input_dim=32, vision_tuning="adapter")
    model = _build(config, ActionVLMForTemporalLocalization)
    assert model.config.has_video_encoder and model._adapter_hooks
    _round_trips(model)
