"""Dense detection losses: sigmoid focal loss and the 1-D (distance-)IoU loss on (left, right) offsets.

Both compute in float32 whatever the input dtype (bf16 logits would make the focal weights too coarse).
"""

import torch
import torch.nn.functional as F

__all__ = ["sigmoid_focal_loss", "offset_iou_loss", "offset_diou_loss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        # The mean of nothing is 0 (still attached to the graph), not NaN.
        return loss.mean() if loss.numel() > 0 else loss.sum()
    return loss


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
) -> torch.Tensor:
    """RetinaNet's focal loss (Lin et al. 2017) on independent sigmoid outputs.

    `FL = -alpha_t (1 - p_t)^gamma log(p_t)` with `p_t = p` for target 1 and `1 - p` for target 0 and
    `alpha_t = alpha` / `1 - alpha` likewise (soft targets interpolate). `alpha < 0` disables the weighting.
    """
    _check_reduction(reduction)
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} must have the same shape")
    logits, targets = logits.float(), targets.float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return _reduce(loss, reduction)


def _check_offsets(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[-1] != 2:
        raise ValueError(f"offsets must both be (N, 2), got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred.float(), target.float()


def _iou_terms(pred: torch.Tensor, target: torch.Tensor, eps: float):
    # Both segments share the anchor point c: pred = [c - lp, c + rp], target = [c - lg, c + rg].
    lp, rp = pred.unbind(-1)
    lg, rg = target.unbind(-1)
    intersection = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = lp + rp + lg + rg - intersection
    iou = intersection / union.clamp(min=eps)
    return lp, rp, lg, rg, iou


def offset_iou_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "none", eps: float = 1e-8):
    """`1 - IoU` of segments given as non-negative (left, right) distances from a shared point, `(N, 2)`."""
    _check_reduction(reduction)
    pred, target = _check_offsets(pred, target)
    iou = _iou_terms(pred, target, eps)[-1]
    return _reduce(1.0 - iou, reduction)


def offset_diou_loss(pred: torch.Tensor, target: torch.Tensor, reduction: str = "none", eps: float = 1e-8):
    """Distance-IoU loss (Zheng et al. 2020) for 1-D segments given as non-negative (left, right) distances from a
    shared point, `(N, 2)`: `1 - IoU + (d / c)^2`, with `d` the distance between the two segment centres and `c`
    the length of the smallest segment enclosing both."""
    _check_reduction(reduction)
    pred, target = _check_offsets(pred, target)
    lp, rp, lg, rg, iou = _iou_terms(pred, target, eps)
    enclosing = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    center_distance = 0.5 * ((rp - lp) - (rg - lg))
    loss = 1.0 - iou + (center_distance / enclosing.clamp(min=eps)) ** 2
    return _reduce(loss, reduction)
