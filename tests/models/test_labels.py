"""`num_labels` / `id2label` behave exactly as in transformers for every registered model: a config built with
`num_labels` gets that many `LABEL_i` classes, and re-heading a checkpoint with
`from_pretrained(ckpt, id2label=..., ignore_mismatched_sizes=True)` gives a consistent model of the new size."""

import pytest
import torch
from transformers import AutoConfig, AutoModel

import momentzoo  # noqa: F401  (registers the models)
from momentzoo.auto import _resolve
from momentzoo.models import MODELS
from momentzoo.models.actionformer import THUMOS14_CLASSES
from momentzoo.testing import tiny_tokenizer

NEW_NAMES = {i: name for i, name in enumerate(["run", "jump", "swim", "climb", "throw"])}
# every temporal-localization model has classes (grounding models have none)
ENTRIES = {entry.model_type: entry for entry in MODELS if entry.task == "temporal-localization"}


def tiny_model(model_type: str):
    entry = ENTRIES[model_type]
    model = _resolve(entry.model)(_resolve(entry.tiny_config)())
    if model_type == "actionvlm":  # saved with its tokenizer, as from_backbones builds it
        model.set_tokenizer(tiny_tokenizer(extra_tokens=tuple(model.config.special_tokens)))
    if model_type == "psftr":  # the text encoder's tokenizer embeds the class names
        model.set_text_tokenizer(tiny_tokenizer())
    return model.eval()


def class_scores(model) -> torch.Tensor:
    """The per-class scores of one forward pass: (batch, candidates, classes)."""
    features = torch.randn(1, 32, model.config.input_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs = model(input_features=features)
    if "cas" in outputs:  # DELU's class activation sequence: the classes, then one background column
        return outputs["cas"][..., :-1]
    return outputs["logits"] if "logits" in outputs else outputs["cls_logits"]


@pytest.mark.parametrize("model_type", sorted(ENTRIES))
def test_num_labels_as_in_transformers(model_type):
    config_class = _resolve(ENTRIES[model_type].config)
    config = config_class(num_labels=5)
    assert config.num_labels == config.num_classes == 5
    assert config.id2label == {i: f"LABEL_{i}" for i in range(5)}
    assert config.label2id == {f"LABEL_{i}": i for i in range(5)}
    assert AutoConfig.for_model(model_type, num_labels=7).num_labels == 7
    assert config_class(num_classes=4).num_labels == 4  # the momentzoo alias
    assert list(config_class().id2label.values()) == list(THUMOS14_CLASSES)  # nothing given: the paper's classes
    named = config_class(id2label={"0": "a", "1": "b"})  # JSON keys, as a config.json holds them
    assert named.id2label == {0: "a", 1: "b"} and named.num_labels == 2
    config.num_labels = 3  # transformers' setter re-heads the config
    assert config.num_classes == 3 and config.label2id == {"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2}
    with pytest.raises(ValueError, match="id2label"):
        config.id2label = {0: "a", 2: "b"}


@pytest.mark.parametrize("model_type", sorted(ENTRIES))
def test_reheading_a_checkpoint_gives_a_consistent_model(model_type, tmp_path):
    model = tiny_model(model_type)
    assert class_scores(model).shape[-1] == 3
    model.save_pretrained(tmp_path)

    reheaded = AutoModel.from_pretrained(tmp_path, id2label=NEW_NAMES, ignore_mismatched_sizes=True).eval()
    config = reheaded.config
    assert config.num_labels == config.num_classes == 5
    assert config.id2label == NEW_NAMES and config.label2id == {name: i for i, name in NEW_NAMES.items()}
    assert class_scores(reheaded).shape[-1] == 5
    for name, tensor in reheaded.state_dict().items():
        assert torch.isfinite(tensor).all(), f"{name} was not initialised after re-heading"

    counted = AutoModel.from_pretrained(tmp_path, num_labels=4, ignore_mismatched_sizes=True).eval()
    assert counted.config.id2label == {i: f"LABEL_{i}" for i in range(4)}
    assert class_scores(counted).shape[-1] == 4

    reheaded.save_pretrained(tmp_path / "reheaded")  # and the new head round-trips
    again = AutoModel.from_pretrained(tmp_path / "reheaded").eval()
    assert again.config.id2label == NEW_NAMES
    torch.testing.assert_close(class_scores(again), class_scores(reheaded))


def test_reheaded_actionvlm_prompts_the_new_classes(tmp_path):
    model = tiny_model("actionvlm")
    model.save_pretrained(tmp_path)
    reheaded = AutoModel.from_pretrained(tmp_path, id2label=NEW_NAMES, ignore_mismatched_sizes=True)
    prompt = reheaded.tokenizer.decode(reheaded.config.prompt_token_ids)
    assert all(name in prompt for name in NEW_NAMES.values()) and "open door" not in prompt
    assert reheaded.config.class_descriptions is None  # the checkpoint's were for its own 3 classes
    described = AutoModel.from_pretrained(
        tmp_path,
        id2label=NEW_NAMES,
        class_descriptions=[f"a person does {n}" for n in NEW_NAMES.values()],
        ignore_mismatched_sizes=True,
    )
    assert "a person does swim" in described.tokenizer.decode(described.config.prompt_token_ids)
