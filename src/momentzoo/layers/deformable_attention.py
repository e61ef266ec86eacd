"""1-D deformable attention (Deformable DETR, Zhu et al. 2021, reduced to one temporal scale as in TadTR).

Each query attends to `num_points` sampled positions per head instead of to every step: a linear layer predicts
where (offsets from the query's reference point or reference segment) and another how much (softmax weights over
the points). Values at fractional positions are linearly interpolated from the two neighbouring steps with a
`gather`, zero outside the sequence, which is what `grid_sample(..., align_corners=False, padding_mode="zeros")`
computes, without it.

Coordinates. References are *normalised* to the real (unpadded) length `L` of each sequence: position `x` in
`[0, 1]` is the continuous step index `x * L - 0.5`, so step `i` sits at `(i + 0.5) / L`. Because every offset is
scaled by `L` (not by the padded length) and padded values are zeroed, a padded sequence samples exactly what the
unpadded one does: outputs do not depend on padding.
"""

import torch
from torch import nn

__all__ = [
    "deformable_attention_1d",
    "DeformableSamplingOffsets",
    "DeformableAttentionWeights",
    "DeformableAttention1d",
]


def deformable_attention_1d(
    value: torch.Tensor, sampling_locations: torch.Tensor, attention_weights: torch.Tensor
) -> torch.Tensor:
    """The sampling core: `sum_p weight[p] * value(location[p])` per query and head.

    Args:
        value: `(B, T, H, D_h)` per-head values (padded steps already zeroed).
        sampling_locations: `(B, L_q, H, P)` continuous step indices (step `i` at `i`); a value is read by linear
            interpolation between `floor(x)` and `floor(x) + 1`, and reads as 0 outside `[0, T - 1]`.
        attention_weights: `(B, L_q, H, P)` weights of the points (normally a softmax over `P`).

    Returns `(B, L_q, H * D_h)`.
    """
    if value.ndim != 4 or sampling_locations.ndim != 4 or sampling_locations.shape != attention_weights.shape:
        raise ValueError(
            f"deformable_attention_1d expects value (B, T, H, D_h) and locations/weights (B, L_q, H, P) of the same "
            f"shape, got {tuple(value.shape)}, {tuple(sampling_locations.shape)}, {tuple(attention_weights.shape)}"
        )
    batch, length, heads, head_dim = value.shape
    _, num_queries, _, points = sampling_locations.shape
    if sampling_locations.shape[0] != batch or sampling_locations.shape[2] != heads:
        raise ValueError(f"locations {tuple(sampling_locations.shape)} do not match value {tuple(value.shape)}")
    locations = sampling_locations.to(value.dtype)
    left = torch.floor(locations)
    right_weight = locations - left
    left = left.long()
    right = left + 1
    # Zero padding: a neighbour outside the sequence contributes nothing.
    left_weight = (1 - right_weight) * ((left >= 0) & (left < length))
    right_weight = right_weight * ((right >= 0) & (right < length))
    weights = attention_weights.to(value.dtype)
    coefficients = torch.cat((left_weight * weights, right_weight * weights), dim=-1)  # (B, Lq, H, 2P)
    indices = torch.cat((left.clamp(0, length - 1), right.clamp(0, length - 1)), dim=-1)

    # Heads become part of the batch so that one gather reads every sample.
    flat_value = value.permute(0, 2, 1, 3).reshape(batch * heads, length, head_dim)
    indices = indices.permute(0, 2, 1, 3).reshape(batch * heads, num_queries * 2 * points)
    coefficients = coefficients.permute(0, 2, 1, 3).reshape(batch * heads, num_queries, 1, 2 * points)
    sampled = flat_value.gather(1, indices[..., None].expand(-1, -1, head_dim))
    sampled = sampled.view(batch * heads, num_queries, 2 * points, head_dim)
    out = torch.matmul(coefficients, sampled).squeeze(2)  # (B*H, Lq, D_h)
    return out.view(batch, heads, num_queries, head_dim).permute(0, 2, 1, 3).reshape(batch, num_queries, -1)


class DeformableSamplingOffsets(nn.Linear):
    """The projection of a query to its sampling offsets `(num_heads * num_points)`. It starts as Deformable DETR's
    does, in 1-D: a zero map whose bias alone sets the offsets, each head looking one way at its own reach,
    `(-1)^h * (h // 2 + 1)` steps for head `h` (right 1, left 1, right 2, left 2, ...), point `p` at `p + 1` times
    that. (The 2-D `(cos, sin)` directions would leave some heads of a 1-D layer at offset 0.)"""

    def __init__(self, hidden_size: int, num_heads: int, num_points: int):
        super().__init__(hidden_size, num_heads * num_points)
        self.num_heads, self.num_points = num_heads, num_points

    def initial_bias(self) -> torch.Tensor:
        heads = torch.arange(self.num_heads, dtype=torch.float32)
        direction = torch.where(heads % 2 == 0, 1.0, -1.0) * (torch.div(heads, 2, rounding_mode="floor") + 1)
        grid = direction[:, None] * torch.arange(1, self.num_points + 1, dtype=torch.float32)[None, :]
        return grid.flatten()


class DeformableAttentionWeights(nn.Linear):
    """The projection of a query to its attention logits over the sampling points; starts as the zero map with
    zero bias, so every point starts with the same weight."""


class DeformableAttention1d(nn.Module):
    """Single-scale 1-D deformable attention with `num_heads` heads and `num_points` sampling points per head.

    `forward(query, reference, value_input, value_mask)`:
        query `(B, L_q, C)`; value_input `(B, T, C)`; value_mask `(B, T)` bool, True at real steps (None: no
        padding). `reference` `(B, L_q, 1)`: a normalised point (encoder self-attention); sampling location
        `p = reference + offset / L`, i.e. offsets in steps. Or `(B, L_q, 2)`: a normalised segment
        `(center, width)` (decoder cross-attention, TadTR); `p = center + offset / num_points * width / 2`, so
        offsets are in units of the segment's half-width. Returns `(B, L_q, C)`.
    """

    def __init__(self, hidden_size: int, num_heads: int, num_points: int):
        super().__init__()
        if hidden_size % num_heads != 0:
            raise ValueError(
                f"DeformableAttention1d: hidden_size {hidden_size} is not divisible by num_heads {num_heads}"
            )
        if num_points < 1:
            raise ValueError(f"DeformableAttention1d: num_points must be >= 1, got {num_points}")
        self.hidden_size, self.num_heads, self.num_points = hidden_size, num_heads, num_points
        self.sampling_offsets = DeformableSamplingOffsets(hidden_size, num_heads, num_points)
        self.attention_weights = DeformableAttentionWeights(hidden_size, num_heads * num_points)
        self.value_proj = nn.Linear(hidden_size, hidden_size)
        self.output_proj = nn.Linear(hidden_size, hidden_size)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        nn.init.zeros_(self.sampling_offsets.weight)
        self.sampling_offsets.bias.copy_(self.sampling_offsets.initial_bias())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for linear in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(linear.weight)
            nn.init.zeros_(linear.bias)

    def sampling(
        self, query: torch.Tensor, reference: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(locations, weights)`, both `(B, L_q, H, P)`: continuous step indices and softmax weights."""
        batch, num_queries, _ = query.shape
        shape = (batch, num_queries, self.num_heads, self.num_points)
        offsets = self.sampling_offsets(query).view(shape)
        weights = self.attention_weights(query).view(batch, num_queries, self.num_heads, self.num_points).softmax(-1)
        lengths = lengths.to(query.dtype)[:, None, None, None]
        if reference.shape[-1] == 1:
            normalised = reference[..., None] + offsets / lengths
        elif reference.shape[-1] == 2:
            center, width = reference[..., :1, None], reference[..., 1:, None]
            normalised = center + offsets / self.num_points * width * 0.5
        else:
            raise ValueError(
                f"reference must be (B, L_q, 1) points or (B, L_q, 2) segments, got {tuple(reference.shape)}"
            )
        return normalised * lengths - 0.5, weights

    def forward(
        self,
        query: torch.Tensor,
        reference: torch.Tensor,
        value_input: torch.Tensor,
        value_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length, _ = value_input.shape
        if query.ndim != 3 or query.shape[0] != batch or query.shape[-1] != self.hidden_size:
            raise ValueError(f"query must be (B={batch}, L_q, {self.hidden_size}), got {tuple(query.shape)}")
        if reference.shape[:2] != query.shape[:2]:
            raise ValueError(f"reference {tuple(reference.shape)} does not match query {tuple(query.shape)}")
        value = self.value_proj(value_input)
        if value_mask is None:
            lengths = torch.full((batch,), length, device=value.device)
        else:
            value = value.masked_fill(~value_mask[..., None], 0.0)
            lengths = value_mask.sum(1)
        value = value.view(batch, length, self.num_heads, self.hidden_size // self.num_heads)
        locations, weights = self.sampling(query, reference.to(query.dtype), lengths)
        return self.output_proj(deformable_attention_1d(value, locations, weights))
