"""Weakly-supervised batches: snippet features cropped as DELU crops them, video-level multi-hot labels and the
tokenized MLLM descriptions. Every problem is an error naming the video (`video_id`); nothing is dropped."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["COMPLETE_COLUMN", "KEY_COLUMN", "WeakTALCollator", "check_weak_dataset"]

KEY_COLUMN, COMPLETE_COLUMN = "key_description", "complete_description"


def _video(row: dict, index: int) -> str:
    return f"video {row.get('video_id', f'at row {index}')!r}"


def check_weak_dataset(dataset, label_column: str = "video_labels", descriptions: bool = True) -> None:
    """Raise one `ValueError` listing every video without a video-level label, or (with `descriptions`) whose key or
    complete description is missing or empty."""
    needed = ["video_id", label_column] + ([KEY_COLUMN, COMPLETE_COLUMN] if descriptions else [])
    missing = [c for c in needed if c not in dataset.column_names]
    if missing:
        hint = " (write them with `momentzoo describe`)" if set(missing) & {KEY_COLUMN, COMPLETE_COLUMN} else ""
        raise ValueError(f"the dataset lacks the column(s) {missing}{hint}; it has {dataset.column_names}")
    problems = []
    for row in dataset.select_columns(needed):
        if not row[label_column]:
            problems.append(f"{row['video_id']}: no video-level label in {label_column!r}")
        for column in needed[2:]:
            if row[column] is None or not str(row[column]).strip():
                problems.append(f"{row['video_id']}: {'empty' if row[column] is not None else 'missing'} {column}")
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise ValueError(f"{len(problems)} problem(s) in the weakly-labelled dataset:\n  {shown}")


@dataclass
class WeakTALCollator:
    """Rows (`features` (T, D), `label_column`, and with a `tokenizer` the two description columns) -> model inputs.

    Training crops videos longer than `max_seq_len` at a random start (DELU's `random_extract`); shorter ones and
    evaluation batches are padded to the longest. Labels are `(B, C)` multi-hot over `num_classes`. Descriptions are
    tokenized with `tokenizer` (CLIP's: BOS / EOS added) to at most `max_description_length` tokens."""

    num_classes: int
    max_seq_len: int | None = 320
    training: bool = True
    label_column: str = "video_labels"
    tokenizer: Any = None
    max_description_length: int = 77
    seed: int | None = None

    def __post_init__(self):
        self._rng = np.random.default_rng(self.seed)

    def _features(self, row: dict, index: int) -> torch.Tensor:
        features = torch.as_tensor(np.asarray(row["features"], dtype=np.float32))
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(
                f"{_video(row, index)}: features must be a non-empty (T, D) array, got {tuple(features.shape)}"
            )
        if self.training and self.max_seq_len is not None and features.shape[0] > self.max_seq_len:
            start = int(self._rng.integers(0, features.shape[0] - self.max_seq_len + 1))
            features = features[start : start + self.max_seq_len]
        return features

    def _labels(self, row: dict, index: int) -> torch.Tensor:
        classes = row.get(self.label_column)
        if classes is None or len(classes) == 0:
            raise ValueError(
                f"{_video(row, index)}: no video-level label in {self.label_column!r} (weakly-supervised "
                "training needs at least one action class per video)"
            )
        target = torch.zeros(self.num_classes)
        ids = torch.as_tensor(list(classes)).long()
        if ids.min() < 0 or ids.max() >= self.num_classes:
            raise ValueError(f"{_video(row, index)}: class ids {ids.tolist()} outside [0, {self.num_classes})")
        target[ids] = 1.0
        return target

    def _texts(self, rows: Sequence[dict], column: str) -> list[str]:
        texts = []
        for index, row in enumerate(rows):
            text = row.get(column)
            if text is None:
                raise ValueError(
                    f"{_video(row, index)}: missing {column} (write descriptions with `momentzoo describe`)"
                )
            if not str(text).strip():
                raise ValueError(f"{_video(row, index)}: empty {column}")
            texts.append(str(text))
        return texts

    def __call__(self, rows: Sequence[dict]) -> dict[str, torch.Tensor]:
        features = [self._features(row, i) for i, row in enumerate(rows)]
        length = max(f.shape[0] for f in features)
        batch = torch.zeros(len(rows), length, features[0].shape[1])
        mask = torch.zeros(len(rows), length, dtype=torch.long)
        for i, f in enumerate(features):
            batch[i, : f.shape[0]] = f
            mask[i, : f.shape[0]] = 1
        out = {
            "input_features": batch,
            "attention_mask": mask,
            "labels": torch.stack([self._labels(row, i) for i, row in enumerate(rows)]),
        }
        if self.tokenizer is not None:
            for column, prefix in ((KEY_COLUMN, "key"), (COMPLETE_COLUMN, "complete")):
                tokens = self.tokenizer(
                    self._texts(rows, column),
                    padding=True,
                    truncation=True,
                    max_length=self.max_description_length,
                    return_tensors="pt",
                )
                out[f"{prefix}_input_ids"] = tokens["input_ids"]
                out[f"{prefix}_attention_mask"] = tokens["attention_mask"]
        return out
