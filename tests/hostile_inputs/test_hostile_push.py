"""Hostile inputs to pushing: what `momentzoo push` / `momentzoo.hub.push_to_hub` refuse or leave out, and
`model.push_to_hub` behaving as transformers' `PushToHubMixin` (signature, tags, an edited remote card kept).

Pushes go to the Hub-compatible server of tests/hub_server.py."""

import json
import os
import struct

import huggingface_hub
import pytest
from hub_server import TOKEN
from huggingface_hub import HfApi
from tiny_models import TinyDetectorConfig, TinyDetectorForTemporalLocalization, register_tiny_models

from momentzoo.hub import checkpoint_files, push_to_hub

pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes:DeprecationWarning")


@pytest.fixture(autouse=True)
def _registered():
    register_tiny_models()


@pytest.fixture
def checkpoint(tmp_path):
    folder = tmp_path / "ckpt"
    TinyDetectorForTemporalLocalization(TinyDetectorConfig()).save_pretrained(folder)
    return folder


def _remote_files(server, repo_id):
    return set(HfApi(endpoint=server.url, token=TOKEN).list_repo_files(repo_id)) - {".gitattributes"}


def test_symlink_leaving_the_folder_is_refused(online, checkpoint, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"aws_key": "AKIA..."}')
    os.symlink(secret, checkpoint / "extra.json")
    with pytest.raises(ValueError, match=r"extra.json: a symbolic link .* outside the checkpoint folder"):
        push_to_hub(checkpoint, "tester/leak", token=TOKEN)
    assert ("model", "tester/leak") not in online.repos


def test_only_checkpoint_files_are_uploaded_never_pickles(online, checkpoint):
    for name in (
        "optimizer.pt",
        "rng_state.pth",
        "training_args.bin",
        "pytorch_model.bin",
        "scheduler.pt",
        "notes.pkl",
    ):
        (checkpoint / name).write_bytes(b"\x80\x04pickle")
    (checkpoint / "checkpoint-10").mkdir()
    (checkpoint / "checkpoint-10" / "optimizer.pt").write_bytes(b"\x80\x04pickle")
    (checkpoint / "eval_results.json").write_text('{"average_mAP": 0.5}')
    push_to_hub(checkpoint, "tester/clean", token=TOKEN)
    assert _remote_files(online, "tester/clean") == {
        "config.json",
        "model.safetensors",
        "README.md",
        "eval_results.json",
    }
    assert [p.name for p in checkpoint_files(checkpoint, ignore_patterns="eval_*")] == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]


def test_config_json_is_validated_before_anything_is_created(online, checkpoint):
    config = json.loads((checkpoint / "config.json").read_text())
    (checkpoint / "config.json").write_text(json.dumps({**config, "kernel_size": 4}))
    with pytest.raises(ValueError, match=r"config.json: not a valid 'tiny_detector' configuration .*kernel_size"):
        push_to_hub(checkpoint, "tester/bad-config", token=TOKEN)
    (checkpoint / "config.json").write_text('{"model_type": "tiny_detector", "model_type": "other"}')
    with pytest.raises(ValueError, match="config.json: duplicate key 'model_type'"):
        push_to_hub(checkpoint, "tester/bad-config", token=TOKEN)
    (checkpoint / "config.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match='config.json: expected a JSON object with a string "model_type"'):
        push_to_hub(checkpoint, "tester/bad-config", token=TOKEN)
    assert ("model", "tester/bad-config") not in online.repos


def _forge_header(path, edit):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    new_header, body = edit(header, data[8 + n :])
    raw = json.dumps(new_header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


def first(header):
    """The first tensor entry of a safetensors header."""
    return next(k for k in header if k != "__metadata__")


@pytest.mark.parametrize(
    "case, message",
    [
        ("huge_length", "header length .* exceeds the file"),
        ("offsets_past_the_data", "describes .* bytes of tensor data, the file holds"),
        ("pickle_dtype", "dtype 'OBJECT' is not one of"),
        ("shape_mismatch", "do not hold shape"),
        ("truncated", "shorter than its 8-byte header length"),
    ],
)
def test_safetensors_headers_are_validated(online, checkpoint, case, message):
    weights = checkpoint / "model.safetensors"
    if case == "huge_length":
        weights.write_bytes(struct.pack("<Q", 2**60) + weights.read_bytes()[8:])
    elif case == "truncated":
        weights.write_bytes(b"\x01\x02")
    elif case == "offsets_past_the_data":
        _forge_header(weights, lambda h, body: (h, body[:-4]))
    elif case == "pickle_dtype":
        _forge_header(weights, lambda h, body: ({**h, first(h): {**h[first(h)], "dtype": "OBJECT"}}, body))
    elif case == "shape_mismatch":
        _forge_header(weights, lambda h, body: ({**h, first(h): {**h[first(h)], "shape": [10**6]}}, body))
    with pytest.raises(ValueError, match=message):
        push_to_hub(checkpoint, "tester/bad-weights", token=TOKEN)
    assert ("model", "tester/bad-weights") not in online.repos


def test_a_folder_without_safetensors_is_refused(online, checkpoint):
    (checkpoint / "model.safetensors").rename(checkpoint / "pytorch_model.bin")
    with pytest.raises(ValueError, match="no .safetensors weights to upload"):
        push_to_hub(checkpoint, "tester/pickles-only", token=TOKEN)


def test_invalid_repo_id_is_refused_before_the_network(checkpoint):
    with pytest.raises(ValueError, match="invalid repo id 'a/b/c'"):
        push_to_hub(checkpoint, "a/b/c", token=TOKEN)


# --- model.push_to_hub: PushToHubMixin's contract ---------------------------------------------------------------
def test_model_push_to_hub_has_the_mixin_signature():
    import inspect

    from transformers.utils.hub import PushToHubMixin

    ours = inspect.signature(TinyDetectorForTemporalLocalization.push_to_hub)
    theirs = inspect.signature(PushToHubMixin.push_to_hub)
    assert list(ours.parameters) == list(theirs.parameters)
    assert all(
        ours.parameters[n].kind == p.kind and ours.parameters[n].default == p.default
        for n, p in theirs.parameters.items()
    )
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig())
    with pytest.raises(TypeError, match="commit_mesage"):
        model.push_to_hub("tester/typo", commit_mesage="a typo")


def test_model_push_to_hub_forwards_tags_and_keeps_an_edited_remote_card(online):
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig())
    model.push_to_hub("tester/edited", token=TOKEN, tags=["i3d"])
    card = huggingface_hub.ModelCard(online.read_file("model", "tester/edited", "README.md").decode())
    assert "i3d" in card.data.tags and "momentzoo" in card.data.tags and card.data.library_name == "transformers"
    # The user edits the card on the Hub: new text, a license of their choice, a tag of their own.
    card.text = "# My detector\n\nHand-written notes.\n"
    card.data.license = "mit"
    card.data.tags = ["mine"]
    HfApi(endpoint=online.url, token=TOKEN).upload_file(
        path_or_fileobj=str(card).encode(), path_in_repo="README.md", repo_id="tester/edited"
    )
    model.push_to_hub("tester/edited", token=TOKEN, tags=["features-i3d"])
    merged = huggingface_hub.ModelCard(online.read_file("model", "tester/edited", "README.md").decode())
    assert "Hand-written notes." in merged.text and merged.data.license == "mit"
    assert merged.data.tags[0] == "mine" and {"features-i3d", "momentzoo", "temporal-action-localization"} <= set(
        merged.data.tags
    )
    assert merged.data.library_name == "transformers"  # filled in: the user's card did not set it
