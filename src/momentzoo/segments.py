"""Pure, vectorised tensor ops on temporal segments stored as `[..., 2]` tensors of `[start, end]`."""

import torch

__all__ = [
    "segment_iou",
    "segment_length",
    "start_end_to_center_width",
    "center_width_to_start_end",
    "seconds_to_feature_grid",
    "feature_grid_to_seconds",
]


def segment_length(segments: torch.Tensor) -> torch.Tensor:
    return (segments[..., 1] - segments[..., 0]).clamp(min=0)


def segment_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise temporal IoU of `a` (N, 2) and `b` (M, 2) -> (N, M).

    Two zero-length segments have IoU 0 (their union is empty); so does any pair with an empty union.
    """
    a = torch.as_tensor(a)
    b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    if a.ndim != 2 or a.shape[-1] != 2 or b.ndim != 2 or b.shape[-1] != 2:
        raise ValueError(f"segment_iou expects (N, 2) and (M, 2) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    inter = (torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0])).clamp(min=0)
    union = segment_length(a)[:, None] + segment_length(b)[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter))


def start_end_to_center_width(segments: torch.Tensor) -> torch.Tensor:
    return torch.stack(((segments[..., 0] + segments[..., 1]) / 2, segments[..., 1] - segments[..., 0]), dim=-1)


def center_width_to_start_end(segments: torch.Tensor) -> torch.Tensor:
    half = segments[..., 1] / 2
    return torch.stack((segments[..., 0] - half, segments[..., 0] + half), dim=-1)


def seconds_to_feature_grid(seconds: torch.Tensor, fps: float, feature_stride: int, num_frames: int) -> torch.Tensor:
    """Seconds -> feature-step units, as ActionFormer does: step i covers frames centred on
    `i * feature_stride + num_frames / 2`, so t seconds is `(t * fps - num_frames / 2) / feature_stride`."""
    return (seconds * fps - 0.5 * num_frames) / feature_stride


def feature_grid_to_seconds(steps: torch.Tensor, fps: float, feature_stride: int, num_frames: int) -> torch.Tensor:
    """Inverse of `seconds_to_feature_grid`."""
    return (steps * feature_stride + 0.5 * num_frames) / fps
