"""LoRA on ActionVLM's language model goes through peft (`get_peft_model`): checkpoints of a model built on a
reloadable LM hold only the LoRA adapter (not the frozen LM again), the LM adapter saves in peft's own format, and
`merge_and_unload` folds it in without changing the outputs."""

import json

import pytest
import torch
from peft import PeftModel
from safetensors import safe_open
from transformers import AutoModel

from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization
from momentzoo.testing import TINY_ACTIONFORMER_HEAD, tiny_qwen2, tiny_tokenizer

SPECIAL = ("[cls]", "[loc]", "[adv]")
# the tiny ActionFormer head of the other tests, with LoRA of rank 4
HEAD = dict(
    TINY_ACTIONFORMER_HEAD,
    id2label={0: "open door", 1: "close door", 2: "throw ball"},
    lora_rank=4,
    lora_alpha=8,
    lora_dropout=0.0,
)
HEAD.pop("num_classes", None)


@pytest.fixture(scope="module")
def language_model_dir(tmp_path_factory):
    """A tiny Qwen2 whose vocabulary already has room for the special tokens (as Qwen2.5's padded one has)."""
    torch.manual_seed(0)
    lm, tokenizer = tiny_qwen2(tiny_tokenizer(extra_tokens=SPECIAL))
    folder = tmp_path_factory.mktemp("qwen2")
    lm.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def inputs():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(1, 32, 12, generator=generator)
    labels = [{"class_labels": torch.tensor([0, 2]), "segments": torch.tensor([[2.0, 9.0], [12.0, 20.0]])}]
    return features, labels


def trained_model(language_model_dir):
    torch.manual_seed(0)
    # A Hub LM is recorded by from_backbones; a local one is named explicitly (it must still be there to reload).
    model = ActionVLMForTemporalLocalization.from_backbones(
        str(language_model_dir), language_model_name_or_path=str(language_model_dir), **HEAD
    )
    assert isinstance(model.language_adapter, PeftModel)
    trainable = [n for n, p in model.language_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    features, labels = inputs()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):  # LoRA B leaves zero after the first step, so both LoRA matrices differ from their init
        model(input_features=features, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def scores(model):
    with torch.no_grad():
        return model(input_features=inputs()[0]).cls_logits


def test_checkpoints_hold_the_adapter_not_the_frozen_language_model(language_model_dir, tmp_path):
    model = trained_model(language_model_dir)
    model.save_pretrained(tmp_path / "ckpt")
    with safe_open(tmp_path / "ckpt" / "model.safetensors", framework="pt") as f:
        saved = list(f.keys())
    language = [k for k in saved if k.startswith("language_model.")]
    assert language and all("lora_" in k for k in language)  # the frozen LM is not saved again
    assert any(k.startswith("detector.") for k in saved)
    frozen = sum(p.numel() for n, p in model.language_model.named_parameters() if "lora_" not in n)
    assert frozen > 0

    loaded = AutoModel.from_pretrained(tmp_path / "ckpt").eval()  # the LM reloads from its own checkpoint
    assert isinstance(loaded, ActionVLMForTemporalLocalization)
    for (name, expected), actual in zip(model.state_dict().items(), loaded.state_dict().values()):
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, msg=name)
    torch.testing.assert_close(scores(loaded), scores(model), rtol=0, atol=0)
    assert [n for n, p in loaded.named_parameters() if p.requires_grad and n.startswith("language_model.")] == [
        n for n, p in model.named_parameters() if p.requires_grad and n.startswith("language_model.")
    ]


def test_peft_adapter_format_and_merge_and_unload(language_model_dir, tmp_path):
    model = trained_model(language_model_dir)
    # peft's own adapter checkpoint of the LM: loadable onto the base LM with PeftModel.from_pretrained
    model.language_adapter.save_pretrained(tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
    ]
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(language_model_dir)
    restored = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    ids = torch.tensor([[5, 9, 14, 3]])
    with torch.no_grad():
        torch.testing.assert_close(restored(input_ids=ids).logits, model.language_model(input_ids=ids).logits)

    before = scores(model)
    merged = model.merge_and_unload()
    assert merged is model and model.config.language_tuning == "frozen"
    assert not any("lora_" in n for n, _ in model.named_parameters())
    torch.testing.assert_close(scores(model), before, rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path / "merged")  # the merged LM is saved whole
    with safe_open(tmp_path / "merged" / "model.safetensors", framework="pt") as f:
        assert "language_model.model.layers.0.self_attn.q_proj.weight" in f.keys()
    reloaded = AutoModel.from_pretrained(tmp_path / "merged").eval()
    torch.testing.assert_close(scores(reloaded), scores(model), rtol=0, atol=0)
    with pytest.raises(ValueError, match="language_tuning='lora'"):
        model.merge_and_unload()
