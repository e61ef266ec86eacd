"""DELU's losses on padded batches: every function takes `(B, T, ...)` tensors and a `(B, T)` bool `mask` (True at
real steps) and reduces over each video's own real steps, so a video's loss does not depend on the padding of the
batch. Top-k sizes follow DELU per video: `k = max(1, length // ratio)`.

Reference: the public code of DELU (MengyuanChen21/ECCV2022-DELU, `model.py` and `edl_loss.py`)."""

import torch
import torch.nn.functional as F

__all__ = [
    "co_activity_loss",
    "curriculum_curve",
    "edl_loss",
    "exp_evidence",
    "guide_terms",
    "masked_mean",
    "mil_loss",
    "mutual_loss",
    "suppress_background",
    "topk_mean",
    "uncertainty_guide_loss",
]


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `x` `(B, T)` over the real steps of the whole batch."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def topk_counts(mask: torch.Tensor, ratio: int) -> torch.Tensor:
    """Per video `max(1, length // ratio)`."""
    return (mask.sum(dim=1) // ratio).clamp(min=1)


def topk_mean(x: torch.Tensor, mask: torch.Tensor, ratio: int, order_by: torch.Tensor | None = None) -> torch.Tensor:
    """`(B, C)`: per video the mean of `x` `(B, T, C)` over its top `k = length // ratio` real steps, ranked per
    channel by `x` itself, or, with `order_by` `(B, T)`, by that score for all channels at once (DELU's EDL pooling
    over the snippets of highest attention)."""
    k = topk_counts(mask, ratio)
    rank_mask = torch.arange(x.shape[1], device=x.device)[None, :] < k[:, None]  # (B, T) first k ranks
    if order_by is None:
        ranked = x.masked_fill(~mask[..., None], float("-inf")).sort(dim=1, descending=True).values
    else:
        order = order_by.masked_fill(~mask, float("-inf")).argsort(dim=1, descending=True)
        ranked = x.gather(1, order[..., None].expand_as(x))
    ranked = ranked.masked_fill(~rank_mask[..., None], 0.0)
    return ranked.sum(dim=1) / k[:, None].to(x.dtype)


def suppress_background(cas: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
    """DELU's attention-suppressed CAS: `attention * (cas - min_c cas) + min_c cas` (`_multiply`, include_min)."""
    low = cas.min(dim=-1, keepdim=True).values
    return attention[..., None] * (cas - low) + low


def mil_loss(cas: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, ratio: int, background: bool):
    """Top-k MIL: cross-entropy between the normalised video labels (the background column set to 1 on the raw CAS,
    0 on the suppressed one) and the softmax of the top-k mean logits. `labels` `(B, C)`; returns the batch mean."""
    back = torch.full_like(labels[:, :1], 1.0 if background else 0.0)
    target = torch.cat((labels, back), dim=-1)
    target = target / (target.sum(dim=1, keepdim=True) + 1e-4)
    video_logits = topk_mean(cas, mask, ratio)
    return -(target * F.log_softmax(video_logits, dim=-1)).sum(dim=-1).mean()


def exp_evidence(logits: torch.Tensor, clamp: float = 10.0) -> torch.Tensor:
    return torch.exp(logits.clamp(-clamp, clamp))


def edl_loss(suppressed_cas, attention, labels, mask, ratio: int, clamp: float = 10.0):
    """Evidential loss on the video level (DELU's `EvidenceLoss`, evidence "exp", loss type "log", no KL term).

    Video logits are the mean suppressed CAS (classes only) over the `length // ratio` snippets of highest attention;
    `alpha = exp(logits) + 1`, `S = sum(alpha)`, uncertainty `u = C / S`, and
    `loss = sum_c g_c (log S - log alpha_c)` with `g = (1 - u) * |y| * (y / alpha) / sum(y / alpha)` (u detached)."""
    num_classes = labels.shape[-1]
    video_logits = topk_mean(suppressed_cas[..., :-1], mask, ratio, order_by=attention)
    alpha = exp_evidence(video_logits, clamp) + 1
    strength = alpha.sum(dim=-1, keepdim=True)
    uncertainty = num_classes / strength
    inverse = labels / alpha
    weights = (1 - uncertainty.detach()) * labels.sum(dim=-1, keepdim=True) * inverse / inverse.sum(-1, keepdim=True)
    return (weights * (strength.log() - alpha.log())).sum(dim=-1).mean()


def curriculum_curve(lengths: torch.Tensor, size: int, progress: float | None, amplitude: float) -> torch.Tensor:
    """`(B, size)`: DELU's `course_function`, `amplitude * tanh(theta * delta) + 1` with `theta = 2 (i + 0.5) / L - 1`
    over each video's `L` real steps and `delta = 1 - 2 * progress` (progress = step / total steps in [0, 1]).
    `progress=None` gives `delta = 0`: every weight 1 (no curriculum)."""
    index = torch.arange(size, device=lengths.device, dtype=torch.float32)
    theta = 2 * (index[None, :] + 0.5) / lengths[:, None].float() - 1
    delta = 0.0 if progress is None else 1.0 - 2.0 * float(progress)
    return amplitude * torch.tanh(theta * delta) + 1


def guide_terms(cas: torch.Tensor, attentions: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """`(B, T)`: DELU's guide loss per snippet, `|1 - a - softmax(cas)[background]|` averaged over the attentions
    (fused, RGB, flow)."""
    background = cas.softmax(dim=-1)[..., -1]
    return sum((1 - a - background).abs() for a in attentions) / len(attentions)


def uncertainty_guide_loss(cas, suppressed_cas, attentions, mask, progress, amplitude, clamp: float = 10.0):
    """DELU's uncertainty-guided curriculum on the guide loss. Snippet uncertainty is `C / S` with the exp evidence
    of all C + 1 suppressed logits; snippets are sorted by it (ascending) and, as in the public code
    (`torch.gather(curve, 1, uct_indices)`), the weight at snippet `p` is the curve's value at the index of the
    p-th least uncertain snippet. Returns the weighted guide loss averaged over real snippets."""
    num_classes = cas.shape[-1] - 1
    uncertainty = num_classes / (exp_evidence(suppressed_cas, clamp) + 1).sum(dim=-1)
    order = uncertainty.masked_fill(~mask, float("inf")).argsort(dim=1)  # padded steps sort last
    curve = curriculum_curve(mask.sum(dim=1), mask.shape[1], progress, amplitude).to(cas.dtype)
    weights = curve.gather(1, order)
    return masked_mean(weights * guide_terms(cas, attentions), mask)


def co_activity_loss(features, suppressed_cas, labels, mask, num_pairs: int, margin: float = 0.5):
    """Co-activity similarity (W-TALC's, as DELU uses it on the suppressed CAS): for the pairs of batch items
    (0, 1), (2, 3), ... and every class both share, the attention-weighted foreground features of the two videos
    should be closer (1 - cosine) than either is to the other's background features, by `margin`. Averaged over
    shared (pair, class) entries; 0 when no pair shares a class."""
    target = torch.cat((labels, torch.zeros_like(labels[:, :1])), dim=-1)
    total, count = features.new_zeros(()), features.new_zeros(())
    for i in range(0, 2 * min(num_pairs, features.shape[0] // 2), 2):
        pooled = []
        for j in (i, i + 1):
            real = mask[j]
            x, logits = features[j][real], suppressed_cas[j][real]
            weights = logits.softmax(dim=0)  # (T, C + 1), over time
            foreground = x.T @ weights
            background = x.T @ ((1 - weights) / max(x.shape[0] - 1, 1))
            pooled.append((foreground, background))
        (h1, l1), (h2, l2) = pooled
        d1 = 1 - F.cosine_similarity(h1, h2, dim=0)
        d2 = 1 - F.cosine_similarity(h1, l2, dim=0)
        d3 = 1 - F.cosine_similarity(h2, l1, dim=0)
        shared = target[i] * target[i + 1]
        total = total + 0.5 * ((d1 - d2 + margin).clamp(min=0) * shared).sum()
        total = total + 0.5 * ((d1 - d3 + margin).clamp(min=0) * shared).sum()
        count = count + shared.sum()
    return total / count if count > 0 else total


def mutual_loss(rgb_attention, flow_attention, mask):
    """Mutual learning of the two streams' attentions: `0.5 MSE(a_rgb, sg(a_flow)) + 0.5 MSE(a_flow, sg(a_rgb))`."""
    return 0.5 * masked_mean((rgb_attention - flow_attention.detach()) ** 2, mask) + 0.5 * masked_mean(
        (flow_attention - rgb_attention.detach()) ** 2, mask
    )
