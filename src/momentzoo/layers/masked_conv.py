"""Masked 1-D convolution over `(batch, time, channels)` sequences.

Convention for every layer in `momentzoo.layers`: sequences are `(B, T, C)` (what LayerNorm, Linear and attention
want without copies) and `mask` is a `(B, T)` bool tensor, True at real steps, or `None` when no step is padding
(then no masking work is done at all). With a mask, padded steps are zeroed *before* a convolution and its output
is zeroed there *after*, so a kernel at the last real step sees the same zeros whether the sequence was padded or
not: padded and unpadded runs agree on real steps.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MaskedConv1d", "conv1d_time_major", "downsample_mask", "apply_mask"]


def downsample_mask(mask: torch.Tensor | None, stride: int) -> torch.Tensor | None:
    """Mask `(B, T)` -> `(B, ceil(T / stride))`: output step `i` is real iff input step `i * stride` is.

    This matches the output length of a convolution with kernel `stride + 1` (or 1) and padding `kernel // 2`,
    and ActionFormer's nearest-neighbour mask interpolation when `T` is divisible by `stride`.
    """
    return mask if mask is None or stride == 1 else mask[:, ::stride]


def apply_mask(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Zero the padded steps of `x` `(B, T, C)` (NaN there included); a no-op without a mask."""
    return x if mask is None else x.masked_fill(~mask[..., None], 0.0)


def conv1d_time_major(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> torch.Tensor:
    """`F.conv1d` for a `(B, T, C_in)` input, returning `(B, T', C_out)`.

    Without autograd, a contiguous `(B, T, C)` tensor is already a channels-last `(B, C, 1, T)` image, which a 2-D
    convolution reads and writes without any transpose copy (1.4-2x faster on CPU). With autograd, the channels-last
    backward is slower than transposing to `(B, C, T)` and back, so training takes the transpose route.
    """
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad):
        out = F.conv1d(x.transpose(1, 2).contiguous(), weight, bias, stride, padding, 1, groups)
        return out.transpose(1, 2).contiguous()
    out = F.conv2d(x.transpose(1, 2).unsqueeze(2), weight.unsqueeze(2), bias, (1, stride), (0, padding), 1, groups)
    return out.squeeze(2).transpose(1, 2)


class MaskedConv1d(nn.Conv1d):
    """`nn.Conv1d` (same parameters, "same" padding for an odd kernel) applied to `(B, T, C_in)` sequences.

    `forward(x, mask)` returns `(out (B, ceil(T / stride), C_out), out_mask)`; padded input steps are read as zeros
    and padded output steps are zero. `rezero_padding=False` reads padded input steps as they come (the official
    ActionFormer code, where a preceding LayerNorm's bias there leaks into the last real steps).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
        rezero_padding: bool = True,
    ):
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f"MaskedConv1d kernel_size must be a positive odd integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"MaskedConv1d stride must be >= 1, got {stride}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=bias
        )
        self.rezero_padding = rezero_padding

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(f"MaskedConv1d expects (batch, time, {self.in_channels}), got {tuple(x.shape)}")
        if self.rezero_padding and self.kernel_size[0] > 1:
            # The previous op may have left non-zero values at padded steps (e.g. a LayerNorm's bias), which a kernel
            # wider than 1 would leak into the last real steps.
            x = apply_mask(x, mask)
        out = conv1d_time_major(x, self.weight, self.bias, self.stride[0], self.padding[0], self.groups)
        out_mask = downsample_mask(mask, self.stride[0])
        return apply_mask(out, out_mask), out_mask
