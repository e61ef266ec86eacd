"""Temporal action localization mAP at temporal-IoU thresholds: the ActivityNet detection protocol.

Loadable with `evaluate.load(momentzoo.metrics.path("tal_map"))` (evaluate runs a copy of this file) and
importable as `momentzoo.metrics.TemporalActionLocalizationMAP`. `compute_tal_map` is the same computation
as a plain function, without evaluate's Arrow round trip.
"""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import datasets
import evaluate
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from momentzoo.metrics._common import check_iou_thresholds, is_number, paired_segment_iou

__all__ = ["TemporalActionLocalizationMAP", "compute_tal_map", "DEFAULT_IOU_THRESHOLDS"]

DEFAULT_IOU_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)

_DESCRIPTION = """\
Mean average precision (mAP) of temporal action localization at temporal-IoU (tIoU) thresholds, computed
exactly as the ActivityNet detection evaluation does: per class, predictions are taken in descending score
(ties keep input order); each takes the highest-tIoU ground truth of its class in its video that is not yet
taken at that threshold, if that tIoU is >= the threshold, and is otherwise a false positive. AP is the
VOC2011 all-point interpolated area under the precision-recall curve. A class with ground truth but no
predictions scores 0; mAP averages over the classes that have ground truth.
"""

_CITATION = """\
@inproceedings{caba2015activitynet,
  title={ActivityNet: A Large-Scale Video Benchmark for Human Activity Understanding},
  author={Caba Heilbron, Fabian and Escorcia, Victor and Ghanem, Bernard and Niebles, Juan Carlos},
  booktitle={CVPR},
  year={2015}
}
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: per video, a list of `{"segment": [start, end], "score": float, "label": str or int}`
        (seconds, or any unit shared with the references).
    references: per video (same order), a list of `{"segment": [start, end], "label": str or int}`.
    iou_thresholds: tIoU thresholds in (0, 1], default (0.3, 0.4, 0.5, 0.6, 0.7).
    ignore_labels: labels whose ground truth and predictions are dropped first (THUMOS14's "Ambiguous").
Returns:
    `mAP@{t:g}` for each threshold, `average_mAP` (their mean) and `per_class_AP`
    (`{label: [AP at each threshold]}` for every class with ground truth), all fractions in [0, 1].
Examples:
    >>> import evaluate, momentzoo.metrics
    >>> tal_map = evaluate.load(momentzoo.metrics.path("tal_map"))
    >>> refs = [[{"segment": [1.0, 5.0], "label": "Jump"}]]
    >>> preds = [[{"segment": [1.5, 5.0], "score": 0.9, "label": "Jump"}]]
    >>> tal_map.compute(predictions=preds, references=refs, iou_thresholds=[0.5, 0.9])
    {'mAP@0.5': 1.0, 'mAP@0.9': 0.0, 'average_mAP': 0.5, 'per_class_AP': {'Jump': [1.0, 0.0]}}
"""


@dataclass
class _Flat:
    """One side (predictions or references) flattened over videos."""

    field: str
    video: np.ndarray  # (n,) int64, the video index of each item, non-decreasing
    segments: np.ndarray  # (n, 2) float64
    scores: np.ndarray | None  # (n,) float64, predictions only
    codes: np.ndarray  # (n,) int64, each item's label as an index into `vocab`
    vocab: list  # the distinct labels (str or int)
    label_kind: str | None  # "str", "int", or None when there are no items
    video_ids: list | None = None  # names for error messages

    def where(self, i: int) -> str:
        """'video v, item j' for flat row i."""
        v = int(self.video[i])
        return f"{_video_name(v, self.video_ids)}, item {i - int(np.searchsorted(self.video, v, side='left'))}"

    def check_values(self):
        """Finite segments with end >= start, finite scores."""
        bad = np.flatnonzero(~np.isfinite(self.segments).all(axis=1))
        if len(bad):
            raise ValueError(
                f"{self.field} of {self.where(bad[0])}: 'segment' must be finite, got {self.segments[bad[0]].tolist()}"
            )
        bad = np.flatnonzero(self.segments[:, 1] < self.segments[:, 0])
        if len(bad):
            raise ValueError(
                f"{self.field} of {self.where(bad[0])}: 'segment' end < start: {self.segments[bad[0]].tolist()}"
            )
        if self.scores is not None:
            bad = np.flatnonzero(~np.isfinite(self.scores))
            if len(bad):
                raise ValueError(
                    f"{self.field} of {self.where(bad[0])}: 'score' must be finite, got {self.scores[bad[0]]}"
                )
        return self


def _video_name(v: int, video_ids) -> str:
    return f"video {v}" if video_ids is None else f"video {video_ids[v]!r}"


def _label_kind(label) -> str | None:
    if isinstance(label, str):
        return "str"
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        return "int"
    return None


def _check_items(entries, field: str, keys: tuple[str, ...], video_ids=None):
    """Item-by-item check, run only when the column-wise conversion in `_flatten` fails: raises the precise error."""
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"{field} must be a list with one list of dicts per video, got {type(entries).__name__}")
    first_kind = None
    for v, items in enumerate(entries):
        if not isinstance(items, (list, tuple)):
            raise ValueError(
                f"{field} of {_video_name(v, video_ids)}: expected a list of dicts, got {type(items).__name__}"
            )
        for j, item in enumerate(items):
            where = f"{field} of {_video_name(v, video_ids)}, item {j}"
            if not isinstance(item, Mapping):
                raise ValueError(f"{where}: expected a dict with {list(keys)}, got {type(item).__name__}")
            missing = [k for k in keys if k not in item]
            if missing:
                raise ValueError(f"{where}: missing field {missing[0]!r} (needs {list(keys)})")
            segment = item["segment"]
            if not (isinstance(segment, (list, tuple)) and len(segment) == 2 and all(map(is_number, segment))):
                raise ValueError(f"{where}: 'segment' must be two numbers [start, end], got {segment!r}")
            if "score" in keys and not is_number(item["score"]):
                raise ValueError(f"{where}: 'score' must be a number, got {item['score']!r}")
            kind = _label_kind(item["label"])
            if kind is None:
                raise ValueError(f"{where}: 'label' must be a str or an int, got {item['label']!r}")
            if first_kind is not None and kind != first_kind:
                raise ValueError(f"{where}: 'label' {item['label']!r} is a {kind} but earlier labels are {first_kind}s")
            first_kind = kind


def _first_label_kind(entries) -> str | None:
    for items in entries:
        for item in items if isinstance(items, (list, tuple)) else ():
            if isinstance(item, Mapping) and "label" in item:
                return _label_kind(item["label"])
    return None


def _flatten(entries, field: str, with_score: bool, video_ids=None, label_kind=None) -> tuple[_Flat, pa.Array]:
    """Validate per-video lists of dicts and flatten them; also returns them as an Arrow column of the metric's
    feature type (what `add_batch` writes to evaluate's cache).

    pyarrow converts the whole list at C speed to that type, which rejects strings for numbers, segments that
    are not two values and labels of the other kind (numbers are Python or NumPy ints and floats; booleans
    count as 0/1, as in Python). Anything it rejects, and any missing value, sends the input to
    `_check_items`, which walks the items and raises an error naming the video, item and field.
    """
    if isinstance(entries, pa.Array):  # already an Arrow column of the feature type (a streamed file)
        return _flatten_arrow(entries, field, with_score, video_ids), entries
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"{field} must be a list with one list of dicts per video, got {type(entries).__name__}")
    keys = ("segment", "score", "label") if with_score else ("segment", "label")
    kind = _first_label_kind(entries) or label_kind or "str"
    error = None
    try:
        array = pa.array(entries, type=_FEATURES[kind].arrow_schema.field(field).type)
        items = array.flatten()
        complete = array.null_count == 0 and items.null_count == 0
        complete = complete and all(pc.struct_field(items, k).null_count == 0 for k in keys)
        complete = complete and pc.list_flatten(pc.struct_field(items, "segment")).null_count == 0
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as err:
        complete, error = False, err
    if not complete:
        _check_items(entries, field, keys, video_ids)
        raise ValueError(f"{field}: cannot be read as per-video lists of dicts with {list(keys)} ({error})")
    return _flatten_arrow(array, field, with_score, video_ids), array


def _flatten_arrow(column, field: str, with_score: bool, video_ids=None) -> _Flat:
    """A side read column-wise from its Arrow column (also how `_compute` reads evaluate's cache)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    counts = array.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    items = array.flatten()
    segments = pc.list_flatten(pc.struct_field(items, "segment")).to_numpy(zero_copy_only=False)
    labels = pc.dictionary_encode(pc.struct_field(items, "label"))
    vocab = labels.dictionary.to_pylist()
    return _Flat(
        field=field,
        video=np.repeat(np.arange(len(array), dtype=np.int64), counts),
        segments=segments.astype(np.float64).reshape(-1, 2),
        scores=pc.struct_field(items, "score").to_numpy(zero_copy_only=False).astype(np.float64)
        if with_score
        else None,
        codes=labels.indices.to_numpy(zero_copy_only=False).astype(np.int64),
        vocab=vocab,
        label_kind=_label_kind(vocab[0]) if vocab else None,
        video_ids=video_ids,
    ).check_values()


def _grouped_searchsorted(g_group, g_value, q_group, q_value, side: str) -> np.ndarray:
    """`searchsorted` of queries (group, value) into ground truth sorted by (group, value): per query, the
    number of rows before it (rows with an equal value counted when side="right"). Exact: values become
    their rank among the distinct ground-truth values, so (group, rank) packs into one integer key."""
    distinct = np.unique(g_value)
    width = len(distinct) + 1
    g_key = g_group * width + np.searchsorted(distinct, g_value)
    q_key = q_group * width + np.searchsorted(distinct, q_value, side=side)
    return np.searchsorted(g_key, q_key, side="left")


def _candidate_pairs(p_group, p_seg, g_group, g_seg, min_threshold):
    """Every (prediction, ground truth of the same class and video) pair with tIoU >= `min_threshold`.

    tIoU >= t needs the ground-truth start within [end - length / t, end - t * length] of the prediction,
    so, with ground truth sorted by (group, start), each prediction only looks at one contiguous run
    (widened by a hair against rounding; the exact tIoU then decides). Returns (pred, gt, iou) sorted by pred.
    """
    by_start = np.lexsort((np.arange(len(g_group)), g_seg[:, 0], g_group))
    end, length = p_seg[:, 1], p_seg[:, 1] - p_seg[:, 0]
    margin = 1e-9 * (np.abs(end) + length / min_threshold + 1.0)
    g_group, g_start = g_group[by_start], g_seg[by_start, 0]
    lo = _grouped_searchsorted(g_group, g_start, p_group, end - length / min_threshold - margin, "left")
    hi = _grouped_searchsorted(g_group, g_start, p_group, end - min_threshold * length + margin, "right")
    counts = np.where(p_group >= 0, np.maximum(hi - lo, 0), 0)
    pair_pred = np.repeat(np.arange(len(p_group)), counts)
    pair_gt = by_start[
        np.repeat(lo, counts) + np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    ]
    iou = paired_segment_iou(torch.from_numpy(p_seg[pair_pred]), torch.from_numpy(g_seg[pair_gt])).numpy()
    keep = iou >= min_threshold
    return pair_pred[keep], pair_gt[keep], iou[keep]


def _match(p_group, p_seg, g_group, g_seg, thresholds) -> np.ndarray:
    """Greedy ActivityNet matching of every prediction at every threshold. Returns tp (T, N) bool.

    Predictions arrive sorted by (class, descending score, input order); a group is a (class, video) pair
    (`p_group` is -1 where the class has no ground truth). Matching is sequential only among predictions
    that compete for the same ground truth (an earlier one takes it from later ones), so step k handles the
    k-th candidate of every connected component of the candidate/ground-truth graph at once, for all
    thresholds together.
    """
    tp = np.zeros((len(thresholds), len(p_group)), dtype=bool)
    pair_pred, pair_gt, iou = _candidate_pairs(p_group, p_seg, g_group, g_seg, thresholds.min())
    if len(pair_pred) == 0:
        return tp
    candidates, pair_cand = np.unique(pair_pred, return_inverse=True)
    # Candidates interact only through shared ground truth, so the unit of sequential work is a connected
    # component of the candidate-ground-truth graph (usually one action instance and its detections),
    # not a whole (class, video) group: far fewer steps.
    num_cand = len(candidates)
    graph = coo_matrix((np.ones(len(pair_cand)), (pair_cand, num_cand + pair_gt)), shape=(num_cand + len(g_seg),) * 2)
    cand_group = connected_components(graph, directed=False)[1][:num_cand]
    # Rank of each candidate within its component, in score order (candidates are already in that order).
    by_group = np.argsort(cand_group, kind="stable")
    grouped = cand_group[by_group]
    rank = np.empty(len(candidates), dtype=np.int64)
    rank[by_group] = np.arange(len(grouped)) - np.searchsorted(grouped, grouped, side="left")
    # Pairs in step order; each candidate's pairs contiguous, by descending tIoU, then ground truth in input
    # order, so the first free one with tIoU >= the threshold is the one the protocol takes.
    step_order = np.lexsort((pair_gt, -iou, pair_cand, rank[pair_cand]))
    pair_cand, pair_gt, iou = pair_cand[step_order], pair_gt[step_order], iou[step_order]
    pair_rank = rank[pair_cand]
    step_bounds = np.searchsorted(pair_rank, np.arange(pair_rank[-1] + 2))
    run_start = np.flatnonzero(np.concatenate(([True], pair_cand[1:] != pair_cand[:-1])))
    run_bounds = np.searchsorted(run_start, step_bounds)
    run_pred = candidates[pair_cand[run_start]]

    above = iou >= thresholds[:, None]  # (T, pairs)
    run_end = np.append(run_start[1:], len(pair_cand))
    position = np.arange(len(pair_cand))
    taken = np.zeros((len(thresholds), len(g_seg)), dtype=bool)
    for k in range(len(step_bounds) - 1):
        a, b = step_bounds[k], step_bounds[k + 1]
        runs = slice(run_bounds[k], run_bounds[k + 1])
        free = ~taken[:, pair_gt[a:b]]
        free &= above[:, a:b]  # (T, pairs of this step): tIoU >= threshold and ground truth not taken
        first = np.minimum.reduceat(np.where(free, position[a:b], b), run_start[runs] - a, axis=1)
        hit = first < run_end[runs]  # (T, candidates of this step)
        taken[np.nonzero(hit)[0], pair_gt[first[hit]]] = True
        tp[:, run_pred[runs]] = hit
    return tp


def _interpolated_ap(tp: np.ndarray, num_positives: int) -> list[float]:
    """VOC2011 all-point interpolated AP for each row of tp (T, n), predictions in rank order."""
    num_t, n = tp.shape
    tp_cum = np.cumsum(tp, axis=1, dtype=np.float64)
    mrec = np.zeros((num_t, n + 2))
    mrec[:, 1:-1], mrec[:, -1] = tp_cum / num_positives, 1.0
    mprec = np.zeros((num_t, n + 2))
    mprec[:, 1:-1] = tp_cum / np.arange(1.0, n + 1.0)  # tp / (tp + fp)
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    gain = mrec[:, 1:] - mrec[:, :-1]
    terms = gain * mprec[:, 1:]
    # Summed over the recall changes only, row by row, in the order ActivityNet's reference sums them.
    return [float(np.sum(row[g != 0])) for row, g in zip(terms, gain)]


def _tal_map(preds: _Flat, refs: _Flat, num_videos: int, iou_thresholds, ignore_labels) -> dict:
    thresholds = np.asarray(check_iou_thresholds(iou_thresholds), dtype=np.float64)
    if preds.label_kind and refs.label_kind and preds.label_kind != refs.label_kind:
        raise ValueError(
            f"predictions labels are {preds.label_kind}s but references labels are {refs.label_kind}s: "
            "use the same kind (class names or class ids) on both sides"
        )
    kind = refs.label_kind or preds.label_kind
    if isinstance(ignore_labels, (str, int)):
        ignore_labels = [ignore_labels]
    ignore_labels = list(ignore_labels or ())
    for label in ignore_labels:
        if _label_kind(label) is None or (kind is not None and _label_kind(label) != kind):
            raise ValueError(f"ignore_labels entry {label!r} must be a {kind or 'str or int'} like the labels")
    ignored = set(ignore_labels)

    # Classes: the labels with ground truth; labels map to class indices (-1: ignored / no ground truth).
    classes = sorted(set(refs.vocab) - ignored)
    if not classes:
        raise ValueError("references hold no ground truth (after ignore_labels): mAP is undefined")
    index = {label: i for i, label in enumerate(classes)}
    unmatched = sorted(set(preds.vocab) - set(classes) - ignored, key=str)
    if unmatched:  # e.g. "diving" against "Diving": these predictions can never be counted
        shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in unmatched[:20])
        warnings.warn(
            f"tal_map: {len(unmatched)} prediction label(s) match no ground-truth class and score nothing: "
            f"{shown}{' ...' if len(unmatched) > 20 else ''} (classes: {len(classes)}, e.g. "
            f"{[c.item() if isinstance(c, np.generic) else c for c in classes[:5]]})",
            UserWarning,
            stacklevel=3,
        )
    g_class = np.array([index.get(label, -1) for label in refs.vocab] + [-1], dtype=np.int64)[refs.codes]
    p_class = np.array([index.get(label, -1) for label in preds.vocab] + [-1], dtype=np.int64)[preds.codes]
    g_keep = g_class >= 0
    g_class = g_class[g_keep]
    g_group = g_class * num_videos + refs.video[g_keep]

    # Predictions of classes with ground truth (others can match nothing and their class is not averaged),
    # sorted by (class, descending score, input order): two stable sorts (radix for small class ids).
    rows = np.flatnonzero(p_class >= 0)
    rows = rows[np.argsort(-preds.scores[rows], kind="stable")]
    rows = rows[np.argsort(p_class[rows].astype(np.int16 if len(classes) < 2**15 else np.int64), kind="stable")]
    p_class = p_class[rows]
    p_group = p_class * num_videos + preds.video[rows]
    p_group[~np.isin(p_group, g_group)] = -1

    tp = _match(p_group, preds.segments[rows], g_group, refs.segments[g_keep], thresholds)

    positives = np.bincount(g_class, minlength=len(classes))
    class_bounds = np.searchsorted(p_class, np.arange(len(classes) + 1))
    ap = np.zeros((len(classes), len(thresholds)))
    for c in range(len(classes)):
        s, e = class_bounds[c], class_bounds[c + 1]
        if e > s:
            ap[c] = _interpolated_ap(tp[:, s:e], int(positives[c]))
    result = {f"mAP@{t:g}": float(np.mean(np.ascontiguousarray(ap[:, i]))) for i, t in enumerate(thresholds)}
    result["average_mAP"] = float(np.mean(list(result.values())))
    result["per_class_AP"] = {
        label.item() if isinstance(label, np.generic) else label: [float(x) for x in row]
        for label, row in zip(classes, ap)
    }
    return result


def compute_tal_map(
    predictions, references, iou_thresholds=DEFAULT_IOU_THRESHOLDS, ignore_labels=(), video_ids=None
) -> dict:
    """The `tal_map` metric as a function: the inputs and output of `TemporalActionLocalizationMAP.compute`,
    without evaluate's Arrow round trip. `video_ids` (one per video) only name the videos in error messages.

    Predictions whose label has no ground truth (after `ignore_labels`) cannot change any AP: they match
    nothing and their class is not averaged.
    """
    if video_ids is not None and len(video_ids) != len(references):
        raise ValueError(f"video_ids has {len(video_ids)} entries but references has {len(references)} videos")
    preds, _ = _flatten(predictions, "predictions", with_score=True, video_ids=video_ids)
    refs, _ = _flatten(references, "references", with_score=False, video_ids=video_ids)
    if len(predictions) != len(references):
        raise ValueError(f"predictions has {len(predictions)} videos but references has {len(references)}")
    return _tal_map(preds, refs, len(references), iou_thresholds, ignore_labels)


def _features(label_dtype: str) -> datasets.Features:
    segment = datasets.List(datasets.Value("float64"), length=2)
    label = datasets.Value(label_dtype)
    return datasets.Features(
        {
            "predictions": datasets.List({"segment": segment, "score": datasets.Value("float64"), "label": label}),
            "references": datasets.List({"segment": segment, "label": label}),
        }
    )


# Labels may be class names or class ids: one Arrow schema for each.
_FEATURES = {"str": _features("string"), "int": _features("int64")}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class TemporalActionLocalizationMAP(evaluate.Metric):
    """ActivityNet-protocol mAP for temporal action localization (see the module card, README.md)."""

    def _info(self):
        info = evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=list(_FEATURES.values()),
            homepage="https://github.com/activitynet/ActivityNet/tree/master/Evaluation",
            reference_urls=["https://github.com/activitynet/ActivityNet/blob/master/Evaluation/eval_detection.py"],
        )
        # `_compute` reads evaluate's cache as Arrow columns: turning ~40k nested rows back into Python dicts
        # costs more than the metric itself. Set after construction because MetricInfo only accepts a format
        # for flat `Value` features (a rule written for "numpy"; Arrow keeps nested columns as they are).
        info.format = "arrow"
        return info

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Validate a batch of videos (a clear `ValueError` naming the video and field), then add it.

        The batch goes into evaluate's cache as the Arrow column the validation built, not as Python dicts for
        evaluate to encode row by row (which takes longer than the metric itself on ~40k detections).
        """
        if kwargs:
            raise ValueError(
                f"Bad inputs for evaluation module: {list(kwargs)}. All required inputs are ['predictions', 'references']"
            )
        preds, pred_array = _flatten(predictions, "predictions", with_score=True)
        refs, ref_array = _flatten(references, "references", with_score=False)
        if len(predictions) != len(references):
            raise ValueError(f"predictions has {len(predictions)} videos but references has {len(references)}")
        if preds.label_kind and refs.label_kind and preds.label_kind != refs.label_kind:
            raise ValueError(f"predictions labels are {preds.label_kind}s but references labels are {refs.label_kind}s")
        kind = refs.label_kind or preds.label_kind
        if self.writer is None:
            # Labels may be class names or ids: the Arrow schema follows the first batch that has any.
            self.selected_feature_format = _FEATURES[kind or "str"]
            self._init_writer()
        fixed = next(k for k, f in _FEATURES.items() if f == self.selected_feature_format)
        if kind not in (None, fixed):
            raise ValueError(f"labels are {kind}s but earlier batches had {fixed}s: use one kind for all videos")
        # A side without any item was typed with string labels: retype it (it has no label to convert).
        if preds.label_kind is None and fixed != "str":
            pred_array = _flatten(predictions, "predictions", with_score=True, label_kind=fixed)[1]
        if refs.label_kind is None and fixed != "str":
            ref_array = _flatten(references, "references", with_score=False, label_kind=fixed)[1]
        self.writer.write_batch({"predictions": pred_array, "references": ref_array})

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Validate one video's predictions and references, then add them."""
        self.add_batch(predictions=[prediction], references=[reference], **kwargs)

    def _compute(self, predictions, references, iou_thresholds=DEFAULT_IOU_THRESHOLDS, ignore_labels=()):
        preds = _flatten_arrow(predictions, "predictions", with_score=True)
        refs = _flatten_arrow(references, "references", with_score=False)
        return _tal_map(preds, refs, len(references), iou_thresholds, ignore_labels)
