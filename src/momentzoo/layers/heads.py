"""Anchor-free 1-D detection heads shared across pyramid levels (ActionFormer's `PtTransformerClsHead` /
`PtTransformerRegHead`): a few masked convs, then per-step class logits or (left, right) distances."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .masked_conv import MaskedConv1d

__all__ = ["Scale", "TemporalClassificationHead", "TemporalRegressionHead", "prior_bias"]


def prior_bias(prior_prob: float) -> float:
    """Classifier bias `b` with `sigmoid(b) = prior_prob` (RetinaNet's prior init: rare positives at the start)."""
    if not 0.0 < prior_prob < 1.0:
        raise ValueError(f"prior_prob must be in (0, 1), got {prior_prob}")
    return -math.log((1.0 - prior_prob) / prior_prob)


class Scale(nn.Module):
    """A learnable scalar multiplier (one per pyramid level for the regression outputs), initialised to 1."""

    def __init__(self, init_value: float = 1.0):
        super().__init__()
        self.init_value = init_value
        self.scale = nn.Parameter(torch.tensor(float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.to(x.dtype)


class _MaskedConvTower(nn.Module):
    """`num_layers - 1` masked convs (+ LayerNorm) with ReLU, shared across levels. `rezero_padding=False`: the convs
    read padded steps as they come (the official code; see `MaskedConv1d`)."""

    def __init__(
        self, input_dim: int, hidden_dim: int, num_layers: int, kernel_size: int, with_ln: bool, rezero_padding: bool
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1 (the last layer is the output conv), got {num_layers}")
        self.convs = nn.ModuleList(
            MaskedConv1d(
                input_dim if i == 0 else hidden_dim,
                hidden_dim,
                kernel_size,
                bias=not with_ln,
                rezero_padding=rezero_padding,
            )
            for i in range(num_layers - 1)
        )
        self.norms = nn.ModuleList(
            nn.LayerNorm(hidden_dim) if with_ln else nn.Identity() for _ in range(num_layers - 1)
        )

    def tower(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for conv, norm in zip(self.convs, self.norms):
            x, _ = conv(x, mask)
            x = F.relu(norm(x))
        return x


class TemporalClassificationHead(_MaskedConvTower):
    """Per-step class logits. `forward(features, masks)` maps lists of `(B, T_l, C)` features and `(B, T_l)` masks
    (or None) to a list of `(B, T_l, num_classes)` logits (zero at padded steps). The classifier bias starts at the `prior_prob` prior;
    classes listed in `empty_classes` start at a 1e-6 prior so that classes never seen in training stay silent."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_classes: int,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
        prior_prob: float = 0.01,
        empty_classes: tuple[int, ...] = (),
        rezero_padding: bool = True,
    ):
        super().__init__(input_dim, hidden_dim, num_layers, kernel_size, with_ln, rezero_padding)
        self.prior_prob = prior_prob
        self.empty_classes = tuple(empty_classes)
        in_dim = hidden_dim if num_layers > 1 else input_dim
        self.classifier = MaskedConv1d(in_dim, num_classes, kernel_size, rezero_padding=rezero_padding)
        # Kept on the conv itself so a model's `_init_weights` (which visits the conv) can restore it.
        self.classifier.bias_prior_probs = [
            1e-6 if index in self.empty_classes else prior_prob for index in range(num_classes)
        ]
        self.reset_prior()

    @staticmethod
    def prior_bias_vector(conv: MaskedConv1d) -> torch.Tensor:
        """The initial classifier bias of `conv` (a head's `classifier`), from its `bias_prior_probs`."""
        return torch.tensor([prior_bias(p) for p in conv.bias_prior_probs], dtype=conv.bias.dtype)

    @torch.no_grad()
    def reset_prior(self) -> None:
        self.classifier.bias.copy_(self.prior_bias_vector(self.classifier))

    def forward(self, features: list[torch.Tensor], masks: list[torch.Tensor | None]) -> list[torch.Tensor]:
        return [self.classifier(self.tower(x, m), m)[0] for x, m in zip(features, masks)]


class TemporalRegressionHead(_MaskedConvTower):
    """Per-step distances to the action's start and end, in units of the level's stride:
    `ReLU(Scale_l(conv(...)))`, so they are non-negative. Returns a list of `(B, T_l, 2)`."""

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        num_levels: int,
        num_layers: int = 3,
        kernel_size: int = 3,
        with_ln: bool = True,
        rezero_padding: bool = True,
    ):
        super().__init__(input_dim, hidden_dim, num_layers, kernel_size, with_ln, rezero_padding)
        self.num_levels = num_levels
        self.scales = nn.ModuleList(Scale() for _ in range(num_levels))
        in_dim = hidden_dim if num_layers > 1 else input_dim
        self.offset = MaskedConv1d(in_dim, 2, kernel_size, rezero_padding=rezero_padding)

    def forward(self, features: list[torch.Tensor], masks: list[torch.Tensor | None]) -> list[torch.Tensor]:
        if len(features) != self.num_levels:
            raise ValueError(f"TemporalRegressionHead has {self.num_levels} levels, got {len(features)}")
        return [
            F.relu(scale(self.offset(self.tower(x, m), m)[0])) for scale, x, m in zip(self.scales, features, masks)
        ]
