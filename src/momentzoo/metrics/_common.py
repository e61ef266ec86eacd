"""What the metrics share: element-wise temporal IoU and checks of numbers and thresholds.

`momentzoo.segments.segment_iou` is the all-pairs (N, M) form. The metrics need the IoU of each
prediction against the ground truth of *its own* video or query only (a gather, not all pairs), so
they use this broadcasting form, which computes exactly the same float operations in the same order.
"""

import numpy as np
import torch

from momentzoo.segments import segment_length

__all__ = ["paired_segment_iou", "is_number", "check_iou_thresholds"]


def paired_segment_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """tIoU of `a` (..., 2) and `b` (..., 2), broadcast over the leading dimensions -> (...).

    Pairs with an empty union (two zero-length segments at the same point) have IoU 0, as in `segment_iou`.
    """
    a = torch.as_tensor(a)
    b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
    if a.shape[-1:] != (2,) or b.shape[-1:] != (2,):
        raise ValueError(f"paired_segment_iou expects (..., 2) tensors, got {tuple(a.shape)} and {tuple(b.shape)}")
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    union = segment_length(a) + segment_length(b) - inter
    return torch.where(union > 0, inter / union.clamp(min=torch.finfo(union.dtype).tiny), torch.zeros_like(inter))


def is_number(x) -> bool:
    """An int or float (Python or NumPy), not a bool."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_iou_thresholds(iou_thresholds) -> list[float]:
    """Thresholds in (0, 1], none repeated once formatted as in the output keys (`f"{t:g}"`)."""
    try:
        values = [float(t) for t in iou_thresholds]
    except (TypeError, ValueError):
        raise ValueError(f"iou_thresholds must be a list of numbers in (0, 1], got {iou_thresholds!r}") from None
    if not values or any(not (0.0 < t <= 1.0) for t in values):
        raise ValueError(f"iou_thresholds must be a non-empty list of numbers in (0, 1], got {iou_thresholds!r}")
    if len({f"{t:g}" for t in values}) != len(values):
        raise ValueError(f"iou_thresholds has duplicates (as formatted in the output keys): {iou_thresholds!r}")
    return values
