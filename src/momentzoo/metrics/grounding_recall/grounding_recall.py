"""Temporal video grounding recall R{k}@{m} and mIoU.

Loadable with `evaluate.load(momentzoo.metrics.path("grounding_recall"))` (evaluate runs a copy of this file)
and importable as `momentzoo.metrics.TemporalGroundingRecall`; `compute_grounding_recall` is the same
computation as a plain function.
"""

import datasets
import evaluate
import numpy as np
import torch

from momentzoo.metrics._common import check_iou_thresholds, is_number, paired_segment_iou
from momentzoo.rewards.parsing import parse_windows

__all__ = ["TemporalGroundingRecall", "compute_grounding_recall", "DEFAULT_RANKS", "DEFAULT_IOU_THRESHOLDS"]

DEFAULT_RANKS = (1, 5)
DEFAULT_IOU_THRESHOLDS = (0.3, 0.5, 0.7)

_DESCRIPTION = """\
Recall of temporal video grounding: R{k}@{m} is the fraction of queries for which at least one of the top-k
predicted windows has a temporal IoU (tIoU) > m with a ground-truth window of the query (the default
`strict=True`, the convention of Time-R1 and Invert4TVG; >= m with `strict=False`). mIoU is the mean, over queries, of the
tIoU between the top-1 window and its best-matching ground-truth window. A query without any predicted
window (an empty list, or a model answer that does not parse) scores tIoU 0: it counts as a miss, never
as a skipped query.
"""

_CITATION = """\
@inproceedings{gao2017tall,
  title={TALL: Temporal Activity Localization via Language Query},
  author={Gao, Jiyang and Sun, Chen and Yang, Zhenheng and Nevatia, Ram},
  booktitle={ICCV},
  year={2017}
}
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: per query, a ranked list of windows `[start, end]` (best first; may be empty), or the
        model's raw text answer, parsed into windows by `momentzoo.rewards.parsing.parse_windows`.
    references: per query (same order), a non-empty list of ground-truth windows `[start, end]`.
    ranks: the k of R{k}@{m}, default (1, 5). Queries with fewer than k windows use the ones they have.
    iou_thresholds: the m of R{k}@{m}, in (0, 1], default (0.3, 0.5, 0.7).
    strict: count a hit when tIoU > m (default True, as the papers) instead of tIoU >= m.
    percent: report every value in % (0-100) as the papers' tables do, instead of fractions (default False).
Returns:
    `R{k}@{m:g}` for every rank and threshold, and `mIoU`, fractions in [0, 1] (or % with `percent=True`).
Examples:
    >>> import evaluate, momentzoo.metrics
    >>> recall = evaluate.load(momentzoo.metrics.path("grounding_recall"))
    >>> recall.compute(predictions=[[[2.0, 6.0]], []], references=[[[2.0, 8.0]], [[1.0, 3.0]]], ranks=[1])
    {'R1@0.3': 0.5, 'R1@0.5': 0.5, 'R1@0.7': 0.0, 'mIoU': 0.3333333333333333}
"""


def _windows(entry, where: str, allow_empty: bool) -> list:
    """Check one query's list of windows: each two finite numbers with end >= start."""
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(map(is_number, entry)):
        raise ValueError(f"{where}: expected a list of [start, end] windows, got one window {list(entry)!r}; wrap it as [[start, end]]")
    if not isinstance(entry, (list, tuple)):
        raise ValueError(f"{where}: expected a list of [start, end] windows, got {type(entry).__name__}")
    if not entry and not allow_empty:
        raise ValueError(f"{where}: no ground-truth window (recall is undefined)")
    for j, window in enumerate(entry):
        if not (isinstance(window, (list, tuple)) and len(window) == 2 and all(map(is_number, window))):
            raise ValueError(f"{where}, window {j}: expected two numbers [start, end], got {window!r}")
        if not all(np.isfinite(window)):
            raise ValueError(f"{where}, window {j}: not finite: {list(window)!r}")
        if window[1] < window[0]:
            raise ValueError(f"{where}, window {j}: end < start: {list(window)!r}")
    return entry


def _check_inputs(predictions, references) -> tuple[list, list]:
    """Validated per-query window lists (raw text answers parsed); errors name the query and field."""
    for name, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list with one entry per query, got {type(value).__name__}")
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} queries but references has {len(references)}")
    kinds = {isinstance(p, str) for p in predictions}
    if len(kinds) > 1:
        i = next(i for i, p in enumerate(predictions) if isinstance(p, str) != isinstance(predictions[0], str))
        raise ValueError(f"predictions of query {i}: mixes raw text answers and window lists; use one kind")
    preds = [
        [list(w) for w in parse_windows(p)] if isinstance(p, str) else _windows(p, f"predictions of query {i}", True)
        for i, p in enumerate(predictions)
    ]
    refs = [_windows(r, f"references of query {i}", False) for i, r in enumerate(references)]
    return preds, refs


def _check_options(ranks, iou_thresholds) -> tuple[list[int], list[float]]:
    if isinstance(ranks, int) or not all(isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in ranks):
        raise ValueError(f"ranks must be a list of positive integers, got {ranks!r}")
    if not ranks or len(set(ranks)) != len(ranks):
        raise ValueError(f"ranks must be a non-empty list without duplicates, got {ranks!r}")
    thresholds = check_iou_thresholds(iou_thresholds)
    return [int(k) for k in ranks], thresholds


def _padded(window_lists: list, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(Q, width, 2) float64 windows and a (Q, width) validity mask from per-query lists (cut at width)."""
    counts = np.array([min(len(w), width) for w in window_lists], dtype=np.int64)
    flat = np.array([x for w in window_lists for x in w[:width]], dtype=np.float64).reshape(-1, 2)
    query = np.repeat(np.arange(len(window_lists)), counts)
    position = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
    windows = np.zeros((len(window_lists), max(width, 1), 2))
    valid = np.zeros((len(window_lists), max(width, 1)), dtype=bool)
    windows[query, position], valid[query, position] = flat, True
    return torch.from_numpy(windows), torch.from_numpy(valid)


def compute_grounding_recall(
    predictions, references, ranks=DEFAULT_RANKS, iou_thresholds=DEFAULT_IOU_THRESHOLDS, strict=True, percent=False
) -> dict:
    """The `grounding_recall` metric as a function: the inputs and output of `TemporalGroundingRecall.compute`."""
    ranks, thresholds = _check_options(ranks, iou_thresholds)
    preds, refs = _check_inputs(predictions, references)
    if not preds:
        raise ValueError("no queries: recall is undefined")
    pred_windows, pred_valid = _padded(preds, max(ranks))
    ref_windows, ref_valid = _padded(refs, max(map(len, refs)))
    # tIoU of each of the top windows with its best-matching reference: (Q, K).
    iou = paired_segment_iou(pred_windows[:, :, None], ref_windows[:, None, :])
    iou = iou.masked_fill(~(pred_valid[:, :, None] & ref_valid[:, None, :]), 0.0).amax(dim=2)
    result = {}
    for k in ranks:
        best = iou[:, :k].amax(dim=1)
        for m in thresholds:
            hit = best > m if strict else best >= m
            result[f"R{k}@{m:g}"] = hit.double().mean().item()
    result["mIoU"] = iou[:, 0].mean().item()
    if not isinstance(percent, bool):
        raise ValueError(f"percent must be True or False, got {percent!r}")
    return {key: 100.0 * value for key, value in result.items()} if percent else result


def _features(prediction: datasets.features.features.FeatureType) -> datasets.Features:
    window = datasets.List(datasets.Value("float64"))
    return datasets.Features({"predictions": prediction, "references": datasets.List(window)})


# Predictions are window lists or raw text answers; the Arrow schema is picked from the first prediction.
_FEATURES = {
    "windows": _features(datasets.List(datasets.List(datasets.Value("float64")))),
    "text": _features(datasets.Value("string")),
}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TemporalGroundingRecall(evaluate.Metric):
    """R{k}@{m} and mIoU for temporal video grounding (see the module card, README.md)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=list(_FEATURES.values()),
            reference_urls=["https://arxiv.org/abs/1705.02101"],
        )

    def _select_features(self, first_prediction) -> datasets.Features:
        if self.selected_feature_format is not None:
            return self.selected_feature_format
        return _FEATURES["text" if isinstance(first_prediction, str) else "windows"]

    def _infer_feature_from_batch(self, batch):
        return self._select_features(batch["predictions"][0] if len(batch["predictions"]) else None)

    def _infer_feature_from_example(self, example):
        return self._select_features(example["predictions"])

    def _check_batch(self, predictions, references):
        _check_inputs(predictions, references)
        if self.selected_feature_format is not None and len(predictions):
            text = self.selected_feature_format == _FEATURES["text"]
            if isinstance(predictions[0], str) != text:
                raise ValueError(
                    f"predictions are {'window lists' if text else 'raw text'} but earlier batches held "
                    f"{'raw text' if text else 'window lists'}: use one kind"
                )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch of queries (a clear `ValueError` naming the query and field), then add it.\n"""
        self._check_batch(predictions, references)
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one query's prediction and references, then add them.\n"""
        self._check_batch([prediction], [reference])
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(self, predictions, references, ranks=DEFAULT_RANKS, iou_thresholds=DEFAULT_IOU_THRESHOLDS, strict=True, percent=False):
        return compute_grounding_recall(predictions, references, ranks=ranks, iou_thresholds=iou_thresholds, strict=strict, percent=percent)
