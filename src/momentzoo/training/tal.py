"""Evaluate a temporal action localization model on a TAL dataset: predictions over whole videos or sliding windows,
merged per video, scored with the `tal_map` metric, and written as the JSON files `momentzoo evaluate` reads.

    metrics, predictions = evaluate_tal(model, dataset["test"], iou_thresholds=(0.3, 0.4, 0.5, 0.6, 0.7))
    write_predictions_json(predictions, "predictions.json")        # {"results": {video_id: [...]}}
    write_references_json(dataset["test"], "ground_truth.json")    # {"database": {video_id: {...}}}

Works for every momentzoo TAL model (`post_process(outputs, metadata)`), on `datasets.Dataset`s of TAL rows.
The zero-shot protocol (seen / unseen class splits, per-split and mean mAP) is at the end.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import torch

from ..data.class_splits import random_class_split, select_classes
from ..data.collators import TemporalLocalizationCollator
from ..data.windows import TemporalFeatureDataset, merge_window_predictions, sliding_windows
from ..data.zero_shot import ZERO_SHOT_BENCHMARKS, ZERO_SHOT_RATIOS, apply_zero_shot_split
from ..metrics.tal_map.tal_map import DEFAULT_IOU_THRESHOLDS, compute_tal_map
from ..models.temporal_localization import TemporalLocalizationConfigMixin

__all__ = [
    "class_names_of",
    "window_merge_nms_kwargs",
    "predict_tal",
    "tal_references",
    "evaluate_tal",
    "score_predictions",
    "encode_video_dataset",
    "write_predictions_json",
    "write_references_json",
    "format_map_table",
    "ZERO_SHOT_IOU_THRESHOLDS",
    "UNSEEN_FRACTIONS",
    "zero_shot_classes",
    "zero_shot_data",
    "evaluate_zero_shot",
    "format_zero_shot_table",
]


def class_names_of(dataset) -> list[str]:
    """The class names of a TAL dataset's `labels` column (`List(ClassLabel(names=...))`)."""
    feature = getattr(dataset, "features", {}).get("labels") if hasattr(dataset, "features") else None
    inner = getattr(feature, "feature", None)
    names = getattr(inner, "names", None)
    if not names:
        raise ValueError("the dataset's 'labels' column is not a List(ClassLabel(names=[...])): class names unknown")
    return list(names)


def window_merge_nms_kwargs(config) -> dict:
    """`batched_nms` keyword arguments that merge the detections of a video's overlapping windows: the config's
    declared `window_merge_nms_kwargs()` (`momentzoo.models.temporal_localization`)."""
    if not isinstance(config, TemporalLocalizationConfigMixin):
        raise ValueError(
            f"{type(config).__name__} is not a temporal-localization config (TemporalLocalizationConfigMixin)"
        )
    return dict(config.window_merge_nms_kwargs())


def _check_classes(model, dataset) -> list[str]:
    names = class_names_of(dataset)
    model_names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    if names != model_names:
        raise ValueError(f"the dataset's classes {names} differ from the model's config.id2label {model_names}")
    return names


@torch.no_grad()
def predict_tal(
    model,
    dataset,
    *,
    window_size: int | None = None,
    window_overlap: float = 0.25,
    batch_size: int = 8,
    label_names: bool = True,
    progress: bool = False,
    forward_kwargs: dict | None = None,
) -> dict[str, list[dict]]:
    """Detections of `model` on every video of `dataset` (TAL rows with `features`): `{video_id: [{"segment":
    [s, e] (seconds), "score", "label"}, ...]}` sorted by score, in dataset order.

    `window_size` (feature steps): run windows of that size overlapping by `window_overlap` and merge each video's
    windows with the model's NMS settings; `None` runs whole videos. `label_names`: class names
    (`config.id2label`) instead of ids. `forward_kwargs` go to every forward call (e.g. `use_language=True`).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = TemporalFeatureDataset(dataset) if isinstance(dataset, datasets.Dataset) else dataset
    source = sliding_windows(rows, window_size, window_overlap) if window_size is not None else rows
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)
    loader = torch.utils.data.DataLoader(source, batch_size=batch_size, shuffle=False, collate_fn=collator)
    if progress:
        from tqdm.auto import tqdm

        loader = tqdm(loader, desc="predict", unit="batch", leave=False)
    device = next(model.parameters()).device
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    was_training = model.training
    model.eval()
    window_predictions, metadata = [], []
    try:
        for batch in loader:
            meta = batch.pop("metadata")
            batch.pop("labels", None)
            outputs = model(
                input_features=batch["input_features"].to(device, dtype),
                attention_mask=batch["attention_mask"].to(device),
                **(forward_kwargs or {}),
            )
            window_predictions.extend(model.post_process(outputs, meta, label_names=label_names))
            metadata.extend(meta)
    finally:
        model.train(was_training)
    merged = merge_window_predictions(window_predictions, metadata, window_merge_nms_kwargs(model.config))
    return {video_id: merged[video_id] for video_id in dict.fromkeys(m["video_id"] for m in metadata)}


def tal_references(dataset, label_names: bool = True) -> dict[str, list[dict]]:
    """Ground truth of every video: `{video_id: [{"segment": [s, e], "label"}, ...]}` (names or ids)."""
    names = class_names_of(dataset) if label_names else None
    columns = [c for c in ("video_id", "segments", "labels") if c in dataset.column_names]
    if len(columns) < 3:
        raise ValueError(f"TAL rows need video_id, segments and labels; the dataset has {dataset.column_names}")
    references = {}
    for index, row in enumerate(dataset.select_columns(columns)):
        video_id = row["video_id"]
        if video_id in references:
            raise ValueError(f"video_id {video_id!r} appears twice (row {index})")
        references[video_id] = [
            {"segment": [float(s), float(e)], "label": names[int(label)] if names else int(label)}
            for (s, e), label in zip(row["segments"], row["labels"])
        ]
    return references


def evaluate_tal(
    model,
    dataset,
    *,
    iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
    window_size: int | None = None,
    window_overlap: float = 0.25,
    batch_size: int = 8,
    progress: bool = False,
    forward_kwargs: dict | None = None,
) -> tuple[dict, dict[str, list[dict]]]:
    """`(metrics, predictions)`: the `tal_map` metrics (`mAP@t`, `average_mAP`, `per_class_AP`) of `model` on
    `dataset`, and its predictions (`predict_tal`, class names as labels)."""
    _check_classes(model, dataset)
    predictions = predict_tal(
        model,
        dataset,
        window_size=window_size,
        window_overlap=window_overlap,
        batch_size=batch_size,
        progress=progress,
        forward_kwargs=forward_kwargs,
    )
    return score_predictions(predictions, dataset, iou_thresholds), predictions


def score_predictions(predictions: dict[str, list[dict]], dataset, iou_thresholds: Sequence[float]) -> dict:
    """`tal_map` of per-video predictions against the dataset's segment ground truth (videos without a
    prediction score as empty)."""
    references = tal_references(dataset)
    video_ids = list(references)
    return compute_tal_map(
        [predictions.get(v, []) for v in video_ids],
        [references[v] for v in video_ids],
        iou_thresholds=tuple(iou_thresholds),
        video_ids=video_ids,
    )


def _write_json(data, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
    return path


@torch.no_grad()
def encode_video_dataset(model, dataset, fps: float | None = None, video_root=None, progress: bool = False):
    """A TAL dataset of videos (a `video` column) as the same rows with the features of `model`'s own video encoder
    (`ModelVideoEncoder`, as the pipeline encodes a video): `features` (tokens x D) and the token geometry (`fps`,
    `feature_stride`, `num_frames`), so `evaluate_tal` scores an end-to-end model in sliding windows of tokens.
    `fps`: frames sampled per second (default: each video's own rate)."""

    from ..data.model_video_encoder import ModelVideoEncoder
    from ..data.synthetic import tal_features

    if "video" not in dataset.column_names:
        raise ValueError(f"encode_video_dataset: the dataset has no 'video' column (columns: {dataset.column_names})")
    encoder = ModelVideoEncoder(model, fps=fps)
    was_training = model.training
    model.eval()
    rows = dataset.remove_columns(
        [c for c in ("features", "fps", "feature_stride", "num_frames") if c in dataset.column_names]
    )
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc="encode videos", unit="video", leave=False)
    columns = {
        key: []
        for key in ("video_id", "duration", "fps", "feature_stride", "num_frames", "features", "segments", "labels")
    }
    try:
        for index, row in enumerate(rows):
            try:
                features, video_fps, video_duration = encoder.extract(row["video"], video_root)
            except (OSError, ValueError) as err:
                raise ValueError(
                    f"encode_video_dataset: row {index} (video_id={row.get('video_id')!r}): {err}"
                ) from err
            columns["video_id"].append(row["video_id"])
            columns["duration"].append(float(row.get("duration") or video_duration))
            columns["fps"].append(video_fps)
            columns["feature_stride"].append(encoder.feature_stride)
            columns["num_frames"].append(encoder.num_frames)
            columns["features"].append(features)
            columns["segments"].append(row.get("segments") or [])
            columns["labels"].append(row.get("labels") or [])
    finally:
        model.train(was_training)
    return datasets.Dataset.from_dict(columns, features=tal_features(class_names_of(dataset), encoder.feature_dim))


def write_predictions_json(predictions: dict[str, list[dict]], path, version: str = "momentzoo") -> Path:
    """Write predictions in the ActionFormer/OpenTAD detections format: `{"version", "results": {video_id: [...]}}`
    (what `momentzoo evaluate --predictions` reads)."""
    return _write_json({"version": version, "results": predictions}, path)


def write_references_json(dataset, path, subset: str = "test") -> Path:
    """Write a TAL dataset's ground truth in the ActivityNet format: `{"database": {video_id: {"subset",
    "duration", "annotations": [{"segment", "label"}]}}}` (what `momentzoo evaluate --references` reads)."""
    references = tal_references(dataset)
    durations = dict(zip(list(dataset["video_id"]), list(dataset["duration"])))
    database = {
        video_id: {"subset": subset, "duration": float(durations[video_id]), "annotations": annotations}
        for video_id, annotations in references.items()
    }
    return _write_json({"database": database}, path)


def format_map_table(results: dict[str, dict], iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS) -> str:
    """A plain-text table of per-threshold mAP and their average (percent), one row per model:
    `results` maps a model name to its `tal_map` metrics."""
    keys = [f"mAP@{t:g}" for t in iou_thresholds]
    header = ["model"] + [f"@{t:g}" for t in iou_thresholds] + ["avg"]
    rows = [
        [name] + [f"{100 * metrics[k]:.1f}" for k in keys] + [f"{100 * metrics['average_mAP']:.1f}"]
        for name, metrics in results.items()
    ]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).rjust(w) if i else str(cell).ljust(w) for i, (cell, w) in enumerate(zip(r, widths)))
        for r in [header] + rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- the zero-shot protocol
# The zero-shot TAL protocol: train on the seen classes of a split, score the unseen classes with `tal_map`, report
# each split and the mean over splits the way zero-shot TAL papers do (EffPrompt, STALE, PSFTR, ...).
#
#     train, test, classes = zero_shot_data(data, "THUMOS14", "75_25", index=3, train_split="val", eval_split="test")
#     metrics, predictions = evaluate_zero_shot(model, test, classes["unseen"], window_size=128, window_overlap=0.25)
#     print(format_zero_shot_table({3: metrics}, ZERO_SHOT_IOU_THRESHOLDS["THUMOS14"], title="THUMOS14 75/25"))
#
# The model must be open-vocabulary (`config.takes_class_names`): its `forward` and `post_process` take
# `class_names` and it has a `candidate_classes(names)` context (PSFTR).

# The tIoU thresholds each benchmark reports (ActivityNet: 0.5:0.05:0.95).
ZERO_SHOT_IOU_THRESHOLDS = {
    "THUMOS14": (0.3, 0.4, 0.5, 0.6, 0.7),
    "ActivityNet": tuple(round(0.5 + 0.05 * i, 2) for i in range(10)),
    "synthetic": (0.3, 0.4, 0.5, 0.6, 0.7),
}
UNSEEN_FRACTIONS = {"75_25": 0.25, "50_50": 0.5}


def zero_shot_classes(
    benchmark: str, class_names, split_ratio: str = "75_25", index: int = 0, seed: int = 0
) -> dict[str, list[str]]:
    """`{"seen", "unseen"}` of split `index`: the shipped lists for THUMOS14 / ActivityNet, else a seeded random
    split of `class_names` (`momentzoo.data.class_splits.random_class_split`)."""
    if split_ratio not in ZERO_SHOT_RATIOS:
        raise ValueError(f"split_ratio must be one of {list(ZERO_SHOT_RATIOS)}, got {split_ratio!r}")
    if benchmark in ZERO_SHOT_BENCHMARKS:
        from ..data.zero_shot import load_zero_shot_classes

        return load_zero_shot_classes(benchmark, split_ratio, index)
    return random_class_split(class_names, UNSEEN_FRACTIONS[split_ratio], index, seed)


def zero_shot_data(
    data,
    benchmark: str,
    split_ratio: str = "75_25",
    index: int = 0,
    train_split: str = "train",
    eval_split: str = "test",
    seed: int = 0,
):
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
        predictions = predict_tal(
            model,
            dataset,
            window_size=window_size,
            window_overlap=window_overlap,
            batch_size=batch_size,
            label_names=True,
            progress=progress,
        )
    return score_predictions(predictions, dataset, iou_thresholds), predictions


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
