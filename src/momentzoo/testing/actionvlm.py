"""A tiny ActionVLM config (tiny ActionFormer head, 2-layer Qwen2 LM, locally trained tokenizer) for tests and demos."""

from ..models.actionvlm.configuration_actionvlm import DEFAULT_SPECIAL_TOKENS, ActionVLMConfig
from ..models.actionvlm.processing_actionvlm import format_action_prompt
from .actionformer import TINY_ACTIONFORMER_HEAD
from .backbones import _qwen2_text_kwargs, tiny_tokenizer

__all__ = ["TINY_ACTIONVLM_HEAD", "TINY_CLASS_NAMES", "TINY_CLASS_DESCRIPTIONS", "tiny_actionvlm_config"]

# The tiny ActionFormer head for `ActionVLMForTemporalLocalization.from_backbones(...)`, whose input width is the
# video encoder's.
TINY_ACTIONVLM_HEAD = {key: value for key, value in TINY_ACTIONFORMER_HEAD.items() if key != "input_dim"}

TINY_CLASS_NAMES = ("open door", "close door", "throw ball")
TINY_CLASS_DESCRIPTIONS = (
    "starts with a hand on the handle of a closed door, ends with a door standing wide open.",
    "starts with a door standing wide open, ends with a hand on the handle of a closed door.",
    "starts with a ball held behind the head, ends with a ball flying away.",
)


def tiny_actionvlm_config(tokenizer=None, hidden_size: int = 32, num_layers: int = 2, **overrides) -> ActionVLMConfig:
    """A small ActionVLM (tiny ActionFormer head, 2-layer Qwen2 LM of width `hidden_size` with a locally trained
    tokenizer that already holds the special tokens, 3 classes with descriptions) for tests and demos.
    `overrides` replace any field; pass `tokenizer` (from `momentzoo.testing.tiny_tokenizer(extra_tokens=...)`)
    to share it with the caller."""
    special = tuple(overrides.get("special_tokens") or DEFAULT_SPECIAL_TOKENS)
    tokenizer = tokenizer if tokenizer is not None else tiny_tokenizer(extra_tokens=special)
    text = dict(model_type="qwen2", **_qwen2_text_kwargs(tokenizer, hidden_size, num_layers))
    values = dict(
        TINY_ACTIONFORMER_HEAD,
        id2label=dict(enumerate(TINY_CLASS_NAMES)),
        class_descriptions=list(TINY_CLASS_DESCRIPTIONS),
        text_config=text,
        lora_rank=4,
        lora_alpha=8,
        lora_dropout=0.0,
    )
    values.update(overrides)
    config = ActionVLMConfig(**values)
    config.special_token_ids = [tokenizer.convert_tokens_to_ids(t) for t in config.special_tokens]
    prompt = format_action_prompt(
        config.class_names, config.class_descriptions, config.prompt_template, config.action_template
    )
    config.prompt_token_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return config
