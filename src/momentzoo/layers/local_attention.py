"""Masked local (sliding-window) multi-head self-attention over time, as in ActionFormer.

Each step attends to the steps within `window_size // 2` of it that are real (mask True). The banded score matrix
is computed block by block: queries are cut into blocks of `block_size` steps and each block is multiplied with
the `block_size + window_size - 1` keys around it, so the cost is linear in `T` and everything is one batched
matmul (no Python loop over time, no custom kernels). Any `T` works: no divisibility constraint.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .masked_conv import MaskedConv1d, apply_mask, conv1d_time_major, downsample_mask

__all__ = ["local_masked_attention", "LocalMaskedMultiHeadConvAttention"]


def local_masked_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    key_mask: torch.Tensor,
    window_size: int,
    block_size: int = 32,
    dropout_p: float = 0.0,
    scale: float | None = None,
) -> torch.Tensor:
    """Banded softmax attention.

    Args:
        query, key, value: `(B, H, T, d)`.
        key_mask: `(B, T)` bool, True for real steps; padded keys get no attention.
        window_size: odd; step `i` attends to keys `j` with `|i - j| <= window_size // 2`.
        block_size: queries per block (a speed knob only; the result does not depend on it).
        dropout_p: dropout on the attention probabilities (pass 0 in eval).
        scale: score scale, default `1 / sqrt(d)`.

    Returns `(B, H, T, d)`. A query whose window holds no real key gets a zero output.
    """
    if window_size < 1 or window_size % 2 != 1:
        raise ValueError(f"window_size must be a positive odd integer, got {window_size}")
    if query.ndim != 4 or key.shape != query.shape or value.shape[:-1] != query.shape[:-1]:
        raise ValueError(
            f"query/key/value must be (B, H, T, d) with matching shapes, got {tuple(query.shape)}, "
            f"{tuple(key.shape)}, {tuple(value.shape)}"
        )
    batch, heads, length, dim = query.shape
    if key_mask.shape != (batch, length):
        raise ValueError(f"key_mask must be (B, T) = {(batch, length)}, got {tuple(key_mask.shape)}")
    half = window_size // 2
    block = max(1, min(block_size, length))
    num_blocks = math.ceil(length / block)
    padded = num_blocks * block
    span = block + 2 * half  # keys seen by one query block
    scale = dim**-0.5 if scale is None else scale

    # Queries: (B, H, nb, block, d). Keys/values: padded by `half` on the left so block b's keys start at b * block.
    q = F.pad(query * scale, (0, 0, 0, padded - length)).view(batch, heads, num_blocks, block, dim)
    k = F.pad(key, (0, 0, half, padded - length + half)).unfold(2, span, block)  # (B, H, nb, d, span)
    v = F.pad(value, (0, 0, half, padded - length + half)).unfold(2, span, block).transpose(-1, -2)
    valid_key = F.pad(key_mask, (half, padded - length + half), value=False).unfold(1, span, block)  # (B, nb, span)

    # Query r of a block sits at key column r + half; the window is columns r .. r + 2 * half.
    offset = torch.arange(span, device=query.device)[None, :] - torch.arange(block, device=query.device)[:, None]
    band = (offset >= 0) & (offset <= 2 * half)  # (block, span)
    allowed = band[None, None] & valid_key[:, :, None, :]  # (B, nb, block, span)

    scores = torch.matmul(q, k)  # (B, H, nb, block, span)
    scores = scores.masked_fill(~allowed[:, None], torch.finfo(scores.dtype).min)
    probs = torch.softmax(scores.float(), dim=-1)
    # Rows with no allowed key would otherwise be uniform over padding: zero them explicitly.
    probs = probs * allowed[:, None].any(-1, keepdim=True)
    probs = probs.to(value.dtype)
    if dropout_p > 0:
        probs = F.dropout(probs, p=dropout_p, training=True)
    out = torch.matmul(probs, v)  # (B, H, nb, block, d)
    return out.reshape(batch, heads, padded, dim)[:, :, :length]


class LocalMaskedMultiHeadConvAttention(nn.Module):
    """ActionFormer's local multi-head *conv* attention (`LocalMaskedMHCA`) on `(B, T, C)` sequences.

    Queries, keys and values first go through a depthwise masked conv (kernel 3, or `stride + 1` with `stride > 1`,
    which both encodes relative position and downsamples) and a LayerNorm, then linear projections, then windowed
    attention, then an output projection. `forward(x, mask)` returns `(out (B, ceil(T / stride), C), out_mask)`;
    padded output steps are zero. `rezero_padding=False` lets the depthwise convs read padded input steps as they come
    (the official code: a preceding LayerNorm's bias there leaks into the last real steps).
    """

    def __init__(
        self,
        hidden_size: int,
        num_heads: int,
        window_size: int,
        stride: int = 1,
        attention_dropout: float = 0.0,
        projection_dropout: float = 0.0,
        block_size: int = 32,
        rezero_padding: bool = True,
    ):
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})")
        if window_size < 3 or window_size % 2 != 1:
            raise ValueError(f"window_size must be an odd integer >= 3, got {window_size}")
        if stride != 1 and (stride < 1 or stride % 2 != 0):
            raise ValueError(f"stride must be 1 or an even integer, got {stride}")
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.window_size = window_size
        self.stride = stride
        self.attention_dropout = attention_dropout
        self.block_size = block_size
        self.rezero_padding = rezero_padding

        kernel_size = stride + 1 if stride > 1 else 3
        self.query_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.key_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.value_conv = MaskedConv1d(hidden_size, hidden_size, kernel_size, stride, groups=hidden_size, bias=False)
        self.query_norm = nn.LayerNorm(hidden_size)
        self.key_norm = nn.LayerNorm(hidden_size)
        self.value_norm = nn.LayerNorm(hidden_size)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.proj_dropout = nn.Dropout(projection_dropout)

    def _depthwise_qkv(self, x: torch.Tensor, mask: torch.Tensor | None):
        # Mask the shared input once; three separate depthwise convs leave q, k, v contiguous for their LayerNorms
        # (a fused 3-output grouped conv interleaves them and ends up slower).
        if self.rezero_padding:
            x = apply_mask(x, mask)
        q, k, v = (
            conv1d_time_major(x, conv.weight, None, conv.stride[0], conv.padding[0], conv.groups)
            for conv in (self.query_conv, self.key_conv, self.value_conv)
        )
        return q, k, v, downsample_mask(mask, self.stride)

    def _heads(self, x: torch.Tensor, norm: nn.LayerNorm, linear: nn.Linear) -> torch.Tensor:
        # (B, T, C) -> LayerNorm -> projection -> (B, H, T, d)
        batch, length, _ = x.shape
        return linear(norm(x)).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        q, k, v, out_mask = self._depthwise_qkv(x, mask)
        # Conv outputs at padded steps are not re-zeroed (one pass saved): padded keys get no attention and
        # padded queries' outputs are zeroed at the end, so those values never reach a real step.
        q = self._heads(q, self.query_norm, self.query)
        k = self._heads(k, self.key_norm, self.key)
        v = self._heads(v, self.value_norm, self.value)
        batch, _, length, _ = q.shape
        key_mask = out_mask if out_mask is not None else torch.ones(batch, length, dtype=torch.bool, device=q.device)
        context = local_masked_attention(
            q,
            k,
            v,
            key_mask,
            self.window_size,
            block_size=self.block_size,
            dropout_p=self.attention_dropout if self.training else 0.0,
        )
        out = self.proj_dropout(self.proj(context.transpose(1, 2).reshape(batch, length, self.hidden_size)))
        return apply_mask(out, out_mask), out_mask
