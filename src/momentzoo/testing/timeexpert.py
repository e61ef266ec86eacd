"""Tiny TimeExpert for tests, the benchmark and the example's synthetic config: a 2-layer Qwen2-like LM built from a
config with a locally trained tokenizer (holding `<sync>` and the video placeholder), pre-extracted frame features
or a tiny CLIP vision tower, and a handful of experts."""

from transformers import Qwen2Config, Qwen2ForCausalLM

from ..models.timeexpert import TimeExpertConfig, TimeExpertMoE
from ..models.timeexpert.processing_timeexpert import SYNC_TOKEN, VIDEO_PLACEHOLDER
from .backbones import _qwen2_text_kwargs, tiny_clip, tiny_tokenizer

__all__ = ["tiny_timeexpert", "tiny_timeexpert_config", "tiny_timeexpert_tokenizer"]

_CORPUS = [
    "find the moment: a person opens the door.",
    "describe every event of the video with its start and end.",
    "rate how well each clip matches: the square moves to the right.",
    "what happens in the video? a person is closing a laptop on the table.",
    "person takes a cup, drinks from it, then puts it down; the square grows bigger and shrinks.",
]


def tiny_timeexpert_tokenizer(corpus=None):
    """A byte-level BPE tokenizer trained locally, with Qwen's special tokens plus `<sync>`."""
    return tiny_tokenizer(vocab_size=384, extra_tokens=(SYNC_TOKEN,), corpus=(corpus or _CORPUS) * 4)


def tiny_timeexpert_config(
    tokenizer=None, hidden_size: int = 32, num_layers: int = 2, vision: bool = False, **overrides
) -> TimeExpertConfig:
    """A small TimeExpert config: `num_layers` Qwen2 layers of width `hidden_size`, 4 routed experts of width 32 and
    one shared expert per layer, 2 visual tokens per frame from 16-d patch features (or a tiny CLIP vision tower
    with `vision=True`). `overrides` replace any field."""
    tokenizer = tokenizer if tokenizer is not None else tiny_timeexpert_tokenizer()
    text = dict(model_type="qwen2", **_qwen2_text_kwargs(tokenizer, hidden_size, num_layers))
    values = dict(
        text_config=text,
        vision_feature_dim=16,
        num_visual_tokens_per_frame=2,
        num_experts=4,
        expert_intermediate_size=32,
        num_shared_experts=1,
        max_experts_per_layer=8,
        expert_update_interval=10,
        video_token_id=tokenizer.convert_tokens_to_ids(VIDEO_PLACEHOLDER),
        sync_token_id=tokenizer.convert_tokens_to_ids(SYNC_TOKEN),
    )
    if vision:
        values["vision_config"] = tiny_clip(tokenizer=tokenizer)[0].config.vision_config.to_dict()
        values["vision_config"]["model_type"] = "clip_vision_model"
        values.pop("vision_feature_dim")
    values.update(overrides)
    return TimeExpertConfig(**values)


def tiny_timeexpert(hidden_size: int = 32, num_layers: int = 2, upcycle: bool = True, **overrides):
    """(model, tokenizer): a tiny TimeExpert. `upcycle=True` builds it with `from_backbones` from a tiny dense Qwen2
    (every expert a copy of the dense FFN), otherwise from the config with random experts."""
    tokenizer = tiny_timeexpert_tokenizer()
    if not upcycle:
        model = TimeExpertMoE(tiny_timeexpert_config(tokenizer, hidden_size, num_layers, **overrides))
        model.tokenizer = tokenizer
        return model, tokenizer
    config = tiny_timeexpert_config(tokenizer, hidden_size, num_layers, **overrides)
    text = dict(
        _qwen2_text_kwargs(tokenizer, hidden_size, num_layers), intermediate_size=config.expert_intermediate_size
    )
    dense = Qwen2ForCausalLM(Qwen2Config(**text))
    keep = {k: v for k, v in overrides.items() if k not in ("text_config", "video_token_id", "sync_token_id")}
    keep.setdefault("vision_feature_dim", config.vision_feature_dim)
    for name in (
        "num_visual_tokens_per_frame",
        "num_experts",
        "num_shared_experts",
        "max_experts_per_layer",
        "expert_update_interval",
    ):
        keep.setdefault(name, getattr(config, name))
    model = TimeExpertMoE.from_backbones(dense, tokenizer=tokenizer, **keep)
    return model, tokenizer
