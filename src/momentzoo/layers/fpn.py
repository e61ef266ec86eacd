"""Identity feature pyramid neck: one channel LayerNorm per pyramid level (ActionFormer's `FPNIdentity`)."""

import torch
from torch import nn

from .masked_conv import ChannelLayerNorm

__all__ = ["IdentityFPN"]


class IdentityFPN(nn.Module):
    """Passes each level's `(B, C, T_l)` features through its own LayerNorm (or nothing with `with_ln=False`)
    and re-zeroes padded steps (a LayerNorm maps zeros to its bias); masks pass through unchanged."""

    def __init__(self, num_levels: int, hidden_size: int, with_ln: bool = True):
        super().__init__()
        self.num_levels = num_levels
        self.norms = nn.ModuleList(ChannelLayerNorm(hidden_size) if with_ln else nn.Identity() for _ in range(num_levels))

    def forward(
        self, features: list[torch.Tensor], masks: list[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if len(features) != self.num_levels or len(masks) != self.num_levels:
            raise ValueError(
                f"IdentityFPN expects {self.num_levels} levels, got {len(features)} features and {len(masks)} masks"
            )
        return [norm(x) * m.to(x.dtype) for norm, x, m in zip(self.norms, features, masks)], list(masks)
