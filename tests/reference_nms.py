"""Plain-Python loop implementations of temporal IoU, (soft-)NMS and score voting, written straight from the
definitions (ActionFormer's C++ `nms` / `softnms` kernels and its `seg_voting`), one candidate at a time.

Used by `tests/test_segments.py` and `benchmarks/bench_nms.py` as the reference `momentzoo.segments`
must match.
"""

import math

__all__ = ["loop_iou", "loop_nms"]


def loop_iou(a, b) -> float:
    """tIoU of two `[start, end]` pairs; 0 when the union is empty (two zero-length segments)."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def loop_nms(
    segments,
    scores,
    labels,
    method="soft",
    class_agnostic=False,
    iou_threshold=0.1,
    sigma=0.5,
    voting_threshold=None,
    min_score=0.001,
    max_segments=200,
    pre_nms_topk=None,
):
    """Lists in, list of `(segment, score, label)` out, best first (ties: lower input index first)."""
    n = len(scores)
    candidates = [i for i in range(n) if scores[i] >= min_score]
    if pre_nms_topk is not None:
        candidates = sorted(sorted(candidates, key=lambda i: (-scores[i], i))[:pre_nms_topk])

    groups = {}
    for i in candidates:
        groups.setdefault(None if class_agnostic else labels[i], []).append(i)

    picks = []  # (score when taken, index)
    for members in groups.values():
        live = {i: scores[i] for i in members}
        while live:
            best = max(live, key=lambda i: (live[i], -i))  # highest score, then lowest index
            picks.append((live.pop(best), best))
            for j in list(live):
                overlap = loop_iou(segments[best], segments[j])
                if method == "hard":
                    if overlap >= iou_threshold:
                        del live[j]
                    continue
                if method == "linear":
                    weight = 1.0 - overlap if overlap >= iou_threshold else 1.0
                else:  # Gaussian soft-NMS
                    weight = math.exp(-overlap * overlap / sigma)
                live[j] *= weight
                if live[j] < min_score:
                    del live[j]

    picks.sort(key=lambda p: (-p[0], p[1]))
    if max_segments is not None:
        picks = picks[:max_segments]

    out = []
    for score, k in picks:
        segment = list(segments[k])
        if voting_threshold:
            start = end = total = 0.0
            for j in candidates:
                same = class_agnostic or labels[j] == labels[k]
                if same and loop_iou(segments[k], segments[j]) >= voting_threshold:
                    start += scores[j] * segments[j][0]
                    end += scores[j] * segments[j][1]
                    total += scores[j]
            if total > 0:
                segment = [start / total, end / total]
        out.append((segment, score, labels[k]))
    return out
