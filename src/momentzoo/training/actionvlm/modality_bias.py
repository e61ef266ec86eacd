"""The modality-bias diagnostics of the ActionVLM paper, for any [`ActionVLMForTemporalLocalization`]:

* **mLA** (mean language advantage): the mean language weight λ_lang = 2σ(ReLU(Â)) − 1 over the ground-truth
  frames of each class; how much the model leans on language per class.
* **LAP** (language advantage perturbation): the relative drop of average mAP when the class descriptions are
  deliberately mismatched (every class gets another class's description):
  `LAP = (mAP_matched − mAP_shuffled) / mAP_matched`. A model that relies on the descriptions loses mAP; a
  vision-dominant one barely moves.

Both run the full vision-language model over whole videos of a TAL dataset (momentzoo's row contract) and score
with the `tal_map` metric (`compute_tal_map`).
"""

import math
import random

import torch

from ...data.collators import TemporalLocalizationCollator
from ...metrics.tal_map.tal_map import DEFAULT_IOU_THRESHOLDS, compute_tal_map

__all__ = [
    "derange_descriptions",
    "predict_with_language_weights",
    "mean_language_advantage",
    "evaluate_modality_bias",
]


def derange_descriptions(descriptions: list[str], seed: int = 0) -> list[str]:
    """The descriptions reassigned so that no class keeps its own: a cyclic shift along a random class order."""
    if descriptions is None or len(descriptions) < 2:
        raise ValueError("mismatching descriptions needs at least two classes with descriptions")
    order = list(range(len(descriptions)))
    random.Random(seed).shuffle(order)
    shuffled = [None] * len(descriptions)
    for i, cls in enumerate(order):
        shuffled[cls] = descriptions[order[(i + 1) % len(order)]]
    return shuffled


def _rows(dataset):
    if hasattr(dataset, "with_format"):
        dataset = dataset.with_format("numpy")
    return dataset


@torch.no_grad()
def predict_with_language_weights(model, dataset, batch_size: int = 8) -> dict:
    """Predictions (seconds) and references of every video of `dataset`, and per class the sum of λ_lang over its
    ground-truth frames and their count. Returns `{"predictions", "references", "weight_sums", "frame_counts"}`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rows = _rows(dataset)
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)
    was_training = model.training
    model.eval()
    num_classes = model.config.num_classes
    weight_sums = torch.zeros(num_classes, dtype=torch.float64)
    frame_counts = torch.zeros(num_classes, dtype=torch.float64)
    predictions, references = [], []
    try:
        for start in range(0, len(rows), batch_size):
            chunk = [rows[i] for i in range(start, min(start + batch_size, len(rows)))]
            batch = collator(chunk)
            metadata = batch.pop("metadata")
            labels = batch.pop("labels", None)
            inputs = {k: v.to(model.device) for k, v in batch.items()}
            inputs["input_features"] = inputs["input_features"].to(model.dtype)
            outputs = model(**inputs, use_language=True)
            predictions.extend(model.post_process(outputs, metadata))
            for row in chunk:
                segments = [list(map(float, seg)) for seg in row["segments"]]
                references.append(
                    [{"segment": seg, "label": int(label)} for seg, label in zip(segments, row["labels"])]
                )
            if labels is not None:
                classes = model.frame_classes(labels, outputs.frame_mask.shape[1], outputs.frame_mask).cpu()
                weights = outputs.language_weight.detach().double().cpu()
                valid = classes >= 0
                weight_sums.index_add_(0, classes[valid], weights[valid])
                frame_counts.index_add_(0, classes[valid], torch.ones(int(valid.sum()), dtype=torch.float64))
    finally:
        model.train(was_training)
    return {
        "predictions": predictions,
        "references": references,
        "weight_sums": weight_sums,
        "frame_counts": frame_counts,
    }


def mean_language_advantage(weight_sums: torch.Tensor, frame_counts: torch.Tensor, class_names) -> dict:
    """mLA per class name (NaN for a class without ground-truth frames)."""
    return {
        name: float(weight_sums[i] / frame_counts[i]) if frame_counts[i] > 0 else math.nan
        for i, name in enumerate(class_names)
    }


def evaluate_modality_bias(
    model, dataset, batch_size: int = 8, seed: int = 0, iou_thresholds=DEFAULT_IOU_THRESHOLDS
) -> dict:
    """mLA and LAP of `model` on `dataset` (rows with `features`, `segments`, `labels` and geometry).

    Returns `{"average_mAP", "average_mAP_shuffled", "LAP", "mAP", "mAP_shuffled", "mLA", "mLA_overall"}`;
    `mAP*` map `"mAP@t"` to values, `mLA` maps class names to their mean λ_lang. The model's descriptions are
    restored afterwards. LAP is NaN when the matched mAP is 0."""
    config = model.config
    if config.class_descriptions is None:
        raise ValueError("LAP needs class descriptions: the model's config.class_descriptions is None")
    matched = predict_with_language_weights(model, dataset, batch_size)
    matched_map = compute_tal_map(matched["predictions"], matched["references"], iou_thresholds)
    descriptions, prompt_ids = list(config.class_descriptions), list(config.prompt_token_ids)
    try:
        model.set_class_descriptions(derange_descriptions(descriptions, seed))
        shuffled = predict_with_language_weights(model, dataset, batch_size)
    finally:  # restore exactly, without re-tokenizing
        config.class_descriptions, config.prompt_token_ids = descriptions, prompt_ids
    shuffled_map = compute_tal_map(shuffled["predictions"], shuffled["references"], iou_thresholds)
    average, average_shuffled = matched_map["average_mAP"], shuffled_map["average_mAP"]
    total = matched["frame_counts"].sum()
    return {
        "average_mAP": average,
        "average_mAP_shuffled": average_shuffled,
        "LAP": (average - average_shuffled) / average if average > 0 else math.nan,
        "mAP": {k: v for k, v in matched_map.items() if k.startswith("mAP@")},
        "mAP_shuffled": {k: v for k, v in shuffled_map.items() if k.startswith("mAP@")},
        "mLA": mean_language_advantage(matched["weight_sums"], matched["frame_counts"], config.class_names),
        "mLA_overall": float(matched["weight_sums"].sum() / total) if total > 0 else math.nan,
    }
