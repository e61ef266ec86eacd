"""Pushing checkpoints to the Hugging Face Hub with their model cards.

    push_to_hub("ckpt", "org/actionformer-thumos14")   # a folder saved with save_pretrained

Models inherit `MomentzooModelCardMixin` so that `save_pretrained` writes the card and `push_to_hub` uploads it.
Cards are rendered by `momentzoo.model_cards` (re-exported here). Like transformers' `utils.hub`, this module sits
below the models (which inherit the mixin): it depends only on `momentzoo.model_cards`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi

from .model_cards import (
    MODEL_CARDS_DIR,
    TASK_TAGS,
    as_list,
    model_card_template,
    model_task,
    render_model_card,
    save_model_card,
)

__all__ = [
    "MODEL_CARDS_DIR",
    "TASK_TAGS",
    "MomentzooModelCardMixin",
    "model_card_template",
    "model_task",
    "render_model_card",
    "save_model_card",
    "push_to_hub",
]


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

    When the folder has no `README.md`, or `card_kwargs` is given, the card is rendered from the folder's
    `config.json` (with `model_id=repo_id`) and written there first. Returns the `CommitInfo` of the upload.
    `endpoint` defaults to `HF_ENDPOINT`.
    """
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise ValueError(f"{folder} is not a saved checkpoint: it has no config.json (save it with save_pretrained)")
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise ValueError(f"repo_id must be a non-empty string like 'org/name', got {repo_id!r}")
    card = None
    if card_kwargs is not None or not (folder / "README.md").is_file():
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(folder)
        card = {"model_id": repo_id, "num_parameters": _count_saved_parameters(folder), **(card_kwargs or {})}
        render_model_card(config, **card)  # bad card input fails here, before anything is created on the Hub
    api = HfApi(endpoint=endpoint, token=token)
    resolved_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id  # namespace included
    if card is not None:
        if card["model_id"] == repo_id:
            card["model_id"] = resolved_id
        save_model_card(config, folder, **card)
    return api.upload_folder(
        repo_id=resolved_id,
        folder_path=folder,
        commit_message=commit_message,
        commit_description=commit_description,
        revision=revision,
        create_pr=create_pr,
        ignore_patterns=as_list(ignore_patterns) or None,
    )


_push_folder = push_to_hub  # the mixin's methods shadow the name `push_to_hub`


class MomentzooModelCardMixin:
    """Mixed into a momentzoo `PreTrainedModel` (before it in the bases): `save_pretrained` also writes the model
    card as `README.md`, and `push_to_hub` uploads the saved folder with that card (rather than transformers'
    generic one). A model supplies card fields (base models, citation...) by overriding `card_kwargs_from_config`."""

    @classmethod
    def card_kwargs_from_config(cls, config) -> dict[str, Any]:
        """Extra keyword arguments for `render_model_card` (e.g. `base_model` from a backbone's config), from the
        config alone, so that a preset's card renders without building the model (`momentzoo cards`)."""
        return {}

    def model_card_kwargs(self) -> dict[str, Any]:
        """`card_kwargs_from_config(self.config)`."""
        return self.card_kwargs_from_config(self.config)

    def save_pretrained(self, save_directory, is_main_process: bool = True, *args, push_to_hub: bool = False,
                        **kwargs):
        hub_kwargs = {k: kwargs.pop(k) for k in ("repo_id", "private", "commit_message", "commit_description",
                                                 "create_pr", "revision") if k in kwargs}
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
        commit_message: str | None = None,
        commit_description: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        max_shard_size: int | str | None = "50GB",
        **card_kwargs: Any,
    ):
        """Save the model to a temporary folder and upload it to `repo_id` with its card; `card_kwargs` go to
        `render_model_card` (`datasets`, `results`, `tags`, `citation`...). Returns the `CommitInfo`."""
        with tempfile.TemporaryDirectory() as tmp:
            self.save_pretrained(tmp, max_shard_size=max_shard_size)  # its card is re-rendered with the repo id
            return _push_folder(
                tmp, repo_id, token=token, private=private, revision=revision, create_pr=create_pr,
                commit_message=commit_message or "Upload momentzoo checkpoint", commit_description=commit_description,
                card_kwargs={**self.model_card_kwargs(), **card_kwargs},
            )
