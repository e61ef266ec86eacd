"""Masked 1-D convolution and channel LayerNorm over `(batch, channels, time)` tensors.

Every op here keeps padded time steps at exactly zero *before and after* the op, so a convolution at the last
real step sees the same zeros whether the sequence was padded or not: padded and unpadded runs agree on real steps.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MaskedConv1d", "ChannelLayerNorm", "downsample_mask"]


def downsample_mask(mask: torch.Tensor, stride: int) -> torch.Tensor:
    """Mask `(B, 1, T)` -> `(B, 1, ceil(T / stride))`: step `i` of the output is real iff input step `i * stride` is.

    This matches the output length of a convolution with kernel `stride + 1` (or 1), padding `kernel // 2`, and
    of ActionFormer's nearest-neighbour mask interpolation when `T` is divisible by `stride`.
    """
    return mask if stride == 1 else mask[..., ::stride]


class MaskedConv1d(nn.Conv1d):
    """`nn.Conv1d` with "same" padding (odd kernel) that zeroes padded steps of its input and output.

    `forward(x, mask)` takes `x` `(B, C_in, T)` and a boolean `mask` `(B, 1, T)` (True = real step) and returns
    `(out (B, C_out, ceil(T / stride)), out_mask)`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = True,
    ):
        if kernel_size < 1 or kernel_size % 2 != 1:
            raise ValueError(f"MaskedConv1d kernel_size must be a positive odd integer, got {kernel_size}")
        if stride < 1:
            raise ValueError(f"MaskedConv1d stride must be >= 1, got {stride}")
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, groups=groups, bias=bias
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Zero the input at padded steps: the previous op may have left non-zero values there (e.g. a LayerNorm's
        # bias), which a kernel wider than 1 would otherwise leak into the last real steps.
        if self.kernel_size[0] > 1:
            x = x * mask.to(x.dtype)
        out = super().forward(x)
        out_mask = downsample_mask(mask, self.stride[0])
        return out * out_mask.to(out.dtype), out_mask


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of a `(B, C, T)` tensor (ActionFormer's `LayerNorm`)."""

    def __init__(self, num_channels: int, eps: float = 1e-5):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[1] != self.normalized_shape[0]:
            raise ValueError(
                f"ChannelLayerNorm expects (batch, {self.normalized_shape[0]}, time), got {tuple(x.shape)}"
            )
        return F.layer_norm(x.transpose(1, 2), self.normalized_shape, self.weight, self.bias, self.eps).transpose(1, 2)
