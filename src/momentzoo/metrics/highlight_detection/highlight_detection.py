"""QVHighlights moment retrieval and highlight detection: MR mAP, HL mAP and HIT@1.

Loadable with `evaluate.load(momentzoo.metrics.path("highlight_detection"))` and importable as
`momentzoo.metrics.QVHighlightsMetric`; `compute_highlight_detection` is the same computation as a function.
"""

import datasets
import evaluate
import numpy as np
import torch

from momentzoo.metrics._common import check_iou_thresholds, is_number, paired_segment_iou

__all__ = ["MR_IOU_THRESHOLDS", "SALIENCY_THRESHOLDS", "QVHighlightsMetric", "compute_highlight_detection"]

MR_IOU_THRESHOLDS = tuple(np.round(np.linspace(0.5, 0.95, 10), 2).tolist())
# Minimum annotator score (0-4) for a clip to count as a highlight, as named by QVHighlights.
SALIENCY_THRESHOLDS = {"Fair": 2, "Good": 3, "VeryGood": 4}

_DESCRIPTION = """\
The QVHighlights evaluation (Lei et al., 2021, moment_detr's standalone_eval):

* MR mAP: per query, the predicted windows (at most `max_pred_windows`, best score first) are matched greedily
  to the ground-truth windows at each tIoU threshold (ActivityNet detection AP with all-point interpolation); AP
  is averaged over queries at each threshold (`MR-mAP@0.5`, `MR-mAP@0.75`, ...) and over the thresholds 0.5:0.05:0.95
  (`MR-mAP`).
* HL mAP: per query and annotator, the clips (2 s each) are ranked by predicted saliency; a clip is positive when
  the annotator gave it at least the threshold score (`VeryGood`: 4 by default; unannotated clips score 0); AP
  (all-point interpolation) is averaged over the 3 annotators, then over queries (`HL-mAP`).
* HIT@1: the clip with the highest predicted saliency is a hit when any annotator marks it positive (`HL-HIT@1`).

Values are fractions in [0, 1] (the paper tables multiply by 100).
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: per query, `{"windows": [{"segment": [s, e], "score": x}, ...], "saliency": [one score per clip]}`;
        either part may be empty (the query then scores 0 for it).
    references: per query, `{"windows": [[s, e], ...], "relevant_clip_ids": [...], "saliency_scores": [[a, b, c], ...],
        "duration": seconds}` (QVHighlights' fields).
    iou_thresholds: MR tIoU thresholds, default 0.5:0.05:0.95. saliency_threshold: "Fair", "Good" or "VeryGood"
    (default). clip_length: seconds per clip (2). max_pred_windows: windows kept per query (10).
Returns:
    `MR-mAP`, `MR-mAP@t` per threshold, `HL-mAP`, `HL-HIT@1`.
Examples:
    >>> metric = evaluate.load(momentzoo.metrics.path("highlight_detection"))
    >>> metric.compute(predictions=[{"windows": [{"segment": [0.0, 4.0], "score": 0.9}], "saliency": [0.1, 0.9]}],
    ...                references=[{"windows": [[0.0, 4.0]], "relevant_clip_ids": [1], "saliency_scores": [[4, 4, 2]],
    ...                             "duration": 4.0}])["HL-HIT@1"]
    1.0
"""

_CITATION = """\
@inproceedings{lei2021detecting,
  title={QVHighlights: Detecting Moments and Highlights in Videos via Natural Language Queries},
  author={Lei, Jie and Berg, Tamara L and Bansal, Mohit},
  booktitle={NeurIPS},
  year={2021}
}
"""


def _all_point_ap(hits: np.ndarray, num_positive: int) -> float:
    """Area under the precision-recall curve of ranked hits, precision made non-increasing (VOC all-point)."""
    if num_positive == 0 or len(hits) == 0:
        return 0.0
    tp = np.cumsum(hits)
    precision = tp / np.arange(1, len(hits) + 1)
    recall = tp / num_positive
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(precision * steps))


def _window_ap(pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """AP of one query's windows at each threshold: predictions by score (stable), each taking the unmatched
    ground truth of highest tIoU (ties: the earlier one) when that tIoU reaches the threshold."""
    if len(pred) == 0 or len(gt) == 0:
        return np.zeros(len(thresholds))
    pred = pred[np.argsort(-scores, kind="stable")]
    iou = paired_segment_iou(torch.from_numpy(pred)[:, None], torch.from_numpy(gt)[None]).numpy()
    result = []
    for t in thresholds:
        taken = np.zeros(len(gt), dtype=bool)
        hits = np.zeros(len(pred))
        for i in range(len(pred)):  # greedy matching is sequential by definition (few windows per query)
            candidates = np.where(~taken & (iou[i] >= t), iou[i], -1.0)
            j = int(np.argmax(candidates))
            if candidates[j] >= 0:
                taken[j], hits[i] = True, 1.0
        result.append(_all_point_ap(hits, len(gt)))
    return np.asarray(result)


def _check(predictions, references, clip_length):
    if not isinstance(predictions, (list, tuple)) or not isinstance(references, (list, tuple)):
        raise ValueError("predictions and references must be lists with one entry per query")
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} queries but references has {len(references)}")
    if not predictions:
        raise ValueError("no queries: the metrics are undefined")
    queries = []
    for i, (p, r) in enumerate(zip(predictions, references)):
        where = f"query {i}"
        for name, entry, keys in (
            ("predictions", p, ("windows", "saliency")),
            ("references", r, ("windows", "relevant_clip_ids", "saliency_scores", "duration")),
        ):
            if not isinstance(entry, dict) or any(k not in entry for k in keys):
                raise ValueError(f"{where}: {name} entry must be a dict with {list(keys)}")
        windows = [w["segment"] if isinstance(w, dict) else None for w in p["windows"]]
        if any(w is None or len(w) != 2 or not all(map(is_number, w)) or w[1] < w[0] for w in windows):
            raise ValueError(
                f"{where}: predicted windows must be {{'segment': [start, end], 'score'}} with end >= start"
            )
        scores = [w.get("score") for w in p["windows"]]
        if not all(map(is_number, scores)):
            raise ValueError(f"{where}: every predicted window needs a numeric score")
        duration = r["duration"]
        if not is_number(duration) or duration <= 0:
            raise ValueError(f"{where}: references duration must be a positive number, got {duration!r}")
        num_clips = int(np.ceil(duration / clip_length))
        clips, saliency = list(r["relevant_clip_ids"]), [list(s) for s in r["saliency_scores"]]
        if (
            len(clips) != len(saliency)
            or any(not 0 <= c < num_clips for c in clips)
            or any(len(s) != 3 for s in saliency)
        ):
            raise ValueError(
                f"{where}: relevant_clip_ids must be clip indices below {num_clips} with one "
                f"[a, b, c] saliency_scores entry each"
            )
        pred_saliency = np.asarray(p["saliency"], dtype=np.float64)
        if len(pred_saliency) and len(pred_saliency) != num_clips:
            raise ValueError(f"{where}: saliency has {len(pred_saliency)} scores but the video has {num_clips} clips")
        gt_windows = np.asarray(r["windows"], dtype=np.float64).reshape(-1, 2)
        queries.append(
            (
                np.asarray(windows, dtype=np.float64).reshape(-1, 2),
                np.asarray(scores, dtype=np.float64),
                gt_windows,
                num_clips,
                clips,
                np.asarray(saliency).reshape(-1, 3),
                pred_saliency,
            )
        )
    return queries


def compute_highlight_detection(
    predictions,
    references,
    iou_thresholds=MR_IOU_THRESHOLDS,
    saliency_threshold: str = "VeryGood",
    clip_length: float = 2.0,
    max_pred_windows: int = 10,
) -> dict:
    """The `highlight_detection` metric as a function (inputs and outputs of `QVHighlightsMetric.compute`)."""
    thresholds = check_iou_thresholds(iou_thresholds)
    if saliency_threshold not in SALIENCY_THRESHOLDS:
        raise ValueError(f"saliency_threshold must be one of {list(SALIENCY_THRESHOLDS)}, got {saliency_threshold!r}")
    minimum = SALIENCY_THRESHOLDS[saliency_threshold]
    mr, hl, hit = [], [], []
    for pred, scores, gt, num_clips, clips, saliency, pred_saliency in _check(predictions, references, clip_length):
        order = np.argsort(-scores, kind="stable")[:max_pred_windows]
        mr.append(_window_ap(pred[order], scores[order], gt, thresholds))
        labels = np.zeros((num_clips, 3))
        labels[clips] = saliency >= minimum
        if len(pred_saliency) == 0:
            hl.append(0.0)
            hit.append(0.0)
            continue
        ranking = np.argsort(-pred_saliency, kind="stable")
        hl.append(float(np.mean([_all_point_ap(labels[ranking, a], int(labels[:, a].sum())) for a in range(3)])))
        hit.append(float(labels[ranking[0]].max()))
    mr = np.stack(mr).mean(axis=0)
    result = {"MR-mAP": float(mr.mean())}
    result.update({f"MR-mAP@{t:g}": float(v) for t, v in zip(thresholds, mr)})
    result.update({"HL-mAP": float(np.mean(hl)), "HL-HIT@1": float(np.mean(hit))})
    return result


_WINDOW = {"segment": datasets.List(datasets.Value("float64")), "score": datasets.Value("float64")}
_FEATURES = datasets.Features(
    {
        "predictions": {"windows": datasets.List(_WINDOW), "saliency": datasets.List(datasets.Value("float64"))},
        "references": {
            "windows": datasets.List(datasets.List(datasets.Value("float64"))),
            "relevant_clip_ids": datasets.List(datasets.Value("int64")),
            "saliency_scores": datasets.List(datasets.List(datasets.Value("int64"))),
            "duration": datasets.Value("float64"),
        },
    }
)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class QVHighlightsMetric(evaluate.Metric):
    """MR mAP, HL mAP and HIT@1 of QVHighlights (see README.md)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=_FEATURES,
            reference_urls=["https://arxiv.org/abs/2107.09609"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch of queries (a clear `ValueError` naming the query and field), then add it.\n"""
        _check(predictions, references, kwargs.pop("clip_length", 2.0))
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one query, then add it.\n"""
        _check([prediction], [reference], 2.0)
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(
        self,
        predictions,
        references,
        iou_thresholds=MR_IOU_THRESHOLDS,
        saliency_threshold="VeryGood",
        clip_length=2.0,
        max_pred_windows=10,
    ):
        return compute_highlight_detection(
            predictions, references, iou_thresholds, saliency_threshold, clip_length, max_pred_windows
        )
