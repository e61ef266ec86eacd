"""Element-wise temporal IoU for the metrics.

`momentzoo.segments.segment_iou` is the all-pairs (N, M) form. The metrics need the IoU of each
prediction against the ground truth of *its own* video or query only (a gather, not all pairs), so
they use this broadcasting form, which computes exactly the same float operations in the same order.
"""

import torch

from momentzoo.segments import segment_length

__all__ = ["paired_segment_iou"]


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
