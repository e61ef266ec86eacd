"""A tiny ActionVLM config (tiny ActionFormer head, 2-layer Qwen2 LM, locally trained tokenizer) for tests and demos."""

from ..models.actionvlm.configuration_actionvlm import DEFAULT_SPECIAL_TOKENS, ActionVLMConfig
from ..models.actionvlm.processing_actionvlm import format_action_prompt
from .backbones import tiny_tokenizer

__all__ = ["TINY_CLASS_NAMES", "TINY_CLASS_DESCRIPTIONS", "tiny_actionvlm_config"]

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
    text = dict(
        model_type="qwen2",
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    values = dict(
        input_dim=12,
        max_seq_len=64,
        hidden_size=16,
        num_attention_heads=2,
        attention_window_size=5,
        num_stem_layers=1,
        num_downsample_layers=3,
        head_hidden_size=16,
        regression_ranges=[[0, 4], [4, 8], [8, 16], [16, 10000]],
        hidden_dropout=0.0,
        drop_path_rate=0.0,
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
