"""Feature rows without copies, sliding windows over long videos, and merging window predictions.

* `TemporalFeatureDataset` wraps a `datasets.Dataset` of TAL (or grounding) rows and returns each row with
  its features as a read-only NumPy view straight into the Arrow buffer: memory-mapped when the dataset is on
  disk, so reading a 2,304 x 2,048 row costs no copy. `TemporalLocalizationCollator` copies the part it needs
  into the batch and then releases the mapped pages (`momentzoo.data.memory`), so RSS stays flat
  however large the dataset.
* `sliding_windows(dataset, window_size, overlap)` expands video rows into window rows for inference on
  videos longer than a model's maximum sequence: every window has `window_size` steps (the last one ends at
  the video's end), consecutive windows share `overlap` of them, and together they cover every step.
  Window rows carry `window_start` (feature steps) and `video_feature_length`; the collator converts the
  ground truth relative to the window and puts `window_start` in the metadata so a model's
  `post_process` returns seconds of the whole video.
* `merge_window_predictions(predictions, metadata)` groups the post-processed window predictions by video
  and runs `momentzoo.segments.batched_nms` over each video's windows to remove the duplicates that
  overlapping windows produce.
"""

import os
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from ..segments import batched_nms
from .memory import register_mapped_dataset

__all__ = [
    "TemporalFeatureDataset",
    "SlidingWindowDataset",
    "feature_lengths",
    "sliding_windows",
    "window_starts",
    "merge_window_predictions",
]


def _is_hf_dataset(obj) -> bool:
    import datasets

    return isinstance(obj, datasets.Dataset)


def _row_indices(dataset) -> np.ndarray | None:
    # `datasets` keeps select/shuffle/filter as an indices mapping over the untouched table; reading through
    # it (instead of `with_format("arrow")[i]`, which `take`s and so copies) keeps rows zero-copy.
    indices = getattr(dataset, "_indices", None)
    return None if indices is None else indices.column(0).to_numpy()


def _list_storage(chunk):
    return chunk.storage if isinstance(chunk, pa.ExtensionArray) else chunk


def feature_lengths(dataset, features_column: str = "features") -> np.ndarray:
    """Number of feature steps of every row, read from the Arrow list offsets of a `datasets.Dataset`
    (no feature is read), or from the rows of any other sequence of row dicts."""
    if isinstance(dataset, TemporalFeatureDataset):
        return dataset.feature_lengths()
    if not _is_hf_dataset(dataset):
        return np.asarray([np.shape(dataset[i][features_column])[0] for i in range(len(dataset))], dtype=np.int64)
    if features_column not in dataset.column_names:
        raise ValueError(
            f"feature_lengths: the dataset has no column {features_column!r} (columns: {dataset.column_names})"
        )
    parts = []
    for chunk in dataset.data.column(features_column).chunks:
        lengths = pc.list_value_length(_list_storage(chunk))
        if lengths.null_count:
            bad = int(np.flatnonzero(np.asarray(lengths.is_null()))[0])
            raise ValueError(f"feature_lengths: column {features_column!r} is null in row {bad} of a chunk")
        parts.append(lengths.to_numpy(zero_copy_only=False))
    lengths = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
    indices = _row_indices(dataset)
    return lengths if indices is None else lengths[indices]


class TemporalFeatureDataset(torch.utils.data.Dataset):
    """A `torch` view of a `datasets.Dataset` whose rows come back with `features` as a read-only (T, D)
    NumPy view of the Arrow data (zero-copy; memory-mapped for datasets on disk) and every other column as
    plain Python values (labels as class ids). Works as the `train_dataset` of a `Trainer` with
    `TemporalLocalizationCollator`, and as the source of `sliding_windows`."""

    def __init__(self, dataset, features_column: str = "features"):
        if not _is_hf_dataset(dataset):
            raise ValueError(f"TemporalFeatureDataset wraps a datasets.Dataset, got {type(dataset).__name__}")
        if features_column not in dataset.column_names:
            raise ValueError(
                f"TemporalFeatureDataset: the dataset has no column {features_column!r} "
                f"(columns: {dataset.column_names})"
            )
        self.dataset = dataset
        self.features_column = features_column
        self._table = dataset.data.table
        self._indices = _row_indices(dataset)
        self._registered_pid = None

    def __len__(self) -> int:
        return len(self.dataset)

    def feature_lengths(self) -> np.ndarray:
        return feature_lengths(self.dataset, self.features_column)

    def _ensure_registered(self):
        # per process: DataLoader workers started with `spawn` unpickle their own mapping
        if self._registered_pid != os.getpid():
            register_mapped_dataset(self, self.dataset)
            self._registered_pid = os.getpid()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_table"] = None  # re-derived from the (picklable) dataset after unpickling
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._table = self.dataset.data.table
        self._registered_pid = None

    def __getitem__(self, index) -> dict:
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"TemporalFeatureDataset index {index} out of range for {len(self)} rows")
        index %= len(self)
        self._ensure_registered()
        position = index if self._indices is None else int(self._indices[index])
        table = self._table.slice(position, 1)
        row = table.drop_columns([self.features_column]).to_pylist()[0]
        row[self.features_column] = _features_view(table.column(self.features_column), row, index, self.features_column)
        return row


def _features_view(column: pa.ChunkedArray, row: dict, index: int, name: str) -> np.ndarray:
    where = f"row {index} (video_id={row.get('video_id')!r})"
    chunks = [c for c in column.chunks if len(c)]
    storage = _list_storage(chunks[0])
    if storage.null_count:
        raise ValueError(f"{where}: column {name!r} is null")
    steps = storage.flatten()  # the T inner lists of this row
    if len(steps) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if isinstance(steps, (pa.ListArray, pa.LargeListArray)):
        widths = pc.list_value_length(steps)
        if steps.null_count or pc.min(widths).as_py() != pc.max(widths).as_py():
            raise ValueError(f"{where}: column {name!r} has steps of different widths or null steps")
    values = steps.flatten()
    try:
        flat = values.to_numpy(zero_copy_only=True)
    except pa.ArrowInvalid:  # nulls or a type NumPy cannot view
        flat = values.to_numpy(zero_copy_only=False)
    return flat.reshape(len(steps), -1)


def window_starts(length: int, window_size: int, stride: int) -> list[int]:
    """Starts of windows of `window_size` steps every `stride` steps covering `[0, length)`; the last
    window ends at `length` (one window `[0, length)` if the video is not longer than a window)."""
    if length <= window_size:
        return [0]
    starts = list(range(0, length - window_size, stride))
    starts.append(length - window_size)
    return starts


class SlidingWindowDataset(torch.utils.data.Dataset):
    """Window rows over a dataset of video rows (see `sliding_windows`). `windows[i]` is
    `(row_index, window_start, window_length)`."""

    def __init__(self, dataset, window_size: int, overlap: float = 0.25, features_column: str = "features"):
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
            raise ValueError(f"sliding_windows: window_size must be a positive int, got {window_size!r}")
        if not isinstance(overlap, (int, float)) or not 0 <= overlap < 1:
            raise ValueError(f"sliding_windows: overlap must be a fraction in [0, 1), got {overlap!r}")
        if _is_hf_dataset(dataset):
            dataset = TemporalFeatureDataset(dataset, features_column)
        self.source = dataset
        self.features_column = features_column
        self.window_size = window_size
        self.overlap = float(overlap)
        self.stride = max(1, int(round(window_size * (1 - overlap))))
        lengths = feature_lengths(dataset, features_column)
        self.windows = []
        for row, length in enumerate(lengths.tolist()):
            if length == 0:
                raise ValueError(f"sliding_windows: row {row} has no feature steps")
            for start in window_starts(length, window_size, self.stride):
                self.windows.append((row, start, min(window_size, length - start)))
        self._lengths = lengths

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index) -> dict:
        row_index, start, length = self.windows[int(index)]
        row = dict(self.source[row_index])
        features = row[self.features_column]
        row[self.features_column] = features[start : start + length]
        row["window_start"] = start
        row["video_feature_length"] = int(self._lengths[row_index])
        return row


def sliding_windows(dataset, window_size: int, overlap: float = 0.25, features_column: str = "features"):
    """Expand video rows into overlapping window rows (a `SlidingWindowDataset`, lazily: no feature is read
    or copied until a window is).

    Args:
        dataset: a `datasets.Dataset` of TAL rows (read zero-copy through `TemporalFeatureDataset`) or any
            sequence of row dicts.
        window_size: steps per window, usually the model's maximum sequence length.
        overlap: fraction of a window shared with the next (windows start every
            `round(window_size * (1 - overlap))` steps; the last is aligned to the video's end).
    """
    return SlidingWindowDataset(dataset, window_size, overlap, features_column)


def merge_window_predictions(
    predictions: Sequence[Sequence[dict]],
    metadata: Sequence[dict],
    nms_kwargs: dict | None = None,
) -> dict[str, list[dict]]:
    """Merge per-window post-processed predictions back into per-video predictions.

    Args:
        predictions: per window (in the order of `metadata`) a list of `{"segment": [s, e], "score", "label"}`
            in seconds of the whole video (what `post_process(outputs, metadata)` returns: it adds the
            window's `window_start`).
        metadata: per window the collator's metadata dict (`video_id`, `duration`, `window_start`, ...).
        nms_kwargs: keyword arguments for `momentzoo.segments.batched_nms` (method, sigma, iou_threshold,
            max_segments, ...), applied to the union of a video's windows when it has more than one window
            (a single window's predictions are already final and are not suppressed twice).

    Returns:
        `{video_id: [{"segment": [s, e], "score": float, "label": ...}, ...]}` sorted by score, segments
        clipped to `[0, duration]`, labels as given (ids or names).
    """
    if len(predictions) != len(metadata):
        raise ValueError(
            f"merge_window_predictions: {len(predictions)} prediction lists for {len(metadata)} metadata entries"
        )
    grouped: dict[str, list] = {}
    for i, (preds, meta) in enumerate(zip(predictions, metadata)):
        for key in ("video_id", "duration"):
            if key not in meta:
                raise ValueError(f"merge_window_predictions: metadata[{i}] has no {key!r}")
        entry = grouped.setdefault(meta["video_id"], {"duration": float(meta["duration"]), "windows": 0, "preds": []})
        entry["windows"] += 1
        for j, p in enumerate(preds):
            if not isinstance(p, dict) or not {"segment", "score", "label"} <= p.keys():
                raise ValueError(
                    f"merge_window_predictions: predictions[{i}][{j}] must be a dict with 'segment', "
                    f"'score' and 'label', got {p!r}"
                )
            entry["preds"].append(p)

    merged = {}
    for video_id, entry in grouped.items():
        preds, duration = entry["preds"], entry["duration"]
        if not preds:
            merged[video_id] = []
            continue
        segments = torch.tensor([p["segment"] for p in preds], dtype=torch.float64).reshape(-1, 2)
        scores = torch.tensor([float(p["score"]) for p in preds], dtype=torch.float64)
        names = sorted({p["label"] for p in preds}, key=str)
        label_ids = {name: k for k, name in enumerate(names)}
        labels = torch.tensor([label_ids[p["label"]] for p in preds], dtype=torch.long)
        segments = segments.clamp(0.0, duration)
        if entry["windows"] > 1:
            segments, scores, labels = batched_nms(segments, scores, labels, **(nms_kwargs or {}))
        else:
            order = torch.argsort(scores, descending=True, stable=True)
            segments, scores, labels = segments[order], scores[order], labels[order]
        merged[video_id] = [
            {"segment": [float(s), float(e)], "score": float(c), "label": names[int(k)]}
            for (s, e), c, k in zip(segments.tolist(), scores.tolist(), labels.tolist())
        ]
    return merged
