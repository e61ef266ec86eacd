"""Pushing checkpoints to the Hugging Face Hub with their model cards.

    push_to_hub("ckpt", "org/actionformer-thumos14")   # a folder saved with save_pretrained

Models inherit `MomentzooModelCardMixin` so that `save_pretrained` writes the card and `push_to_hub` uploads it.
Cards are rendered by `momentzoo.model_cards` (re-exported here). Like transformers' `utils.hub`, this module sits
below the models (which inherit the mixin): it depends only on `momentzoo.model_cards`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard, ModelCardData

from .model_cards import (
    MODEL_CARDS_DIR,
    TASK_TAGS,
    as_list,
    hub_repo_id,
    model_card_template,
    model_task,
    render_model_card,
    save_model_card,
)

__all__ = [
    "CHECKPOINT_FILE_PATTERNS",
    "MODEL_CARDS_DIR",
    "TASK_TAGS",
    "MomentzooModelCardMixin",
    "hub_repo_id",
    "checkpoint_files",
    "model_card_template",
    "model_task",
    "push_to_hub",
    "render_model_card",
    "save_model_card",
    "validate_checkpoint",
]

logger = logging.getLogger(__name__)


def _count_saved_parameters(folder: Path) -> int | None:
    """Number of parameters stored in a folder's safetensors files, read from their headers (no tensor data)."""
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    total = 0
    for file in files:
        with safe_open(file, framework="pt") as f:
            for key in f.keys():
                n = 1
                for dim in f.get_slice(key).get_shape():
                    n *= dim
                total += n
    return total


# What a checkpoint needs on the Hub, at the top of the folder: weights in safetensors, JSON (configs, tokenizer and
# processor files, results), the card, tokenizer vocabularies and chat templates. Never pickles (pytorch_model.bin,
# optimizer.pt, rng_state.pth, training_args.bin), never subfolders (Trainer's checkpoint-*/).
CHECKPOINT_FILE_PATTERNS = (
    "*.safetensors",
    "*.json",
    "README.md",
    "*.txt",
    "*.jinja",
    "tokenizer.model",
    "spiece.model",
    "*.tiktoken",
)
_SAFETENSORS_DTYPES = frozenset(
    {
        "BOOL",
        "U8",
        "I8",
        "U16",
        "I16",
        "U32",
        "I32",
        "U64",
        "I64",
        "F16",
        "BF16",
        "F32",
        "F64",
        "F8_E4M3",
        "F8_E5M2",
    }
)


def checkpoint_files(folder: str | os.PathLike, ignore_patterns: str | Sequence[str] | None = None) -> list[Path]:
    """The files of `folder` that `push_to_hub` uploads: top-level files matching `CHECKPOINT_FILE_PATTERNS` (and
    none of `ignore_patterns`). A symbolic link that leaves the folder is an error (its target would be
    published); everything else is skipped with a log line."""
    import fnmatch

    folder = Path(folder)
    root = folder.resolve()
    ignored = as_list(ignore_patterns)
    files, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            raise ValueError(
                f"{path}: a symbolic link to {os.readlink(path)} outside the checkpoint folder; "
                "refusing to upload its target (copy the file in if it belongs to the checkpoint)"
            )
        name = path.name
        if (
            not path.is_file()
            or not any(fnmatch.fnmatchcase(name, p) for p in CHECKPOINT_FILE_PATTERNS)
            or any(fnmatch.fnmatchcase(name, p) for p in ignored)
        ):
            skipped.append(name + ("/" if path.is_dir() else ""))
            continue
        files.append(path)
    if skipped:
        logger.info("push_to_hub: not uploading %s (not part of a safetensors checkpoint)", ", ".join(skipped))
    return files


def _check_safetensors_header(path: Path) -> None:
    """The header of a safetensors file is well-formed and describes exactly the bytes that follow it."""
    import struct

    from .strict_json import loads_strict

    size = path.stat().st_size
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(size - 8, 100_000_000):
            raise ValueError(f"{path}: safetensors header length {header_len} exceeds the file ({size} bytes)")
        header = loads_strict(f.read(header_len), path)
    if not isinstance(header, dict):
        raise ValueError(f"{path}: safetensors header is not a JSON object")
    end = 0
    for name, entry in sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"),
        key=lambda kv: kv[1].get("data_offsets", [0])[0] if isinstance(kv[1], dict) else 0,
    ):
        if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_DTYPES:
            raise ValueError(
                f"{path}: tensor {name!r}: dtype {entry.get('dtype') if isinstance(entry, dict) else entry!r} "
                f"is not one of {sorted(_SAFETENSORS_DTYPES)}"
            )
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if (
            not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or offsets[0] != end
            or offsets[1] < offsets[0]
        ):
            raise ValueError(f"{path}: tensor {name!r}: malformed shape {shape!r} or data_offsets {offsets!r}")
        itemsize = 1 if entry["dtype"] in ("BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2") else int(entry["dtype"][-2:]) // 8
        numel = 1
        for d in shape:
            numel *= d
        if offsets[1] - offsets[0] != numel * itemsize:
            raise ValueError(
                f"{path}: tensor {name!r}: data_offsets {offsets} do not hold shape {shape} of {entry['dtype']}"
            )
        end = offsets[1]
    if 8 + header_len + end != size:
        raise ValueError(
            f"{path}: the header describes {end} bytes of tensor data, the file holds {size - 8 - header_len}"
        )


def validate_checkpoint(folder: str | os.PathLike, files: Sequence[Path]):
    """Check what is about to be published: `config.json` is a valid momentzoo config and every safetensors file
    has a sound header. Returns the config."""
    from transformers import AutoConfig

    from .strict_json import load_json_strict

    folder = Path(folder)
    config_path = folder / "config.json"
    raw = load_json_strict(config_path)
    if not isinstance(raw, dict) or not isinstance(raw.get("model_type"), str):
        raise ValueError(f'{config_path}: expected a JSON object with a string "model_type"')
    try:
        config = AutoConfig.from_pretrained(folder)
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise ValueError(f"{config_path}: not a valid {raw['model_type']!r} configuration ({err})") from None
    weights = [f for f in files if f.name.endswith(".safetensors")]
    if not weights:
        raise ValueError(f"{folder}: no .safetensors weights to upload (momentzoo publishes safetensors only)")
    for path in weights:
        _check_safetensors_header(path)
    for path in files:
        if path.name.endswith(".json") and path.name != "config.json":
            load_json_strict(path)  # a JSON file that would not load on the other side fails here
    return config


def push_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    token: str | bool | None = None,
    private: bool | None = None,
    revision: str | None = None,
    commit_message: str = "Upload momentzoo checkpoint",
    commit_description: str | None = None,
    create_pr: bool = False,
    card_kwargs: Mapping[str, Any] | None = None,
    ignore_patterns: str | Sequence[str] | None = None,
    endpoint: str | None = None,
):
    """Upload a checkpoint folder saved with `save_pretrained` to the Hub repo `repo_id` (created if needed).

    Only what a checkpoint needs is uploaded (`checkpoint_files`: safetensors, JSON, card, tokenizer files; no
    pickles, no subfolders), after `validate_checkpoint` has checked `config.json` and the safetensors headers.
    When the folder has no `README.md`, or `card_kwargs` is given, the card is rendered from the folder's
    `config.json` (with `model_id=repo_id`) and written there first. Returns the `CommitInfo` of the upload.
    `endpoint` defaults to `HF_ENDPOINT`.
    """
    from huggingface_hub import CommitOperationAdd

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such checkpoint folder")
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a saved checkpoint: it has no config.json (save it with save_pretrained)")
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise ValueError(f"repo_id must be a non-empty string like 'org/name', got {repo_id!r}")
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise ValueError(f"invalid repo id {repo_id!r}: {err}") from None
    files = checkpoint_files(folder, ignore_patterns)
    config = validate_checkpoint(folder, files)
    card = None
    if card_kwargs is not None or not (folder / "README.md").is_file():
        card = {"model_id": repo_id, "num_parameters": _count_saved_parameters(folder), **(card_kwargs or {})}
        render_model_card(config, **card)  # bad card input fails here, before anything is created on the Hub
    api = HfApi(endpoint=endpoint, token=token)
    resolved_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id  # namespace included
    if card is not None:
        if card["model_id"] == repo_id:
            card["model_id"] = resolved_id
        readme = save_model_card(config, folder, **card)
        if readme not in files:
            files.append(readme)
    operations = [CommitOperationAdd(path_in_repo=path.name, path_or_fileobj=str(path)) for path in files]
    return api.create_commit(
        resolved_id,
        operations,
        commit_message=commit_message,
        commit_description=commit_description,
        revision=revision,
        create_pr=create_pr,
    )


_push_folder = push_to_hub  # the mixin's methods shadow the name `push_to_hub`


def _check_stored_dtypes(model, source: str) -> None:
    """A floating weight stored as integers or booleans in a local checkpoint's safetensors is an error."""
    from safetensors import safe_open

    folder = Path(source)
    if not folder.is_dir():
        return
    params = model.state_dict()
    wrong = []
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(file, framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                dtype = f.get_slice(key).get_dtype()
                if key in params and params[key].is_floating_point() and not dtype.startswith(("F", "BF")):
                    wrong.append(f"{key} ({dtype})")
    if wrong:
        raise ValueError(f"{source}: floating weight(s) stored with a non-floating dtype: {wrong[:10]}")


class MomentzooModelCardMixin:
    """Mixed into a momentzoo `PreTrainedModel` (before it in the bases): `save_pretrained` also writes the model
    card as `README.md`, and `push_to_hub` uploads the saved folder with that card (rather than transformers'
    generic one). A model supplies card fields (base models, citation...) by overriding `card_kwargs_from_config`."""

    @classmethod
    def card_kwargs_from_config(cls, config) -> dict[str, Any]:
        """Extra keyword arguments for `render_model_card` (e.g. `base_model` from a backbone's config), from the
        config alone, so that a preset's card renders without building the model (`momentzoo cards`)."""
        return {}

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, **kwargs):
        """transformers' `from_pretrained`, strict about the weights: a checkpoint that lacks weights of the model
        (they would stay randomly initialised), stores a floating weight as integers or booleans, or holds NaN or
        infinite values is a `ValueError` naming the checkpoint and the weights, not a log line."""
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True, **kwargs)
        source = os.fspath(pretrained_model_name_or_path)
        missing = sorted(set(info.get("missing_keys") or ()) - model.weights_loaded_separately())
        if missing:
            raise ValueError(
                f"{source}: the checkpoint lacks {len(missing)} weight(s) of {cls.__name__} (they would "
                f"stay randomly initialised): {missing[:10]}{' ...' if len(missing) > 10 else ''}"
            )
        _check_stored_dtypes(model, source)
        bad = [
            name
            for name, tensor in model.state_dict().items()
            if tensor.is_floating_point() and not bool(tensor.isfinite().all())
        ]
        if bad:
            raise ValueError(f"{source}: NaN or infinite values in {len(bad)} weight(s): {bad[:10]}")
        return (model, info) if want_info else model

    def weights_loaded_separately(self) -> set[str]:
        """Weights the model loads from elsewhere once `from_pretrained` has read the checkpoint (ActionVLM's frozen
        LM of an adapter-only checkpoint): absent from the checkpoint by design, not missing."""
        return set()

    def model_card_kwargs(self) -> dict[str, Any]:
        """`card_kwargs_from_config(self.config)`."""
        return self.card_kwargs_from_config(self.config)

    def save_pretrained(self, save_directory, is_main_process: bool = True, *args, push_to_hub: bool = False, **kwargs):
        hub_kwargs = {
            k: kwargs.pop(k)
            for k in ("repo_id", "private", "commit_message", "commit_description", "create_pr", "revision")
            if k in kwargs
        }
        result = super().save_pretrained(save_directory, is_main_process, *args, **kwargs)
        if not is_main_process:
            return result
        card_kwargs = {"model_id": hub_kwargs.get("repo_id") or str(save_directory), **self.model_card_kwargs()}
        save_model_card(self, save_directory, **card_kwargs)
        if push_to_hub:
            # Re-rendered by _push_folder with the repo id the Hub resolved (namespace included).
            repo_id = hub_kwargs.pop("repo_id", None) or Path(save_directory).name
            card_kwargs.pop("model_id")
            _push_folder(save_directory, repo_id, token=kwargs.get("token"), card_kwargs=card_kwargs, **hub_kwargs)
        return result

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: bool | str | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        tags: list[str] | None = None,
    ):
        """`PushToHubMixin.push_to_hub` with the momentzoo card: save the model to a temporary folder and upload it
        to `repo_id`. The card is rendered with `model_card_kwargs()` plus `tags`; when the repo already has a card
        (perhaps edited on the Hub) it is kept and only gains the missing tags and metadata. Returns the
        `CommitInfo`."""
        card_kwargs = dict(self.model_card_kwargs())
        if tags:
            card_kwargs["tags"] = [*as_list(card_kwargs.get("tags")), *as_list(tags)]
        api = HfApi(token=token)
        resolved_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp, max_shard_size=max_shard_size)
            remote = _remote_card(api, resolved_id, revision=revision)
            if remote is not None:
                card_kwargs["num_parameters"] = self.num_parameters()
                ours = render_model_card(self, model_id=resolved_id, **card_kwargs)
                _merge_card(remote, ours).save(Path(tmp) / "README.md")
                card_kwargs = None  # upload the merged card as it is
            return _push_folder(
                tmp,
                resolved_id,
                token=token,
                private=private,
                revision=revision,
                create_pr=create_pr,
                commit_message=commit_message or "Upload momentzoo checkpoint",
                commit_description=commit_description,
                card_kwargs=card_kwargs,
            )


def _remote_card(api: HfApi, repo_id: str, revision: str | None = None) -> ModelCard | None:
    """The repo's README.md as a card, or None when it has none (or the branch does not exist yet)."""
    from huggingface_hub.errors import RemoteEntryNotFoundError, RevisionNotFoundError

    try:  # a connection error propagates: never overwrite a card we could not read
        path = api.hf_hub_download(repo_id, "README.md", revision=revision)
    except (RemoteEntryNotFoundError, RevisionNotFoundError):
        return None
    return ModelCard.load(path)


def _merge_card(remote: ModelCard, ours: ModelCard) -> ModelCard:
    """The remote card's text and metadata, plus our tags and any metadata field it lacks (a user's edits win)."""
    data = remote.data.to_dict()
    for key, value in ours.data.to_dict().items():
        if key == "tags":
            data["tags"] = list(dict.fromkeys([*as_list(data.get("tags")), *as_list(value)]))
        elif data.get(key) in (None, [], {}):
            data[key] = value
    merged = ModelCard(remote.content)
    merged.data = ModelCardData(**data)
    return merged
