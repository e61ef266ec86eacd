"""DELU's evaluation protocol on momentzoo's `tal_map`: mAP at tIoU 0.1, 0.2, ..., 0.7 and the averages over
0.1:0.5, 0.3:0.7 and 0.1:0.7 that WTAL papers report."""

from ..tal_evaluation import evaluate_tal

__all__ = ["WTAL_AVERAGES", "WTAL_IOU_THRESHOLDS", "evaluate_wtal", "wtal_averages"]

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


def evaluate_wtal(
    model, dataset, *, batch_size: int = 8, window_size: int | None = None, window_overlap: float | None = None
) -> tuple[dict, dict]:
    """`(metrics, predictions)` of a DELU / MLLM4WTAL model on TAL rows with segment ground truth (whole videos by
    default, the config's `inference_window_size` otherwise): `tal_map` at `WTAL_IOU_THRESHOLDS` plus the averages."""
    config = model.config
    window_size = config.inference_window_size if window_size is None else window_size
    overlap = config.inference_window_overlap if window_overlap is None else window_overlap
    metrics, predictions = evaluate_tal(
        model,
        dataset,
        iou_thresholds=WTAL_IOU_THRESHOLDS,
        window_size=window_size,
        window_overlap=overlap,
        batch_size=batch_size,
    )
    metrics.update(wtal_averages(metrics))
    return metrics, predictions
