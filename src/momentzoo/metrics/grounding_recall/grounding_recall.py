"""Temporal video grounding recall R{k}@{m} and mIoU.

Loadable with `evaluate.load(momentzoo.metrics.path("grounding_recall"))` (evaluate runs a copy of this file)
and importable as `momentzoo.metrics.TemporalGroundingRecall`; `compute_grounding_recall` is the same
computation as a plain function.
"""

import datasets
import evaluate
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from momentzoo.metrics._common import check_iou_thresholds, is_number, paired_segment_iou
from momentzoo.rewards.parsing import parse_windows

__all__ = [
    "TemporalGroundingRecall",
    "compute_grounding_recall",
    "normalize_grounding_inputs",
    "DEFAULT_RANKS",
    "DEFAULT_IOU_THRESHOLDS",
]

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
        model's raw text answer, parsed into windows by `momentzoo.rewards.parsing.parse_windows`. The grounding
        pipeline's output is accepted as it is (`[{"segment": [s, e], "score"}]` per query, ranked by score, or
        its `return_answer=True` dicts), and so are tensors/arrays: (queries, 2) or (queries, windows, 2).
    references: per query (same order), a non-empty list of ground-truth windows `[start, end]` (or a tensor as
        above).
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


def _plain_window(window):
    """One window as a list of Python numbers: a `{"segment": [s, e], ...}` dict (a pipeline's output), a tensor,
    an array, or numpy scalars."""
    if isinstance(window, dict) and "segment" in window:
        window = window["segment"]
    if isinstance(window, (torch.Tensor, np.ndarray)):
        return window.tolist()
    if isinstance(window, (list, tuple)):
        return [x.item() if isinstance(x, (np.generic, torch.Tensor)) else x for x in window]
    return window


def _plain_query(entry):
    """One query's prediction or references as a list of windows (or the raw text answer, kept as it is). A
    pipeline's `{"predictions": [...], "answer": ...}` (`return_answer=True`) gives its predictions; dicts with a
    `score` are ranked by it, best first."""
    if isinstance(entry, dict) and "predictions" in entry:
        entry = entry["predictions"]
    if isinstance(entry, (torch.Tensor, np.ndarray)):
        entry = entry.tolist()
    if not isinstance(entry, (list, tuple)):
        return entry
    if entry and all(isinstance(w, dict) and "score" in w for w in entry):
        entry = sorted(entry, key=lambda w: -float(w["score"]))
    return [_plain_window(w) for w in entry]


def normalize_grounding_inputs(value, name: str):
    """`predictions` or `references` in the metric's own form (per query, a list of `[start, end]`, or raw
    text): also accepts the grounding pipeline's outputs and tensors or arrays of shape (queries, 2) (one window
    per query) or (queries, windows, 2)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.ndim == 2 and value.shape[1] == 2:
            return [[window] for window in value.tolist()]
        if value.ndim == 3 and value.shape[2] == 2:
            return value.tolist()
        raise ValueError(
            f"{name}: a tensor of windows must have shape (queries, 2) or (queries, windows, 2), got "
            f"{tuple(value.shape)}"
        )
    if not isinstance(value, (list, tuple)):
        return value  # refused with a clear error by the checks
    return [_plain_query(entry) for entry in value]


def _windows(entry, where: str, allow_empty: bool) -> list:
    """Check one query's list of windows: each two finite numbers with end >= start."""
    if isinstance(entry, (list, tuple)) and len(entry) == 2 and all(map(is_number, entry)):
        raise ValueError(
            f"{where}: expected a list of [start, end] windows, got one window {list(entry)!r}; wrap it as [[start, end]]"
        )
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


class _Windows:
    """Every query's windows as one flat (n, 2) float64 array plus per-query offsets (query i owns rows
    `offsets[i]:offsets[i + 1]`), the columnar form the metric computes on."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values, self.offsets = values, offsets

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def from_lists(cls, window_lists: list) -> "_Windows":
        counts = np.fromiter((len(w) for w in window_lists), dtype=np.int64, count=len(window_lists))
        flat = np.array([x for w in window_lists for window in w for x in window], dtype=np.float64).reshape(-1, 2)
        return cls(flat, np.concatenate([[0], np.cumsum(counts)]))


def _columnar(entries, allow_empty: bool) -> "_Windows | None":
    """The fast path: Arrow converts the nested lists in C and the checks run on whole arrays. Returns None when
    anything is off (not lists of pairs of ints/floats, bools, non-finite, end < start, a missing reference): the
    per-query check then runs and names the query and window."""
    try:
        array = pa.array(entries)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return None
    if not pa.types.is_list(array.type):
        return None
    if pa.types.is_null(array.type.value_type):  # every query without a window
        values = np.zeros((0, 2))
    else:
        if not pa.types.is_list(array.type.value_type):
            return None
        leaf = array.type.value_type.value_type
        if not (pa.types.is_integer(leaf) or pa.types.is_floating(leaf)):
            return None
        windows = array.values
        if array.null_count or windows.null_count or windows.values.null_count:
            return None
        if len(windows) and not np.all(pc.list_value_length(windows).to_numpy(zero_copy_only=False) == 2):
            return None
        values = windows.values.to_numpy(zero_copy_only=False).astype(np.float64, copy=False).reshape(-1, 2)
        if not np.isfinite(values).all() or (values[:, 1] < values[:, 0]).any():
            return None
    offsets = array.offsets.to_numpy(zero_copy_only=False).astype(np.int64)
    offsets = offsets - offsets[0]
    if not allow_empty and (np.diff(offsets) == 0).any():
        return None
    return _Windows(values, offsets)


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
    if isinstance(ranks, int) or not all(
        isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1 for k in ranks
    ):
        raise ValueError(f"ranks must be a list of positive integers, got {ranks!r}")
    if not ranks or len(set(ranks)) != len(ranks):
        raise ValueError(f"ranks must be a non-empty list without duplicates, got {ranks!r}")
    thresholds = check_iou_thresholds(iou_thresholds)
    return [int(k) for k in ranks], thresholds


def _padded(windows: _Windows, width: int, queries: slice) -> tuple[torch.Tensor, torch.Tensor]:
    """(q, width, 2) float64 windows and a (q, width) validity mask for `queries` (each cut at `width`)."""
    offsets = windows.offsets[queries.start : queries.stop + 1]
    counts = np.minimum(np.diff(offsets), width)
    query = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    out = np.zeros((len(counts), max(width, 1), 2))
    valid = np.zeros((len(counts), max(width, 1)), dtype=bool)
    out[query, position] = windows.values[offsets[:-1][query] + position]
    valid[query, position] = True
    return torch.from_numpy(out), torch.from_numpy(valid)


# Queries scored at once: bounds the (chunk, K, R) IoU temporaries whatever the number of queries.
_CHUNK = 1 << 16


def compute_grounding_recall(
    predictions, references, ranks=DEFAULT_RANKS, iou_thresholds=DEFAULT_IOU_THRESHOLDS, strict=True, percent=False
) -> dict:
    """The `grounding_recall` metric as a function: the inputs and output of `TemporalGroundingRecall.compute`.

    Window lists go through Arrow and whole-array checks (1M queries x 5 windows in seconds); raw text answers,
    and any input the fast checks reject, through the per-query checks that name the query and window."""
    ranks, thresholds = _check_options(ranks, iou_thresholds)
    predictions = normalize_grounding_inputs(predictions, "predictions")
    references = normalize_grounding_inputs(references, "references")
    for name, value in (("predictions", predictions), ("references", references)):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list with one entry per query, got {type(value).__name__}")
    text = any(isinstance(p, str) for p in predictions)
    preds = None if text else _columnar(predictions, allow_empty=True)
    refs = _columnar(references, allow_empty=False)
    if preds is None or refs is None or len(preds) != len(refs):
        checked_preds, checked_refs = _check_inputs(predictions, references)
        preds, refs = _Windows.from_lists(checked_preds), _Windows.from_lists(checked_refs)
    if not len(preds):
        raise ValueError("no queries: recall is undefined")
    width, ref_width = max(ranks), int(refs.counts.max())
    # tIoU of each of the top windows with its best-matching reference: (Q, K), chunk by chunk.
    iou = torch.zeros((len(preds), width), dtype=torch.float64)
    for start in range(0, len(preds), _CHUNK):
        queries = slice(start, min(start + _CHUNK, len(preds)))
        pred_windows, pred_valid = _padded(preds, width, queries)
        ref_windows, ref_valid = _padded(refs, ref_width, queries)
        chunk = paired_segment_iou(pred_windows[:, :, None], ref_windows[:, None, :])
        iou[queries] = chunk.masked_fill(~(pred_valid[:, :, None] & ref_valid[:, None, :]), 0.0).amax(dim=2)
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
        predictions = normalize_grounding_inputs(predictions, "predictions")
        references = normalize_grounding_inputs(references, "references")
        self._check_batch(predictions, references)
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one query's prediction and references, then add them.\n"""
        prediction, reference = _plain_query(prediction), _plain_query(reference)
        self._check_batch([prediction], [reference])
        super().add(prediction=prediction, reference=reference, **kwargs)

    def _compute(
        self,
        predictions,
        references,
        ranks=DEFAULT_RANKS,
        iou_thresholds=DEFAULT_IOU_THRESHOLDS,
        strict=True,
        percent=False,
    ):
        return compute_grounding_recall(
            predictions, references, ranks=ranks, iou_thresholds=iou_thresholds, strict=strict, percent=percent
        )
