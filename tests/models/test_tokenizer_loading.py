"""The tokenizer a checkpoint keeps beside its weights (ActionVLM's LM tokenizer, PSFTR's CLIP tokenizer) loads with
the `from_pretrained` arguments the user gave (revision, cache_dir, token) and a broken one is an error, never a
model silently left without its tokenizer."""

import pytest
import torch
from hub_server import TOKEN
from huggingface_hub import HfApi

from momentzoo.models.actionvlm import ActionVLMForTemporalLocalization
from momentzoo.models.psftr import PSFTRModel
from momentzoo.testing import tiny_actionvlm_config, tiny_psftr_config, tiny_tokenizer

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")
SPECIAL = ("[cls]", "[loc]", "[adv]")


def _actionvlm(tokenizer):
    torch.manual_seed(0)
    model = ActionVLMForTemporalLocalization(tiny_actionvlm_config(tokenizer=tokenizer))
    model.set_tokenizer(tokenizer)
    return model


def test_hub_tokenizer_follows_revision_and_cache_dir(online, tmp_path):
    first = tiny_tokenizer(extra_tokens=SPECIAL)
    model = _actionvlm(first)
    model.save_pretrained(tmp_path / "v1")
    api = HfApi(endpoint=online.url, token=TOKEN)
    api.create_repo("tester/actionvlm-tokenizer", exist_ok=True)
    v1 = api.upload_folder(repo_id="tester/actionvlm-tokenizer", folder_path=tmp_path / "v1").oid
    second = tiny_tokenizer(extra_tokens=SPECIAL)
    second.add_tokens(["[later]"])  # a later commit changes the tokenizer
    second.save_pretrained(tmp_path / "v2")
    api.upload_folder(repo_id="tester/actionvlm-tokenizer", folder_path=tmp_path / "v2")

    cache = tmp_path / "cache"
    old = ActionVLMForTemporalLocalization.from_pretrained(
        "tester/actionvlm-tokenizer", revision=v1, cache_dir=cache, token=TOKEN
    )
    assert len(old.tokenizer) == len(first)  # the tokenizer of the revision asked for, not of main
    assert list(cache.glob("**/tokenizer_config.json"))  # downloaded into the cache the user named
    new = ActionVLMForTemporalLocalization.from_pretrained("tester/actionvlm-tokenizer", cache_dir=cache, token=TOKEN)
    assert len(new.tokenizer) == len(first) + 1
    offline = ActionVLMForTemporalLocalization.from_pretrained(
        "tester/actionvlm-tokenizer", revision=v1, cache_dir=cache, local_files_only=True
    )
    assert len(offline.tokenizer) == len(first)


@pytest.mark.parametrize("family", ["actionvlm", "psftr"])
def test_a_broken_saved_tokenizer_is_an_error(family, tmp_path):
    if family == "actionvlm":
        model = _actionvlm(tiny_tokenizer(extra_tokens=SPECIAL))
    else:
        model = PSFTRModel(tiny_psftr_config())
        model.set_text_tokenizer(tiny_tokenizer())
    model.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{ not json")
    with pytest.raises(Exception):  # noqa: B017 - whatever the tokenizer library raises, it reaches the user
        type(model).from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    (tmp_path / "tokenizer_config.json").unlink()
    loaded = type(model).from_pretrained(tmp_path)  # a checkpoint saved without a tokenizer still loads
    assert (loaded.tokenizer if family == "actionvlm" else loaded.text_tokenizer) is None
