"""The zero-shot TAL protocol: train on the seen classes of a split, score the unseen classes with `tal_map`, report
each split and the mean over splits the way zero-shot TAL papers do (EffPrompt, STALE, PSFTR, ...).

    train, test, classes = zero_shot_data(data, "THUMOS14", "75_25", index=3, train_split="val", eval_split="test")
    metrics, predictions = evaluate_zero_shot(model, test, classes["unseen"], window_size=128, window_overlap=0.25)
    print(format_zero_shot_table({3: metrics}, ZERO_SHOT_IOU_THRESHOLDS["THUMOS14"], title="THUMOS14 75/25"))

The model must be open-vocabulary: its `forward` and `post_process` take `class_names` and it has a
`candidate_classes(names)` context (PSFTR).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.class_splits import random_class_split, select_classes
from ..data.zero_shot import ZERO_SHOT_BENCHMARKS, ZERO_SHOT_RATIOS, apply_zero_shot_split
from ..metrics.tal_map.tal_map import compute_tal_map
from .tal import predict_tal, tal_references

__all__ = [
    "ZERO_SHOT_IOU_THRESHOLDS",
    "UNSEEN_FRACTIONS",
    "zero_shot_classes",
    "zero_shot_data",
    "evaluate_zero_shot",
    "format_zero_shot_table",
]

# The tIoU thresholds each benchmark reports (ActivityNet: 0.5:0.05:0.95).
ZERO_SHOT_IOU_THRESHOLDS = {
    "THUMOS14": (0.3, 0.4, 0.5, 0.6, 0.7),
    "ActivityNet": tuple(round(0.5 + 0.05 * i, 2) for i in range(10)),
    "synthetic": (0.3, 0.4, 0.5, 0.6, 0.7),
}
UNSEEN_FRACTIONS = {"75_25": 0.25, "50_50": 0.5}


def zero_shot_classes(benchmark: str, class_names, split_ratio: str = "75_25", index: int = 0,
                      seed: int = 0) -> dict[str, list[str]]:
    """`{"seen", "unseen"}` of split `index`: the shipped lists for THUMOS14 / ActivityNet, else a seeded random
    split of `class_names` (`momentzoo.data.class_splits.random_class_split`)."""
    if split_ratio not in ZERO_SHOT_RATIOS:
        raise ValueError(f"split_ratio must be one of {list(ZERO_SHOT_RATIOS)}, got {split_ratio!r}")
    if benchmark in ZERO_SHOT_BENCHMARKS:
        from ..data.zero_shot import load_zero_shot_classes

        return load_zero_shot_classes(benchmark, split_ratio, index)
    return random_class_split(class_names, UNSEEN_FRACTIONS[split_ratio], index, seed)


def zero_shot_data(data, benchmark: str, split_ratio: str = "75_25", index: int = 0, train_split: str = "train",
                   eval_split: str = "test", seed: int = 0):
    """`(train, evaluation, classes)`: `data[train_split]` restricted to the seen classes of split `index` and
    `data[eval_split]` to its unseen classes (videos left without a segment are dropped), and the class lists."""
    for split in (train_split, eval_split):
        if split not in data:
            raise ValueError(f"split {split!r} not in the dataset (splits: {list(data)})")
    names = data[train_split].features["labels"].feature.names
    classes = zero_shot_classes(benchmark, names, split_ratio, index, seed)
    if benchmark in ZERO_SHOT_BENCHMARKS:
        train = apply_zero_shot_split(data[train_split], benchmark, split_ratio, index, part="seen")
        evaluation = apply_zero_shot_split(data[eval_split], benchmark, split_ratio, index, part="unseen")
    else:
        train = select_classes(data[train_split], classes["seen"], part="seen")
        evaluation = select_classes(data[eval_split], classes["unseen"], part="unseen")
    return train, evaluation, classes


def evaluate_zero_shot(
    model,
    dataset,
    class_names: Sequence[str],
    *,
    iou_thresholds: Sequence[float] = ZERO_SHOT_IOU_THRESHOLDS["THUMOS14"],
    window_size: int | None = None,
    window_overlap: float = 0.25,
    batch_size: int = 8,
    progress: bool = False,
) -> tuple[dict, dict[str, list[dict]]]:
    """`(metrics, predictions)`: `tal_map` of `model` on `dataset` (whose labels must be `class_names`, e.g. the
    unseen part of a split) when it scores exactly `class_names`, in windows of `window_size` steps."""
    names = list(dataset.features["labels"].feature.names)
    if names != list(class_names):
        raise ValueError(f"the dataset's classes {names} are not the class names to score {list(class_names)}")
    if not model.config.takes_class_names:
        raise ValueError(f"{type(model).__name__} is not an open-vocabulary model (config.takes_class_names is False)")
    with model.candidate_classes(list(class_names)):
        predictions = predict_tal(model, dataset, window_size=window_size, window_overlap=window_overlap,
                                  batch_size=batch_size, label_names=True, progress=progress)
    references = tal_references(dataset)
    video_ids = list(references)
    metrics = compute_tal_map([predictions.get(v, []) for v in video_ids], [references[v] for v in video_ids],
                              iou_thresholds=tuple(iou_thresholds), video_ids=video_ids)
    return metrics, predictions


def format_zero_shot_table(results: dict, iou_thresholds: Sequence[float], title: str | None = None) -> str:
    """A Markdown table in the layout of zero-shot TAL papers: mAP (%) at each tIoU threshold and their average,
    one row per split (`results` maps a split index or name to its `tal_map` metrics), then the mean over splits."""
    keys = [f"mAP@{t:g}" for t in iou_thresholds] + ["average_mAP"]
    header = "| split | " + " | ".join(f"{t:g}" for t in iou_thresholds) + " | Avg |"
    lines = ([f"**{title}**", ""] if title else []) + [header, "|" + "---|" * (len(keys) + 1)]
    for split, metrics in results.items():
        lines.append(f"| {split} | " + " | ".join(f"{100 * metrics[k]:.2f}" for k in keys) + " |")
    if len(results) > 1:
        mean = {k: float(np.mean([m[k] for m in results.values()])) for k in keys}
        lines.append(f"| mean ({len(results)} splits) | " + " | ".join(f"{100 * mean[k]:.2f}" for k in keys) + " |")
    return "\n".join(lines)
