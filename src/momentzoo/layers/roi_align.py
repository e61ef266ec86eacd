"""1-D RoI align (Mask R-CNN's RoIAlign reduced to time, as TadTR uses it for its actionness head).

A segment `[start, end]` of a `(T, C)` feature sequence is divided into `output_size` equal bins; each bin is the
mean of `sampling_ratio` evenly spaced samples, each linearly interpolated from its two neighbouring steps.
Coordinates are continuous step indices (step `i` sits at `i`). Interpolation follows torchvision's `roi_align`
rule at the borders: a sample more than one step outside `[0, L - 1]` reads 0, one within a step of the border is
clamped to it, so a segment that runs slightly past the ends still sees the end features. `L` is each sequence's
real length when `lengths` is given, so padding does not change the result.
"""

import torch

__all__ = ["roi_align_1d"]


def roi_align_1d(
    features: torch.Tensor,
    rois: torch.Tensor,
    output_size: int = 16,
    sampling_ratio: int = 2,
    lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pool `features` `(B, T, C)` over segments `rois` `(N, 3)` = `(batch_index, start, end)` (step units).

    Args:
        output_size: bins per segment.
        sampling_ratio: samples per bin (a fixed number, so that all segments are computed at once).
        lengths: `(B,)` real lengths of padded sequences (default: `T` for all).

    Returns `(N, output_size, C)`. A segment with `end < start` is an error; a zero-length one pools its point.
    """
    if features.ndim != 3:
        raise ValueError(f"roi_align_1d: features must be (B, T, C), got {tuple(features.shape)}")
    if rois.ndim != 2 or rois.shape[-1] != 3:
        raise ValueError(
            f"roi_align_1d: rois must be (N, 3) rows of (batch_index, start, end), got {tuple(rois.shape)}"
        )
    if isinstance(output_size, bool) or not isinstance(output_size, int) or output_size < 1:
        raise ValueError(f"roi_align_1d: output_size must be a positive int, got {output_size!r}")
    if isinstance(sampling_ratio, bool) or not isinstance(sampling_ratio, int) or sampling_ratio < 1:
        raise ValueError(f"roi_align_1d: sampling_ratio must be a positive int, got {sampling_ratio!r}")
    batch, length, channels = features.shape
    rois = rois.to(device=features.device)
    index = rois[:, 0].long()
    if index.numel() and (index.min() < 0 or index.max() >= batch):
        raise ValueError(f"roi_align_1d: batch indices must be in [0, {batch}), got {index.unique().tolist()}")
    start, end = rois[:, 1].to(features.dtype), rois[:, 2].to(features.dtype)
    if not (torch.isfinite(start).all() and torch.isfinite(end).all()):
        raise ValueError("roi_align_1d: rois hold NaN or infinite coordinates")
    if (end < start).any():
        row = int((end < start).nonzero()[0])
        raise ValueError(f"roi_align_1d: rois[{row}] ends before it starts: {rois[row].tolist()}")
    limit = (
        torch.full((batch,), length, device=features.device, dtype=features.dtype)
        if lengths is None
        else lengths.to(device=features.device, dtype=features.dtype)
    )[index]  # (N,)

    # Sample positions: bin b, sample s at start + (b + (s + 0.5) / ratio) * bin_size.
    steps = torch.arange(output_size * sampling_ratio, device=features.device, dtype=features.dtype)
    fractions = (steps + 0.5) / (output_size * sampling_ratio)
    x = start[:, None] + fractions[None, :] * (end - start)[:, None]  # (N, S)
    last = (limit - 1)[:, None]
    outside = (x < -1.0) | (x > limit[:, None])
    x = x.clamp(min=0.0)
    x = torch.minimum(x, last)
    left = torch.floor(x)
    right_weight = x - left
    left = left.long()
    right = torch.minimum(left + 1, last.long())
    left_weight = (1 - right_weight).masked_fill(outside, 0.0)
    right_weight = right_weight.masked_fill(outside, 0.0)

    # Index the flattened (B * T, C) features: no per-segment copy of the whole sequence.
    flat = features.reshape(batch * length, channels)
    base = (index * length)[:, None]
    samples = left_weight[..., None] * flat[base + left] + right_weight[..., None] * flat[base + right]  # (N, S, C)
    return samples.view(-1, output_size, sampling_ratio, channels).mean(dim=2)
