"""A plain-Python loop implementation of the ActivityNet detection mAP, written straight from the protocol.

Used by the tests and `benchmarks/bench_tal_map.py` as the reference the vectorised `tal_map` must match.
"""

import numpy as np

__all__ = ["loop_tal_map", "loop_iou"]


def loop_iou(a, b) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(0.0, a[1] - a[0]) + max(0.0, b[1] - b[0]) - inter
    return inter / union if union > 0 else 0.0


def _interpolated_ap(tp: list, num_positives: int) -> float:
    """VOC2011 all-point interpolation, as ActivityNet's `interpolated_prec_rec`."""
    tp_cum = fp_cum = 0.0
    precision, recall = [], []
    for hit in tp:
        tp_cum += hit
        fp_cum += 1 - hit
        precision.append(tp_cum / (tp_cum + fp_cum))
        recall.append(tp_cum / num_positives)
    mprec = [0.0] + precision + [0.0]
    mrec = [0.0] + recall + [1.0]
    for i in range(len(mprec) - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    terms = [(mrec[i] - mrec[i - 1]) * mprec[i] for i in range(1, len(mrec)) if mrec[i] != mrec[i - 1]]
    return float(np.sum(terms))


def loop_tal_map(predictions, references, iou_thresholds=(0.3, 0.4, 0.5, 0.6, 0.7), ignore_labels=()):
    gt = {}  # label -> video -> list of segments (input order)
    for v, items in enumerate(references):
        for item in items:
            if item["label"] not in ignore_labels:
                gt.setdefault(item["label"], {}).setdefault(v, []).append(item["segment"])
    per_class = {}
    for label in sorted(gt):
        preds = [
            (p["score"], v, p["segment"]) for v, items in enumerate(predictions) for p in items if p["label"] == label
        ]
        # Descending score; Python's sort is stable, so ties keep input order.
        preds = sorted(preds, key=lambda x: -x[0])
        num_positives = sum(len(s) for s in gt[label].values())
        aps = []
        for threshold in iou_thresholds:
            taken = {v: [False] * len(s) for v, s in gt[label].items()}
            tp = []
            for _, v, segment in preds:
                best, best_iou = -1, -1.0
                for j, g in enumerate(gt[label].get(v, [])):
                    iou = loop_iou(segment, g)
                    if not taken[v][j] and iou >= threshold and iou > best_iou:
                        best, best_iou = j, iou
                if best >= 0:
                    taken[v][best] = True
                tp.append(1 if best >= 0 else 0)
            aps.append(_interpolated_ap(tp, num_positives) if tp else 0.0)
        per_class[label] = aps
    result = {}
    for i, threshold in enumerate(iou_thresholds):
        result[f"mAP@{threshold:g}"] = float(np.mean([aps[i] for aps in per_class.values()]))
    result["average_mAP"] = float(np.mean(list(result.values())))
    result["per_class_AP"] = per_class
    return result
