"""ActionFormer's pre-LN transformer block over `(B, T, C)` sequences with local attention and optional
downsampling."""

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer

from .local_attention import LocalMaskedMultiHeadConvAttention
from .masked_conv import apply_mask

__all__ = ["drop_path", "AffineDropPath", "MaskedTransformerBlock"]


def drop_path(x: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop the whole residual branch of a sample with probability `drop_prob`."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    return x * torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)


class AffineDropPath(nn.Module):
    """Per-channel learnable scale of a residual branch (LayerScale, initialised to `init_value`) followed by
    stochastic depth, on `(B, T, C)`; `init_value=None` leaves out the scale (plain drop path)."""

    def __init__(self, num_channels: int, drop_prob: float = 0.0, init_value: float | None = 1e-4):
        super().__init__()
        self.drop_prob = drop_prob
        self.init_value = init_value
        self.scale = nn.Parameter(torch.full((num_channels,), float(init_value))) if init_value is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is not None:
            x = x * self.scale
        return drop_path(x, self.drop_prob, self.training)


class MaskedTransformerBlock(GradientCheckpointingLayer):
    """Pre-LN block: `x' = skip(x) + DropPath(Attn(LN(x)))`, `out = x' + DropPath(MLP(LN(x')))`, masked throughout.

    With `stride > 1` the attention's depthwise convs downsample queries/keys/values and the skip path is a
    max-pool (kernel `stride + 1`) over real steps only. `forward(x (B, T, C), mask (B, T) bool or None)` returns
    `(out (B, ceil(T / stride), C), out_mask)`; padded steps of `out` are exactly zero. `rezero_padding=False` is the
    official code's padding: the attention's convs read `norm1`'s output at padded steps (its bias) and the skip
    max-pool reads their zeros, so both reach the last real steps.
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        window_size: int,
        stride: int = 1,
        mlp_ratio: int = 4,
        hidden_act: str = "gelu",
        attention_dropout: float = 0.0,
        hidden_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-4,
        attention_block_size: int = 32,
        rezero_padding: bool = True,
    ):
        super().__init__()
        self.stride = stride
        self.rezero_padding = rezero_padding
        self.norm1 = nn.LayerNorm(hidden_size)
        self.attn = LocalMaskedMultiHeadConvAttention(
            hidden_size,
            num_heads,
            window_size,
            stride=stride,
            attention_dropout=attention_dropout,
            projection_dropout=hidden_dropout,
            block_size=attention_block_size,
            rezero_padding=rezero_padding,
        )
        self.norm2 = nn.LayerNorm(hidden_size)
        # ActionFormer's MLP is two 1x1 convs: per-step linear layers.
        self.mlp_in = nn.Linear(hidden_size, mlp_ratio * hidden_size)
        self.act = ACT2FN[hidden_act]
        self.mlp_out = nn.Linear(mlp_ratio * hidden_size, hidden_size)
        self.mlp_dropout = nn.Dropout(hidden_dropout)
        self.drop_path_attn = AffineDropPath(hidden_size, drop_path_rate, layer_scale_init_value)
        self.drop_path_mlp = AffineDropPath(hidden_size, drop_path_rate, layer_scale_init_value)

    def _skip(self, x: torch.Tensor, mask: torch.Tensor | None, out_mask: torch.Tensor | None) -> torch.Tensor:
        if self.stride == 1:
            return apply_mask(x, mask)
        if mask is not None and self.rezero_padding:  # max over real steps only, so a padded run pools exactly like an unpadded one
            x = x.masked_fill(~mask[..., None], float("-inf"))
        pooled = F.max_pool1d(x.transpose(1, 2), self.stride + 1, self.stride, (self.stride + 1) // 2).transpose(1, 2)
        return pooled if out_mask is None else pooled.masked_fill(~out_mask[..., None], 0.0)

    def forward(
        self, hidden_states: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, out_mask = self.attn(self.norm1(hidden_states), mask)
        out = self._skip(hidden_states, mask, out_mask) + self.drop_path_attn(attn_out)
        mlp = self.mlp_dropout(self.mlp_out(self.mlp_dropout(self.act(self.mlp_in(self.norm2(out))))))
        return out + self.drop_path_mlp(apply_mask(mlp, out_mask)), out_mask
