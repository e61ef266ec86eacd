"""Helpers for the pretrained backbones inside momentzoo models: their image statistics (shared with the feature
extractor), the tokenizer a model keeps beside its weights (ActionVLM's and TimeExpert's LM tokenizers, PSFTR's CLIP
tokenizer), the causal LM that ActionVLM and TimeExpert are built on and the CLIP text tower's config (PSFTR's
and MLLM4WTAL's text encoders)."""

from __future__ import annotations

import os

__all__ = [
    "CLIP_TEXT_MODEL_ID",
    "clip_text_config",
    "clip_text_states",
    "saved_preprocessor_dict",
    "save_tokenizer",
    "load_saved_tokenizer",
    "load_causal_lm",
]

CLIP_TEXT_MODEL_ID = "openai/clip-vit-base-patch16"
# The text tower of CLIP ViT-B/16 (its `text_config`, with the joint-space projection of 512).
_CLIP_VIT_B16_TEXT = {
    "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
    "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
    "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1,
}  # fmt: skip
_CLIP_TEXT_MODEL_TYPES = ("clip_text_model",)


def clip_text_config(value, checks):
    """A config's `text_config` field: None (CLIP ViT-B/16's text tower), a dict (its `model_type` defaults to
    "clip_text_model") or a `CLIPTextConfig`; anything else fails through `checks` (the owner's
    `ConfigFieldChecks`, so the error names its config and field)."""
    from transformers import AutoConfig, CLIPTextConfig, PreTrainedConfig

    if value is None:
        config = CLIPTextConfig(**_CLIP_VIT_B16_TEXT)
    elif isinstance(value, dict):
        values = dict(value)
        model_type = values.pop("model_type", "clip_text_model")
        checks.choice("text_config['model_type']", model_type, _CLIP_TEXT_MODEL_TYPES)
        config = AutoConfig.for_model(model_type, **values)
    elif isinstance(value, PreTrainedConfig):
        config = value
    else:
        checks.fail("text_config", "None, a dict or a CLIPTextConfig", value)
    checks.choice("text_config.model_type", config.model_type, _CLIP_TEXT_MODEL_TYPES)
    return config


def clip_text_states(text_model, input_ids, attention_mask):
    """`(last hidden states (B, L, H), pooled (B, H))` of a `CLIPTextModel` on right-padded token rows that end with
    the end-of-text token: the pooled state is the one at each row's last real token, as CLIP pools at its EOS. This
    avoids CLIP's legacy rule (config `eos_token_id == 2`: pool at the highest token id), which on other tokenizers
    pools two different texts at the same shared prefix word."""
    import torch

    hidden = text_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    last = attention_mask.sum(1) - 1
    return hidden, hidden[torch.arange(len(hidden), device=hidden.device), last]


def saved_preprocessor_dict(name_or_path: str) -> dict | None:
    """The checkpoint's saved `preprocessor_config.json` as a dict, read as JSON (no processor is built); None when
    it has none."""
    from transformers.image_processing_utils import ImageProcessingMixin

    try:
        config, _ = ImageProcessingMixin.get_image_processor_dict(name_or_path)
    except OSError:
        return None
    return config


def save_tokenizer(tokenizer, save_directory, args: tuple, kwargs: dict) -> None:
    """Write `tokenizer` (if any) into `save_directory` from the main process only; `args` / `kwargs` are those of
    `save_pretrained(save_directory, is_main_process=True, ...)` (positional or keyword). Called before the weights
    are saved: with `push_to_hub=True` the folder is uploaded inside transformers' `save_pretrained`."""
    if tokenizer is not None and kwargs.get("is_main_process", args[0] if args else True):
        os.makedirs(save_directory, exist_ok=True)
        tokenizer.save_pretrained(save_directory)


def load_saved_tokenizer(pretrained_model_name_or_path, kwargs: dict):
    """The tokenizer saved beside a checkpoint (a local folder or a Hub repo; `kwargs` of `from_pretrained` give the
    cache, revision, token...), or None when the checkpoint has none."""
    from transformers import AutoTokenizer
    from transformers.utils import cached_file

    if pretrained_model_name_or_path is None:
        return None
    hub = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only", "subfolder") if k in kwargs}
    path = str(pretrained_model_name_or_path)
    if not cached_file(
        path,
        "tokenizer_config.json",
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=True,  # a Hub that cannot be reached is an error, not "no tokenizer"
        **hub,
    ):
        return None
    return AutoTokenizer.from_pretrained(path, **hub)


# The suffix a VLM's extracted text model carries in its `_name_or_path` (cards strip it to name the checkpoint).
TEXT_MODEL_SUFFIX = " (text model)"


def load_causal_lm(name_or_model, dtype=None, **kwargs):
    """A causal LM from an instance, a hub id or a path. A vision-language checkpoint (e.g. InternVL3-hf) gives
    its text model: decoder and LM head copied into the `AutoModelForCausalLM` of its text config."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, PreTrainedModel

    if isinstance(name_or_model, PreTrainedModel):
        return name_or_model
    if not isinstance(name_or_model, (str, os.PathLike)):
        raise ValueError(
            f"language_model must be a PreTrainedModel, a hub id or a path, got {type(name_or_model).__name__}"
        )
    load_kwargs = dict(kwargs, **({"dtype": dtype} if dtype is not None else {}))
    try:
        return AutoModelForCausalLM.from_pretrained(name_or_model, **load_kwargs)
    except ValueError as error:
        if "Unrecognized configuration class" not in str(error):
            raise
    composite = AutoModelForImageTextToText.from_pretrained(name_or_model, **load_kwargs)
    text_config = composite.config.get_text_config()
    lm = AutoModelForCausalLM.from_config(text_config, dtype=dtype or composite.dtype)
    lm.get_decoder().load_state_dict(composite.get_decoder().state_dict())
    lm.get_output_embeddings().load_state_dict(composite.get_output_embeddings().state_dict())
    lm.config._name_or_path = f"{name_or_model}{TEXT_MODEL_SUFFIX}"
    return lm.eval()
