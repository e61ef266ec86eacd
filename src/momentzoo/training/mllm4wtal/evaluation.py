"""DELU's evaluation protocol on momentzoo's `tal_map`: mAP at tIoU 0.1, 0.2, ..., 0.7 and the averages over
0.1:0.5, 0.3:0.7 and 0.1:0.7 that WTAL papers report, with THUMOS14's ambiguous segments handled as DELU does
(detections overlapping one are dropped before scoring)."""

from ...metrics.tal_map.tal_map import compute_tal_map
from ..tal import class_names_of, predict_tal, tal_references

__all__ = ["WTAL_AVERAGES", "WTAL_IOU_THRESHOLDS", "drop_ambiguous", "evaluate_wtal", "wtal_averages"]

WTAL_IOU_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
WTAL_AVERAGES = {
    "0.1:0.5": (0.1, 0.2, 0.3, 0.4, 0.5),
    "0.3:0.7": (0.3, 0.4, 0.5, 0.6, 0.7),
    "0.1:0.7": WTAL_IOU_THRESHOLDS,
}


def wtal_averages(metrics: dict) -> dict:
    """`{"average_mAP@0.1:0.5", "average_mAP@0.3:0.7", "average_mAP@0.1:0.7"}` from `mAP@t` entries."""
    out = {}
    for name, thresholds in WTAL_AVERAGES.items():
        values = [metrics[f"mAP@{t}"] for t in thresholds]
        out[f"average_mAP@{name}"] = sum(values) / len(values)
    return out


def drop_ambiguous(predictions: dict, ambiguous: dict) -> dict:
    """`predictions` without the detections that overlap (by any positive length) one of their video's ambiguous
    segments (`{video_id: [[start, end], ...]}`, seconds): DELU's `filter_segments`."""
    kept = {}
    for video_id, detections in predictions.items():
        spans = ambiguous.get(video_id) or []
        kept[video_id] = [
            d for d in detections
            if not any(min(d["segment"][1], e) - max(d["segment"][0], s) > 0 for s, e in spans)
        ]  # fmt: skip
    return kept


def evaluate_wtal(
    model,
    dataset,
    *,
    batch_size: int = 8,
    window_size: int | None = None,
    window_overlap: float | None = None,
    ambiguous_column: str | None = "ambiguous_segments",
) -> tuple[dict, dict]:
    """`(metrics, predictions)` of a TAL model (DELU / MLLM4WTAL, or any other) on TAL rows with segment ground
    truth: `predict_tal` with the windows the config declares (`inference_window`: whole videos for DELU's
    defaults) unless `window_size` / `window_overlap` are given, then `tal_map` at `WTAL_IOU_THRESHOLDS` plus the
    averages. Detections overlapping a segment of `ambiguous_column` (when the dataset has it, as THUMOS14's does)
    are dropped."""
    config = model.config
    names = class_names_of(dataset)
    if names != [config.id2label[i] for i in range(len(config.id2label))]:
        raise ValueError(f"the dataset's classes {names} differ from the model's config.id2label {config.id2label}")
    declared_size, declared_overlap = config.inference_window
    window_size = declared_size if window_size is None else window_size
    overlap = declared_overlap if window_overlap is None else window_overlap
    predictions = predict_tal(model, dataset, window_size=window_size, window_overlap=overlap, batch_size=batch_size)
    if ambiguous_column is not None and ambiguous_column in dataset.column_names:
        rows = dataset.select_columns(["video_id", ambiguous_column])
        predictions = drop_ambiguous(predictions, {r["video_id"]: r[ambiguous_column] for r in rows})
    references = tal_references(dataset)
    video_ids = list(references)
    metrics = compute_tal_map(
        [predictions.get(v, []) for v in video_ids],
        [references[v] for v in video_ids],
        iou_thresholds=WTAL_IOU_THRESHOLDS,
        video_ids=video_ids,
    )
    metrics.update(wtal_averages(metrics))
    return metrics, predictions
