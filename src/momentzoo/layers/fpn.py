"""Identity feature pyramid neck: one LayerNorm per pyramid level (ActionFormer's `FPNIdentity`)."""

import torch
from torch import nn

from .masked_conv import apply_mask

__all__ = ["IdentityFPN"]


class IdentityFPN(nn.Module):
    """Passes each level's `(B, T_l, C)` features through its own LayerNorm (or nothing with `with_ln=False`) and
    re-zeroes padded steps (a LayerNorm maps zeros to its bias; `rezero_padding=False` leaves the bias there, as the
    official code does); masks (`(B, T_l)` or None) pass through."""

    def __init__(self, num_levels: int, hidden_size: int, with_ln: bool = True, rezero_padding: bool = True):
        super().__init__()
        self.num_levels = num_levels
        self.rezero_padding = rezero_padding
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_size) if with_ln else nn.Identity() for _ in range(num_levels))

    def forward(
        self, features: list[torch.Tensor], masks: list[torch.Tensor | None]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        if len(features) != self.num_levels or len(masks) != self.num_levels:
            raise ValueError(
                f"IdentityFPN expects {self.num_levels} levels, got {len(features)} features and {len(masks)} masks"
            )
        if not self.rezero_padding:
            return [norm(x) for norm, x in zip(self.norms, features)], list(masks)
        return [apply_mask(norm(x), m) for norm, x, m in zip(self.norms, features, masks)], list(masks)
