"""Collators that turn TAL and grounding rows into what `Trainer` passes straight to a model's `forward`.

`TemporalLocalizationCollator` (training: ActionFormer's random truncation; inference: whole videos or the
window rows of `sliding_windows`) returns

    input_features  (B, T, D) float      attention_mask (B, T) long, 1 real / 0 padding
    labels          B dicts {"class_labels": (n,) long, "segments": (n, 2) float}, feature-grid units
                    relative to the window's first step
    metadata        (with return_metadata=True) B dicts {"video_id", "duration", "fps", "feature_stride",
                    "num_frames", "window_start", "segments_clipped", "segments_dropped"}; pop it before forward

`TemporalGroundingCollator` does the same for grounding rows with features, with the query windows as labels
(normalised to [0, 1] of the duration, or in feature-grid units) and the tokenized queries.

Rows may come from a `datasets.Dataset` in any format (python, numpy, torch), from `TemporalFeatureDataset`
(zero-copy, memory-mapped features) or from `sliding_windows`; features are copied once, into the batch. In a
DataLoader worker that batch is one of the worker's reusable shared-memory slots (`shared_batches`), so the
main process receives it without another copy and without fresh shared memory per batch.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..segments import seconds_to_feature_grid
from .annotations import integer_labels, segment_pairs
from .feature_files import check_feature_length
from .memory import empty_batch, release_mapped_pages
from .shared_batches import collate_into_shared_slots, reusable_buffer

__all__ = ["TemporalLocalizationCollator", "TemporalGroundingCollator", "random_truncation"]

_GEOMETRY = ("duration", "fps", "feature_stride", "num_frames")
_NUMPY_DTYPES = (torch.float16, torch.float32, torch.float64)


def _where(row: dict, index: int) -> str:
    name = row.get("video_id", row.get("qid"))
    return f"video {name!r} (batch row {index})" if name is not None else f"batch row {index}"


def missing_field_error(where: str, column: str, row: dict) -> ValueError:
    """The error for a row without its input column; the usual cause is `Trainer` stripping the dataset's columns
    that the model's `forward` does not name."""
    return ValueError(
        f"{where}: no {column!r} field (keys: {sorted(row)}). If a Trainer fed this batch, it dropped the dataset "
        f"columns the model's forward does not take: pass TrainingArguments(remove_unused_columns=False)"
    )


def _features_of(row: dict, column: str, where: str):
    if column not in row:
        raise missing_field_error(where, column, row)
    feats = row[column]
    if not isinstance(feats, (np.ndarray, torch.Tensor)):
        try:
            feats = np.asarray(feats, dtype=np.float32)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: {column!r} is not a rectangular (T, D) array of reals: {err}") from None
    if feats.dtype.is_complex if isinstance(feats, torch.Tensor) else feats.dtype.kind not in "biuf":
        raise ValueError(f"{where}: {column!r} must be real numbers, got dtype {feats.dtype}")
    if feats.ndim != 2:
        raise ValueError(f"{where}: {column!r} must be (T, D), got shape {tuple(feats.shape)}")
    if feats.shape[0] == 0 or feats.shape[1] == 0:
        raise ValueError(f"{where}: {column!r} is empty, shape {tuple(feats.shape)}")
    return feats


def _geometry_of(row: dict, where: str) -> dict:
    out = {}
    for key in _GEOMETRY:
        if key not in row:
            raise ValueError(f"{where}: missing {key!r} (rows need duration, fps, feature_stride, num_frames)")
        value = row[key]
        value = value.item() if isinstance(value, (np.ndarray, np.generic, torch.Tensor)) else value
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{where}: {key!r} must be a finite number > 0, got {value!r}")
        out[key] = value
    out["feature_stride"], out["num_frames"] = int(out["feature_stride"]), int(out["num_frames"])
    return out


def _check_feature_length(num_steps: int, geometry: dict, where: str) -> None:
    check_feature_length(
        num_steps, geometry["duration"], geometry["fps"], geometry["feature_stride"], geometry["num_frames"], where
    )


def _segments_of(row: dict, key: str, where: str) -> np.ndarray:
    try:  # strictly pairs of reals: a flat list, "12", [true, 5] or dicts are refused, never reshaped or cast
        segs = segment_pairs(row[key])
    except ValueError as err:
        raise ValueError(f"{where}: {key!r} must be a list of [start, end] pairs ({err})") from None
    if not np.isfinite(segs).all():
        bad = int(np.flatnonzero(~np.isfinite(segs).all(1))[0])
        raise ValueError(f"{where}: {key}[{bad}] = {segs[bad].tolist()} is not finite")
    if (segs[:, 1] <= segs[:, 0]).any():
        bad = int(np.flatnonzero(segs[:, 1] <= segs[:, 0])[0])
        raise ValueError(f"{where}: {key}[{bad}] = {segs[bad].tolist()} does not end after it starts")
    return segs


def _new_batch(shape, dtype) -> torch.Tensor:
    # In a DataLoader worker, write the batch straight into one of the worker's reusable shared-memory slots
    # (see `momentzoo.data.shared_batches`): no copy to send it, and no fresh pages to fault in and free.
    reused = reusable_buffer(shape, dtype)
    return reused if reused is not None else empty_batch(shape, dtype)


def _copy_features(dst: torch.Tensor, src, where: str, release: bool):
    """Copy one window into its batch slot and check it is finite. NumPy does the work where it can: it runs
    single-threaded, while torch's intra-op threads spin-wait and cost several times the copy's CPU on a
    busy machine."""
    if dst.dtype in _NUMPY_DTYPES:
        out = dst.numpy()
        if isinstance(src, torch.Tensor):
            src = src.detach().cpu()
            src = (src if src.dtype in _NUMPY_DTYPES else src.float()).numpy()
        np.copyto(out, src, casting="same_kind")
        # one reduction finds NaN/Inf (a non-finite sum); an overflowing sum of finite values is re-checked
        if not np.isfinite(out.sum()):
            bad = ~np.isfinite(out)
            if bad.any():
                step, dim = (int(v) for v in np.argwhere(bad)[0])
                raise ValueError(
                    f"{where}: features contain NaN or Inf (first at step {step}, dim {dim}, value {out[step, dim]})"
                )
    else:  # e.g. bfloat16, which NumPy lacks
        dst.copy_(src if isinstance(src, torch.Tensor) else torch.from_numpy(np.array(src, dtype=np.float32)))
        if not torch.isfinite(dst.float().sum()):
            bad = ~torch.isfinite(dst)
            if bad.any():
                step, dim = (int(v) for v in bad.nonzero()[0])
                raise ValueError(
                    f"{where}: features contain NaN or Inf (first at step {step}, dim {dim}, "
                    f"value {dst[step, dim].item()})"
                )
    if release and isinstance(src, np.ndarray):
        release_mapped_pages(src)


def _zero_tail(batch: torch.Tensor, row: int, start: int):
    if batch.dtype in _NUMPY_DTYPES:
        batch.numpy()[row, start:] = 0
    else:
        batch[row, start:] = 0


def _pad_length(lengths: list[int], multiple: int | None, fixed: int | None = None) -> int:
    target = fixed if fixed is not None else max(lengths)
    if multiple:
        target = -(-target // multiple) * multiple
    return target


def random_truncation(
    num_steps: int,
    max_seq_len: int,
    segments: torch.Tensor,
    trunc_thresh: float = 0.5,
    crop_ratio: tuple[float, float] | None = None,
    max_num_trials: int = 200,
    generator: torch.Generator | None = None,
) -> tuple[int, int]:
    """ActionFormer's training crop (`truncate_feats`): returns `(start, length)` in feature steps.

    A video longer than `max_seq_len` is cropped to `max_seq_len` steps at a uniformly random start; with
    `crop_ratio=(lo, hi)` a video that fits is cropped to a random length in `[lo, hi] * num_steps`. Up to
    `max_num_trials` starts are drawn until one keeps at least one action, i.e. covers at least
    `trunc_thresh` of its length (the last draw is used if none does). The draws are made at once and the
    first acceptable one taken, which has the distribution of ActionFormer's retry loop.
    `segments` are (n, 2) in feature-grid units of the whole video.
    """
    length = num_steps
    if num_steps > max_seq_len:
        length = max_seq_len
    elif crop_ratio is not None:
        lo = max(round(crop_ratio[0] * num_steps), 1)
        hi = min(round(crop_ratio[1] * num_steps), num_steps)
        length = int(torch.randint(lo, hi + 1, (1,), generator=generator))
    if length >= num_steps:
        return 0, num_steps
    starts = torch.randint(0, num_steps - length + 1, (max_num_trials,), generator=generator)
    if len(segments) == 0:
        return int(starts[0]), length
    segs = torch.as_tensor(segments, dtype=torch.float64)
    lo = torch.maximum(starts[:, None].double(), segs[None, :, 0])
    hi = torch.minimum(starts[:, None].double() + length, segs[None, :, 1])
    inter = (hi - lo).clamp(min=0)
    ok = ((inter / (segs[:, 1] - segs[:, 0])[None, :] >= trunc_thresh) & (inter > 0)).any(dim=1)
    first = int(ok.nonzero()[0]) if ok.any() else max_num_trials - 1
    return int(starts[first]), length


def _window_ground_truth(
    segs_grid: np.ndarray, start: int, length: int, cut_left: bool, cut_right: bool, trunc_thresh: float
):
    """Ground truth (feature-grid units of the video) -> relative to a window of `length` steps at `start`.

    Sides where the window cuts the video clip segments to the window and segments covered less than
    `trunc_thresh` (or not at all) are dropped, as in ActionFormer; at the video's own ends nothing is
    clipped (ground truth may extend half a clip beyond the first/last feature, as the features saw it).
    Returns (segments, keep mask, number clipped).
    """
    lo = np.maximum(segs_grid[:, 0], start) if cut_left else segs_grid[:, 0]
    hi = np.minimum(segs_grid[:, 1], start + length) if cut_right else segs_grid[:, 1]
    inter = np.clip(hi - lo, 0, None)
    keep = (inter > 0) & (inter / (segs_grid[:, 1] - segs_grid[:, 0]) >= trunc_thresh)
    clipped = keep & ((lo != segs_grid[:, 0]) | (hi != segs_grid[:, 1]))
    return np.stack([lo, hi], axis=1) - start, keep, int(clipped.sum())


def _check_truncation(collator):
    """Check the random-truncation arguments a collator shares with ActionFormer's `truncate_feats`."""
    name = type(collator).__name__
    if not 0 <= collator.trunc_thresh <= 1:
        raise ValueError(f"{name}.trunc_thresh must be in [0, 1], got {collator.trunc_thresh!r}")
    crop = collator.crop_ratio
    if crop is not None and (len(crop) != 2 or not 0 < crop[0] <= crop[1] <= 1):
        raise ValueError(f"{name}.crop_ratio must be None or (lo, hi) with 0 < lo <= hi <= 1, got {crop!r}")
    trials = collator.max_num_trials
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"{name}.max_num_trials must be a positive int, got {trials!r}")


def _ground_truth_of(row: dict, where: str, geometry: dict):
    """(segments in feature-grid units of the whole video (n, 2), class ids (n,), whether the row has any)."""
    if "segments" not in row:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64), False
    segs = _segments_of(row, "segments", where)
    try:
        labels = integer_labels(row.get("labels"))
    except ValueError as err:
        raise ValueError(f"{where}: 'labels' ({err})") from None
    if labels.shape != (len(segs),):
        raise ValueError(f"{where}: {len(segs)} segments but labels of shape {labels.shape}")
    if (labels < 0).any():
        raise ValueError(f"{where}: negative class id in labels {labels.tolist()}")
    segs_grid = seconds_to_feature_grid(segs, geometry["fps"], geometry["feature_stride"], geometry["num_frames"])
    return segs_grid, labels, True


def _add_targets(batch: dict, items: list[dict], stats: dict[str, int], return_metadata: bool) -> dict:
    """Add the windows' `labels` (and `metadata`) to a batch and count the clipped and dropped segments."""
    if items[0]["has_gt"]:
        batch["labels"] = [
            {
                "class_labels": torch.from_numpy(np.ascontiguousarray(it["labels"])).long(),
                "segments": torch.from_numpy(np.ascontiguousarray(it["segments"])).float().reshape(-1, 2),
            }
            for it in items
        ]
    stats["windows"] += len(items)
    for it in items:
        stats["segments"] += len(it["labels"]) + it["dropped"]
        stats["segments_clipped"] += it["clipped"]
        stats["segments_dropped"] += it["dropped"]
    if return_metadata:
        batch["metadata"] = [
            {**it["metadata"], "segments_clipped": it["clipped"], "segments_dropped": it["dropped"]} for it in items
        ]
    return batch


@dataclass
class TemporalLocalizationCollator:
    """Batches TAL rows (see the module docstring for the output).

    Args:
        max_seq_len: longest window in feature steps. In training longer videos are randomly truncated to it
            (ActionFormer: 2,304 on THUMOS14 I3D); `None` never truncates (but `crop_ratio` still crops).
        training: random truncation (and `crop_ratio`) on; off for evaluation, where rows are whole videos or
            the windows of `sliding_windows` and nothing is random.
        trunc_thresh: a truncated/windowed action is kept when at least this fraction of it is inside.
        crop_ratio: `(lo, hi)`: in training, also crop videos shorter than `max_seq_len` to a random
            `[lo, hi]` fraction (ActionFormer uses (0.9, 1.0) on THUMOS14).
        max_num_trials: random starts tried for a crop that keeps an action.
        padding: `"longest"` (pad to the longest window in the batch) or `"max_length"` (to `max_seq_len`, as
            ActionFormer trains).
        pad_to_multiple_of: round the padded length up (e.g. to the model's largest stride).
        return_metadata: also return `metadata` (for post-processing; pop it before `forward`).
        release_mapped_memory: after copying a memory-mapped row, release its pages (flat RSS).
        generator: `torch.Generator` for the random crops (default: torch's global RNG, which DataLoader
            seeds per worker).

    Ground-truth segments dropped or clipped by a window are never lost silently: they are counted in
    `stats` (per process; in DataLoader workers each worker counts its own) and per window in `metadata`.
    """

    max_seq_len: int | None = 2304
    training: bool = True
    trunc_thresh: float = 0.5
    crop_ratio: tuple[float, float] | None = None
    max_num_trials: int = 200
    padding: str = "longest"
    pad_to_multiple_of: int | None = None
    return_metadata: bool = False
    features_column: str = "features"
    dtype: torch.dtype = torch.float32
    release_mapped_memory: bool = True
    generator: torch.Generator | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {"windows": 0, "segments": 0, "segments_clipped": 0, "segments_dropped": 0}
    )

    def __post_init__(self):
        if self.max_seq_len is not None and (
            isinstance(self.max_seq_len, bool) or not isinstance(self.max_seq_len, int) or self.max_seq_len < 1
        ):
            raise ValueError(
                f"TemporalLocalizationCollator.max_seq_len must be None or a positive int, got {self.max_seq_len!r}"
            )
        _check_truncation(self)
        if self.padding not in ("longest", "max_length"):
            raise ValueError(
                f"TemporalLocalizationCollator.padding must be 'longest' or 'max_length', got {self.padding!r}"
            )
        if self.padding == "max_length" and self.max_seq_len is None:
            raise ValueError("TemporalLocalizationCollator.padding='max_length' needs max_seq_len")
        if self.pad_to_multiple_of is not None and (
            isinstance(self.pad_to_multiple_of, bool)
            or not isinstance(self.pad_to_multiple_of, int)
            or self.pad_to_multiple_of < 1
        ):
            raise ValueError(
                f"TemporalLocalizationCollator.pad_to_multiple_of must be None or a positive int, "
                f"got {self.pad_to_multiple_of!r}"
            )
        if not self.dtype.is_floating_point:
            raise ValueError(f"TemporalLocalizationCollator.dtype must be a floating dtype, got {self.dtype}")

    def _prepare(self, row: dict, index: int) -> dict:
        where = _where(row, index)
        feats = _features_of(row, self.features_column, where)
        geometry = _geometry_of(row, where)
        segs_grid, labels, has_gt = _ground_truth_of(row, where, geometry)

        num_steps = feats.shape[0]
        offset = int(row.get("window_start", 0) or 0)  # window rows: feats already start at `offset`
        video_length = int(row.get("video_feature_length", offset + num_steps))
        if has_gt:  # ground truth in seconds would land on the wrong steps (a bare inference row may clip instead)
            _check_feature_length(video_length, geometry, where)
        start, length = 0, num_steps
        crops = self.max_seq_len is not None or self.crop_ratio is not None
        if self.training and crops and offset == 0 and video_length == num_steps:
            start, length = random_truncation(
                num_steps,
                self.max_seq_len or num_steps,
                torch.from_numpy(segs_grid),
                self.trunc_thresh,
                self.crop_ratio,
                self.max_num_trials,
                self.generator,
            )
        elif self.training and self.max_seq_len is not None and num_steps > self.max_seq_len:
            raise ValueError(
                f"{where}: a window row of {num_steps} steps is longer than max_seq_len "
                f"{self.max_seq_len}; use sliding_windows with window_size <= max_seq_len"
            )
        window_start = offset + start
        gt, keep, clipped = _window_ground_truth(
            segs_grid,
            window_start,
            length,
            cut_left=window_start > 0,
            cut_right=window_start + length < video_length,
            trunc_thresh=self.trunc_thresh,
        )
        return {
            "where": where,
            "feats": feats,
            "start": start,
            "length": length,
            "has_gt": has_gt,
            "segments": gt[keep],
            "labels": labels[keep],
            "clipped": clipped,
            "dropped": int((~keep).sum()),
            "metadata": {"video_id": row.get("video_id"), **geometry, "window_start": window_start},
        }

    def __call__(self, rows: Sequence[dict]) -> dict[str, Any]:
        return collate_into_shared_slots(self._collate, rows)

    def _collate(self, rows: Sequence[dict]) -> dict[str, Any]:
        if len(rows) == 0:
            raise ValueError("TemporalLocalizationCollator: empty batch")
        items = [self._prepare(row, i) for i, row in enumerate(rows)]
        dims = {item["feats"].shape[1] for item in items}
        if len(dims) > 1:
            detail = ", ".join(f"{it['where']}: {it['feats'].shape[1]}" for it in items)
            raise ValueError(f"TemporalLocalizationCollator: feature dims differ within the batch ({detail})")
        if len({item["has_gt"] for item in items}) > 1:
            missing = [it["where"] for it in items if not it["has_gt"]]
            raise ValueError(f"TemporalLocalizationCollator: some rows have segments and some do not ({missing})")
        lengths = [item["length"] for item in items]
        fixed = None
        if self.padding == "max_length":
            too_long = [it["where"] for it in items if it["length"] > self.max_seq_len]
            if too_long:
                raise ValueError(
                    f"TemporalLocalizationCollator: {too_long} longer than max_seq_len "
                    f"{self.max_seq_len} with padding='max_length'; use sliding_windows"
                )
            fixed = self.max_seq_len
        total = _pad_length(lengths, self.pad_to_multiple_of, fixed)

        features = _new_batch((len(items), total, dims.pop()), self.dtype)
        attention_mask = torch.zeros((len(items), total), dtype=torch.long)
        for b, item in enumerate(items):
            s, n = item["start"], item["length"]
            _copy_features(features[b, :n], item["feats"][s : s + n], item["where"], self.release_mapped_memory)
            _zero_tail(features, b, n)
            attention_mask[b, :n] = 1

        batch = {"input_features": features, "attention_mask": attention_mask}
        return _add_targets(batch, items, self.stats, self.return_metadata)


@dataclass
class TemporalGroundingCollator:
    """Batches grounding rows with features (`features`, geometry, `query`, `windows` in seconds).

    Returns `input_features` (B, T, D), `attention_mask` (B, T) and, when rows have `windows`, `labels`:
    B dicts `{"windows": FloatTensor (n, 2)}`, with `window_format="normalized"` as fractions of the video's
    duration in [0, 1] (clipped; the usual grounding target), or with `"feature_grid"` in feature-grid
    units (`momentzoo.segments.seconds_to_feature_grid`). With a `tokenizer`, the queries tokenized and padded
    as `query_input_ids` and `query_attention_mask` (`attention_mask` is the features' mask). With
    `return_metadata=True`, `metadata`: B dicts `{"qid", "video_id", "query", "duration", "fps",
    "feature_stride", "num_frames", "window_start"}` (pop it before `forward`).
    """

    tokenizer: Any = None
    window_format: str = "normalized"
    max_query_length: int | None = None
    pad_to_multiple_of: int | None = None
    return_metadata: bool = False
    features_column: str = "features"
    dtype: torch.dtype = torch.float32
    release_mapped_memory: bool = True

    def __post_init__(self):
        if self.window_format not in ("normalized", "feature_grid"):
            raise ValueError(
                f"TemporalGroundingCollator.window_format must be 'normalized' or 'feature_grid', "
                f"got {self.window_format!r}"
            )
        if self.pad_to_multiple_of is not None and (
            not isinstance(self.pad_to_multiple_of, int) or self.pad_to_multiple_of < 1
        ):
            raise ValueError(
                f"TemporalGroundingCollator.pad_to_multiple_of must be None or a positive int, "
                f"got {self.pad_to_multiple_of!r}"
            )
        if not self.dtype.is_floating_point:
            raise ValueError(f"TemporalGroundingCollator.dtype must be a floating dtype, got {self.dtype}")

    def __call__(self, rows: Sequence[dict]) -> dict[str, Any]:
        return collate_into_shared_slots(self._collate, rows)

    def _collate(self, rows: Sequence[dict]) -> dict[str, Any]:
        if len(rows) == 0:
            raise ValueError("TemporalGroundingCollator: empty batch")
        wheres = [_where(row, i) for i, row in enumerate(rows)]
        feats = [_features_of(row, self.features_column, w) for row, w in zip(rows, wheres)]
        geometry = [_geometry_of(row, w) for row, w in zip(rows, wheres)]
        dims = {f.shape[1] for f in feats}
        if len(dims) > 1:
            raise ValueError(
                f"TemporalGroundingCollator: feature dims differ within the batch "
                f"({', '.join(f'{w}: {f.shape[1]}' for w, f in zip(wheres, feats))})"
            )
        has_windows = {"windows" in row for row in rows}
        if len(has_windows) > 1:
            raise ValueError("TemporalGroundingCollator: some rows have windows and some do not")
        lengths = [f.shape[0] for f in feats]
        if True in has_windows:  # windows in seconds would land on the wrong steps
            for length, geo, w in zip(lengths, geometry, wheres):
                _check_feature_length(length, geo, w)
        total = _pad_length(lengths, self.pad_to_multiple_of)
        features = _new_batch((len(rows), total, dims.pop()), self.dtype)
        attention_mask = torch.zeros((len(rows), total), dtype=torch.long)
        for b, (f, w) in enumerate(zip(feats, wheres)):
            _copy_features(features[b, : lengths[b]], f, w, self.release_mapped_memory)
            _zero_tail(features, b, lengths[b])
            attention_mask[b, : lengths[b]] = 1
        batch = {"input_features": features, "attention_mask": attention_mask}

        if has_windows.pop():
            labels = []
            for row, geo, w in zip(rows, geometry, wheres):
                windows = _segments_of(row, "windows", w)
                past = (windows[:, 0] < 0) | (windows[:, 1] > geo["duration"] * (1 + 1e-6) + 1e-3)
                if past.any():
                    bad = int(np.flatnonzero(past)[0])
                    raise ValueError(
                        f"{w}: windows[{bad}] = {windows[bad].tolist()} lies outside the video "
                        f"[0, {geo['duration']:g}] s"
                    )
                if self.window_format == "normalized":
                    windows = np.clip(windows / geo["duration"], 0.0, 1.0)
                else:
                    windows = seconds_to_feature_grid(windows, geo["fps"], geo["feature_stride"], geo["num_frames"])
                labels.append({"windows": torch.from_numpy(windows).float().reshape(-1, 2)})
            batch["labels"] = labels

        if self.tokenizer is not None:
            queries = []
            for row, w in zip(rows, wheres):
                query = row.get("query")
                if not isinstance(query, str) or not query.strip():
                    raise ValueError(f"{w}: 'query' must be a non-empty string, got {query!r}")
                queries.append(query)
            tokens = self.tokenizer(
                queries,
                padding=True,
                truncation=self.max_query_length is not None,
                max_length=self.max_query_length,
                return_tensors="pt",
            )
            batch["query_input_ids"] = tokens["input_ids"]
            batch["query_attention_mask"] = tokens["attention_mask"].long()

        if self.return_metadata:
            batch["metadata"] = [
                {
                    "qid": row.get("qid"),
                    "video_id": row.get("video_id"),
                    "query": row.get("query"),
                    **geo,
                    "window_start": 0,
                }
                for row, geo in zip(rows, geometry)
            ]
        return batch
