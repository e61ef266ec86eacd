"""The grounding contract (momentzoo.models.temporal_grounding): the pipeline's interface comes from what the config
declares; a config that declares nothing known is refused with its class named."""

import pytest
from common_model_tests import small_config
from transformers import BertConfig, Qwen2_5_VLConfig, Qwen2VLConfig

from momentzoo.models import MODELS
from momentzoo.models.temporal_grounding import (
    GROUNDING_INTERFACES,
    TemporalGroundingConfigMixin,
    grounding_interface,
)


@pytest.mark.parametrize("entry", [e for e in MODELS if e.task == "temporal-grounding"], ids=lambda e: e.model_type)
def test_grounding_configs_declare_the_interface(entry):
    config = small_config(entry)
    assert isinstance(config, TemporalGroundingConfigMixin)
    assert grounding_interface(config) in GROUNDING_INTERFACES
    assert "grounding_interface" not in config.to_dict()  # a class declaration, not a saved field


def test_qwen_vl_configs_are_video_chat_models():
    assert grounding_interface(Qwen2_5_VLConfig()) == "video_chat"
    assert grounding_interface(Qwen2VLConfig()) == "video_chat"


def test_undeclared_and_unknown_interfaces_are_refused():
    with pytest.raises(ValueError, match="BertConfig"):
        grounding_interface(BertConfig())

    class OddConfig(TemporalGroundingConfigMixin, BertConfig):
        grounding_interface = "telepathy"

    with pytest.raises(ValueError, match="OddConfig.grounding_interface must be one of"):
        grounding_interface(OddConfig())
