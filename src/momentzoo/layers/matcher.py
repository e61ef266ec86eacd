"""Hungarian matching of set predictions to ground-truth segments (DETR, Carion et al. 2020; TadTR in 1-D).

Each video's queries are matched one-to-one to its ground-truth segments by minimising

    cost = class_cost * c(target class) + l1_cost * |pred - target|_1 (center, width) + iou_cost * (1 - tIoU)

with the class term c = -p (DETR, `class_cost_type="probability"`) or Deformable DETR's focal cost
c = alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p)) on sigmoid probabilities (`"focal"`),

with scipy's `linear_sum_assignment`. The cost matrices of the whole batch are computed in one tensor pass; only
the assignment itself runs per video (on the CPU, as scipy requires).
"""

import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..segments import center_width_to_start_end, segment_iou

__all__ = ["HungarianSegmentMatcher", "matching_cost_matrices"]


def matching_cost_matrices(
    class_probs: torch.Tensor,
    pred_segments: torch.Tensor,
    targets: list[dict],
    class_cost: float = 2.0,
    l1_cost: float = 5.0,
    iou_cost: float = 2.0,
    class_cost_type: str = "probability",
    focal_alpha: float = 0.25,
    focal_gamma: float = 2.0,
) -> list[torch.Tensor]:
    """Per video the `(N_q, n_b)` matching cost (see the module docstring).

    Args:
        class_probs: `(B, N_q, K)` class probabilities (softmax for `"probability"`, sigmoid for `"focal"`).
        pred_segments: `(B, N_q, 2)` predicted `(center, width)`.
        targets: `B` dicts with `class_labels` `(n_b,)` and `segments` `(n_b, 2)` as `(center, width)`, in the
            units of `pred_segments`.
    """
    batch, num_queries, num_classes = class_probs.shape
    if pred_segments.shape != (batch, num_queries, 2):
        raise ValueError(f"pred_segments must be {(batch, num_queries, 2)}, got {tuple(pred_segments.shape)}")
    if len(targets) != batch:
        raise ValueError(f"targets has {len(targets)} entries for a batch of {batch}")
    sizes = [int(t["segments"].shape[0]) for t in targets]
    if sum(sizes) == 0:
        return [class_probs.new_zeros((num_queries, 0)) for _ in sizes]
    labels = torch.cat([t["class_labels"].reshape(-1) for t in targets]).long().to(class_probs.device)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"target class ids must be in [0, {num_classes}), got {labels.unique().tolist()}")
    segments = torch.cat([t["segments"].reshape(-1, 2) for t in targets]).to(pred_segments)
    probs = class_probs.flatten(0, 1).float()  # (B*Nq, K)
    preds = pred_segments.flatten(0, 1).float()
    segments = segments.float()
    if class_cost_type == "focal":
        p = probs[:, labels]
        positive = focal_alpha * (1 - p) ** focal_gamma * -(p + 1e-8).log()
        negative = (1 - focal_alpha) * p**focal_gamma * -(1 - p + 1e-8).log()
        cost = class_cost * (positive - negative)
    elif class_cost_type == "probability":
        cost = -class_cost * probs[:, labels]
    else:
        raise ValueError(f"class_cost_type must be 'probability' or 'focal', got {class_cost_type!r}")
    cost = cost + l1_cost * torch.cdist(preds, segments, p=1)
    iou = segment_iou(center_width_to_start_end(preds), center_width_to_start_end(segments))
    cost = cost + iou_cost * (1.0 - iou)
    cost = cost.view(batch, num_queries, -1)
    return [c[b] for b, c in enumerate(cost.split(sizes, dim=-1))]


class HungarianSegmentMatcher(nn.Module):
    """`matcher(class_probs, pred_segments, targets)` -> per video `(query_indices, target_indices)`, two
    `LongTensor`s of length `min(N_q, n_b)`, sorted by query index. See `matching_cost_matrices`."""

    def __init__(
        self,
        class_cost: float = 2.0,
        l1_cost: float = 5.0,
        iou_cost: float = 2.0,
        class_cost_type: str = "probability",
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
    ):
        super().__init__()
        if class_cost_type not in ("probability", "focal"):
            raise ValueError(f"class_cost_type must be 'probability' or 'focal', got {class_cost_type!r}")
        self.class_cost_type, self.focal_alpha, self.focal_gamma = class_cost_type, focal_alpha, focal_gamma
        if min(class_cost, l1_cost, iou_cost) < 0 or class_cost == l1_cost == iou_cost == 0:
            raise ValueError(
                f"matching costs must be >= 0 and not all 0, got class {class_cost}, l1 {l1_cost}, iou {iou_cost}"
            )
        self.class_cost, self.l1_cost, self.iou_cost = class_cost, l1_cost, iou_cost

    @torch.no_grad()
    def forward(
        self, class_probs: torch.Tensor, pred_segments: torch.Tensor, targets: list[dict]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        costs = matching_cost_matrices(
            class_probs,
            pred_segments,
            targets,
            self.class_cost,
            self.l1_cost,
            self.iou_cost,
            self.class_cost_type,
            self.focal_alpha,
            self.focal_gamma,
        )
        matches = []
        for cost in costs:
            if cost.shape[1] == 0:
                empty = torch.zeros(0, dtype=torch.long)
                matches.append((empty, empty.clone()))
                continue
            cost = cost.cpu()
            if not torch.isfinite(cost).all():
                raise ValueError("matching cost has NaN or infinite entries (NaN predictions?)")
            rows, cols = linear_sum_assignment(cost.numpy())
            matches.append((torch.as_tensor(rows, dtype=torch.long), torch.as_tensor(cols, dtype=torch.long)))
        return matches
