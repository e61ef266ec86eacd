"""A tiny ActionFormer config for tests and demos."""

from ..models.actionformer.configuration_actionformer import ActionFormerConfig

__all__ = ["TINY_ACTIONFORMER_HEAD", "tiny_actionformer_config"]

# A 4-level ActionFormer of width 16 on 12-d features (also the detection head of the tiny ActionVLM).
TINY_ACTIONFORMER_HEAD = dict(
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
)


def tiny_actionformer_config(**overrides) -> ActionFormerConfig:
    """A small ActionFormer (4 levels, width 16, 3 classes) that runs in milliseconds on a CPU, for tests and
    demos; `overrides` replace any field."""
    values = dict(TINY_ACTIONFORMER_HEAD, num_classes=3)
    values.update(overrides)
    return ActionFormerConfig(**values)
