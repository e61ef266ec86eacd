"""Pure, vectorised tensor ops on temporal segments stored as `[..., 2]` tensors of `[start, end]`."""

import contextlib
import math
import threading
from typing import NamedTuple

import torch

__all__ = [
    "segment_iou",
    "segment_length",
    "start_end_to_center_width",
    "center_width_to_start_end",
    "seconds_to_feature_grid",
    "feature_grid_to_seconds",
    "batched_nms",
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


NMS_METHODS = ("soft", "linear", "hard")

# How many of the top live candidates one parallel round of greedy NMS examines.
_NMS_BLOCK = 128


def batched_nms(
    segments: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    *,
    method: str = "soft",
    class_agnostic: bool = False,
    iou_threshold: float = 0.1,
    sigma: float = 0.5,
    voting_threshold: float | None = None,
    min_score: float = 0.001,
    max_segments: int | None = 200,
    pre_nms_topk: int | None = None,
):
    """Non-maximum suppression of one video's candidate segments, per class or class-agnostic.

    The semantics are those of ActionFormer's `batched_nms` with its C++ `softnms` / `nms`:

    1. candidates scoring below `min_score` are dropped; then, with `pre_nms_topk`, only that many of the
       top-scoring ones are kept;
    2. within each class (over all candidates when `class_agnostic`), greedily take the highest-scoring live
       candidate, then update every other live candidate at tIoU `o` with it:
       - `"soft"` (Gaussian soft-NMS, ActionFormer's default, its C++ method 2): `score *= exp(-o**2 / sigma)`;
       - `"linear"` (method 1): `score *= 1 - o` when `o >= iou_threshold`;
       - `"hard"` (method 0): remove it when `o >= iou_threshold`;
       and drop those now scoring below `min_score`;
    3. the picks of all classes, by score (ties: lower input index first), are cut to `max_segments`;
    4. with `voting_threshold` (None or 0: off), each kept segment becomes the score-weighted mean of the
       step-1 candidates (original segments and scores) of its class, or of all classes when
       `class_agnostic`, that overlap it with tIoU >= `voting_threshold`; scores are unchanged.
       ActionFormer votes only in its class-agnostic mode; here voting follows `class_agnostic`.

    Differences from ActionFormer, none beyond float rounding and exact ties: tIoU is exact as in
    `segment_iou` (its kernel adds 1e-6 to lengths; a zero-length segment overlaps nothing in both), equal
    scores go to the lower input index, and a score equal to `min_score` survives in every method (its
    hard-NMS path keeps only `score > min_score`). The result is computed in parallel rounds and equals the
    sequential greedy algorithm's (see `_greedy_nms`); on CPU it runs on one intra-op thread.

    Args:
        segments: (N, 2) `[start, end]`, finite, `end >= start`.
        scores: (N,) finite confidences.
        labels: (N,) integer class ids.

    Returns:
        `(segments (K, 2), scores (K,), labels (K,))` with K <= `max_segments` (None: no cap), sorted by
        score descending, on the input's device and in the input dtypes, without gradient.
    """
    _check_nms_options(method, iou_threshold, sigma, voting_threshold, min_score, max_segments, pre_nms_topk)
    device = segments.device if isinstance(segments, torch.Tensor) else torch.device("cpu")
    with _one_intra_op_thread(device):
        segments, scores, labels = _check_nms_inputs(segments, scores, labels)
        return _batched_nms(
            segments,
            scores,
            labels,
            method=method,
            class_agnostic=class_agnostic,
            iou_threshold=iou_threshold,
            sigma=sigma,
            voting_threshold=voting_threshold,
            min_score=min_score,
            max_segments=max_segments,
            pre_nms_topk=pre_nms_topk,
        )


def _batched_nms(
    segments,
    scores,
    labels,
    *,
    method,
    class_agnostic,
    iou_threshold,
    sigma,
    voting_threshold,
    min_score,
    max_segments,
    pre_nms_topk,
):
    work = torch.float64 if torch.float64 in (segments.dtype, scores.dtype) else torch.float32
    segs, scr = segments.to(work), scores.to(work)

    cand = (scr >= min_score).nonzero().squeeze(1)
    if pre_nms_topk is not None and cand.numel() > pre_nms_topk:
        top = torch.argsort(scr[cand], descending=True, stable=True)[:pre_nms_topk]
        cand = cand[top.sort().values]
    if cand.numel() == 0:
        return segments.new_zeros((0, 2)), scores.new_zeros((0,)), labels.new_zeros((0,))
    segs, scr, labels = segs[cand], scr[cand], labels[cand]
    keep = cand.numel() if max_segments is None else min(max_segments, cand.numel())

    index = _index_candidates(segs, labels, class_agnostic)
    picked, picked_scores = _greedy_nms(
        index,
        scr,
        labels,
        method=method,
        class_agnostic=class_agnostic,
        iou_threshold=iou_threshold,
        sigma=sigma,
        min_score=min_score,
        keep=keep,
    )
    by_index = torch.argsort(picked)
    picked, picked_scores = picked[by_index], picked_scores[by_index]
    best = torch.argsort(picked_scores, descending=True, stable=True)[:keep]  # ties: lower index first
    kept, kept_scores = picked[best], picked_scores[best]
    kept_segs, kept_labels = segs[kept], labels[kept]
    if voting_threshold:
        kept_segs = _score_voting(index, kept, segs, scr, voting_threshold)
    return kept_segs.to(segments.dtype), kept_scores.to(scores.dtype), kept_labels


_THREADS_LOCK = threading.Lock()
_threads = {"users": 0, "saved": 1}


@contextlib.contextmanager
def _one_intra_op_thread(device):
    """Run CPU NMS on one intra-op thread. NMS is hundreds of tiny ops that threads cannot speed up, but some
    (exp, searchsorted, repeat_interleave, ...) still open a parallel region, whose wake-up costs tens of ms
    when the cores are busy (measured on a loaded 2-core machine: 2.8 ms median with 1 thread, 243 ms with
    2). The setting is process-wide: it is restored when the last concurrent call ends, and other threads'
    torch ops run on one thread meanwhile."""
    if device.type != "cpu":
        yield
        return
    with _THREADS_LOCK:
        if _threads["users"] == 0:
            _threads["saved"] = torch.get_num_threads()
            if _threads["saved"] > 1:
                torch.set_num_threads(1)
        _threads["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads["users"] -= 1
            if _threads["users"] == 0 and _threads["saved"] > 1:
                torch.set_num_threads(_threads["saved"])


def _check_nms_inputs(segments, scores, labels):
    # NMS is a selection, not differentiable: work on detached tensors.
    segments = torch.as_tensor(segments).detach()
    if not segments.is_floating_point():
        segments = segments.float()
    scores = torch.as_tensor(scores, device=segments.device).detach()
    labels = torch.as_tensor(labels, device=segments.device).detach()
    if segments.ndim != 2 or segments.shape[-1] != 2:
        raise ValueError(f"batched_nms: `segments` must be (N, 2), got shape {tuple(segments.shape)}")
    n = segments.shape[0]
    if scores.shape != (n,):
        raise ValueError(f"batched_nms: `scores` must be ({n},) like `segments`, got shape {tuple(scores.shape)}")
    if labels.shape != (n,):
        raise ValueError(f"batched_nms: `labels` must be ({n},) like `segments`, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"batched_nms: `labels` must hold integer class ids, got dtype {labels.dtype}")
    if not scores.is_floating_point():
        scores = scores.to(segments.dtype)
    for bad, field, what in (
        (~torch.isfinite(segments).all(dim=1), "segments", "is not finite"),
        (segments[:, 1] < segments[:, 0], "segments", "ends before it starts"),
        (~torch.isfinite(scores), "scores", "is not finite"),
    ):
        if bad.any():
            i = int(bad.nonzero()[0])
            value = segments[i].tolist() if field == "segments" else scores[i].item()
            raise ValueError(f"batched_nms: `{field}[{i}]` = {value} {what}")
    return segments, scores, labels


def _check_nms_options(method, iou_threshold, sigma, voting_threshold, min_score, max_segments, pre_nms_topk):
    if method not in NMS_METHODS:
        raise ValueError(f"batched_nms: `method` must be one of {NMS_METHODS}, got {method!r}")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"batched_nms: `iou_threshold` must be in [0, 1], got {iou_threshold}")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"batched_nms: `sigma` must be a positive number, got {sigma}")
    if voting_threshold is not None and not 0.0 <= voting_threshold <= 1.0:
        raise ValueError(f"batched_nms: `voting_threshold` must be None or in [0, 1], got {voting_threshold}")
    if not math.isfinite(min_score):
        raise ValueError(f"batched_nms: `min_score` must be finite, got {min_score}")
    if method != "hard" and min_score < 0:
        # Decaying a negative score would raise it: the greedy order, and soft-NMS itself, need scores >= 0.
        raise ValueError(f"batched_nms: `min_score` must be >= 0 with method={method!r}, got {min_score}")
    for name, value in (("max_segments", max_segments), ("pre_nms_topk", pre_nms_topk)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"batched_nms: `{name}` must be None or a positive int, got {value!r}")


def _greedy_nms(index, scores, labels, *, method, class_agnostic, iou_threshold, sigma, min_score, keep):
    """Greedy (soft-)NMS with the sequential algorithm's exact result, computed in parallel rounds.

    Sequentially, the highest-ranked live candidate (score desc, index asc) is taken and the live candidates
    that interact with it are decayed or removed. A live candidate that no higher-ranked live candidate
    interacts with is taken before every candidate it interacts with, with its current score (nothing that
    could lower it can be taken first). So each round takes all such candidates among the top `_NMS_BLOCK`
    live ones at once; the decays they cause commute. The candidates a pick can touch are found by a sorted
    search over (class, start), so no (N, N) matrix is built.

    Only the best `keep` picks are wanted and picks come in non-increasing score order, so once `keep` picks
    exist a live candidate scoring below the `keep`-th best of them cannot matter and is dropped, and the
    loop ends once `keep` picks outscore every live candidate. Returns the picks' indices and scores.
    """
    n, device = scores.shape[0], scores.device
    geometry, by_key = index.geometry, index.by_key
    if method == "hard" and iou_threshold == 0:
        # tIoU >= 0 holds for every pair: a pick removes its whole class.
        lo_key, hi_key = index.block - 0.5, index.block + (index.span - 0.5)
    else:
        # A partner overlapping a pick starts less than one (class-wide) longest length before it.
        length = geometry[:, 2].to(index.start_key.dtype)
        if index.group is None:
            longest = length.max()
        else:
            longest = torch.zeros(int(index.group.max()) + 1, dtype=length.dtype, device=device)
            longest = longest.scatter_reduce_(0, index.group, length, "amax")[index.group]
        lo_key = torch.maximum(index.start_key - longest - index.slack, index.block)
        hi_key = index.end_key + index.slack
    window_lo = torch.searchsorted(index.sorted_start, lo_key)
    window_hi = torch.searchsorted(index.sorted_start, hi_key, right=True)

    # Dead candidates (taken, removed, or dropped) score -inf.
    scores = scores.clone()
    neg_inf = torch.tensor(float("-inf"), dtype=scores.dtype, device=device)
    floor = min_score
    above_diagonal = torch.ones(_NMS_BLOCK, _NMS_BLOCK, dtype=torch.bool, device=device).triu_(1)
    picked, picked_scores = [], []
    all_picked_scores = scores[:0]
    n_alive = n
    while n_alive:
        top = torch.argsort(scores, descending=True, stable=True)[: min(_NMS_BLOCK, n_alive)]
        r = top.numel()
        g = geometry.index_select(0, top)  # index_select: several times faster than x[idx] on CPU
        if method == "soft":  # overlap is all that matters: skip the division
            interacts = torch.minimum(g[:, None, 1], g[None, :, 1]) > torch.maximum(g[:, None, 0], g[None, :, 0])
        else:
            interacts = _interacting(_geometry_iou(g[:, None], g[None, :]), method, iou_threshold)
        if not class_agnostic:
            top_labels = labels.index_select(0, top)
            interacts &= top_labels[:, None] == top_labels[None, :]
        pick = top[~(interacts & above_diagonal[:r, :r]).any(dim=0)]
        pick_scores = scores.index_select(0, pick)
        picked.append(pick)
        picked_scores.append(pick_scores)
        all_picked_scores = torch.cat((all_picked_scores, pick_scores))
        scores.index_fill_(0, pick, float("-inf"))

        # Decay or remove what the picks interact with. Touching dead candidates (the picks among them)
        # is harmless and cheaper than filtering them out; the windows stay inside each class.
        q, partner = _range_pairs(window_lo.index_select(0, pick), window_hi.index_select(0, pick))
        partner = by_key.index_select(0, partner)
        iou = _geometry_iou(geometry.index_select(0, pick.index_select(0, q)), geometry.index_select(0, partner))
        hit = _interacting(iou, method, iou_threshold)
        if all_picked_scores.numel() >= keep:
            floor = torch.clamp(all_picked_scores.topk(keep).values[-1], min=min_score)
        if method == "hard":
            scores.index_fill_(0, partner[hit], float("-inf"))
            scores = torch.where(scores >= floor, scores, neg_inf)
        else:
            log_weight = iou.square_().div_(-sigma) if method == "soft" else torch.log1p(-iou)  # -inf: weight 0
            log_decay = torch.zeros_like(scores).index_add_(0, partner, torch.where(hit, log_weight, 0.0))
            scores = scores * log_decay.exp_()
            scores = torch.where(scores >= floor, scores, neg_inf)  # also turns -inf * 0 = nan into -inf
        if all_picked_scores.numel() >= keep:
            n_alive, n_settled = torch.stack(
                ((scores > neg_inf).sum(), (all_picked_scores > scores.max()).sum())
            ).tolist()
            if n_settled >= keep:
                break
        else:
            n_alive = int((scores > neg_inf).sum())
    return torch.cat(picked), torch.cat(picked_scores)


def _score_voting(index, kept, segs, scores, threshold):
    """ActionFormer's segment voting: each kept segment becomes the score-weighted mean of the candidates
    overlapping it with tIoU >= `threshold` (within its class unless class-agnostic). A kept segment with
    no such candidate (zero length) stays as it is. tIoU >= t > 0 needs
    `|start_j - start_k| <= (1/t - 1) * length_k`, so a sorted search (within the class) finds them."""
    start = index.start_key.index_select(0, kept)
    kept_geometry = index.geometry.index_select(0, kept)
    reach = kept_geometry[:, 2].to(start.dtype) * (1.0 / threshold - 1.0) + index.slack
    block = index.block.index_select(0, kept)
    lo = torch.searchsorted(index.sorted_start, torch.maximum(start - reach, block))
    hi = torch.searchsorted(index.sorted_start, torch.minimum(start + reach, block + (index.span - 0.5)), right=True)
    q, p = _range_pairs(lo, hi)
    p = index.by_key.index_select(0, p)
    near = _geometry_iou(kept_geometry.index_select(0, q), index.geometry.index_select(0, p)) >= threshold
    weight = torch.where(near, scores.index_select(0, p), 0.0)
    total = torch.zeros_like(scores[: kept.shape[0]]).index_add_(0, q, weight)
    voted = torch.zeros_like(kept_geometry[:, :2]).index_add_(0, q, weight[:, None] * segs.index_select(0, p))
    voted = voted / total.clamp(min=torch.finfo(total.dtype).tiny)[:, None]
    return torch.where(total[:, None] > 0, voted, segs.index_select(0, kept))


class _CandidateIndex(NamedTuple):
    """Candidates sorted for `searchsorted`: start/end keys with each class moved to its own disjoint range
    `[g * span, g * span + span - 1]` (g: the class's rank; one range when class-agnostic), in float64 where
    the device has it, and the (start, end, length) rows for gathering pairs."""

    start_key: torch.Tensor
    end_key: torch.Tensor
    group: torch.Tensor | None  # class rank per candidate, None when class-agnostic
    block: torch.Tensor  # g * span per candidate
    span: float
    slack: float  # covers the keys' rounding; search windows are widened by it and the exact tIoU decides
    by_key: torch.Tensor
    sorted_start: torch.Tensor
    geometry: torch.Tensor


def _index_candidates(segs, labels, class_agnostic) -> _CandidateIndex:
    key_dtype = torch.float32 if segs.device.type == "mps" else torch.float64
    start, end = segs[:, 0].to(key_dtype), segs[:, 1].to(key_dtype)
    origin = start.min()
    start, end = start - origin, end - origin
    span = float(end.max()) + 1.0
    if class_agnostic:
        group, block = None, torch.zeros_like(start)
    else:
        group = torch.unique(labels, return_inverse=True)[1]
        block = group.to(key_dtype) * span
        start, end = start + block, end + block
    slack = 8 * torch.finfo(key_dtype).eps * (float(end.max()) + 1.0)
    by_key = torch.argsort(start, stable=True)
    geometry = torch.cat((segs, (segs[:, 1] - segs[:, 0])[:, None]), dim=1)
    return _CandidateIndex(start, end, group, block, span, slack, by_key, start[by_key], geometry)


def _range_pairs(lo: torch.Tensor, hi: torch.Tensor):
    """All (q, p) with lo[q] <= p < hi[q] (hi >= lo), as two index tensors."""
    counts = hi - lo
    q = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), counts)
    p = torch.arange(q.numel(), device=counts.device) + (lo - torch.cumsum(counts, 0) + counts).index_select(0, q)
    return q, p


def _geometry_iou(a, b):
    """tIoU of broadcastable (..., 3) `(start, end, length)` rows; 0 for an empty union, as `segment_iou`."""
    inter = (torch.minimum(a[..., 1], b[..., 1]) - torch.maximum(a[..., 0], b[..., 0])).clamp_(min=0)
    union = (a[..., 2] + b[..., 2]).sub_(inter).clamp_(min=torch.finfo(inter.dtype).tiny)
    return inter.div_(union)


def _interacting(iou, method, iou_threshold):
    """Which pairs change each other's score when one of them is taken (classes aside): Gaussian decay
    touches every overlapping pair, linear decay and hard suppression those at or above the threshold."""
    if method == "soft":
        return iou > 0
    if method == "linear":
        return (iou >= iou_threshold) & (iou > 0)
    return iou >= iou_threshold
