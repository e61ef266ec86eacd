"""The `highlight_detection` metric (also loadable with `evaluate.load(momentzoo.metrics.path("highlight_detection"))`)."""

from .highlight_detection import MR_IOU_THRESHOLDS, SALIENCY_THRESHOLDS, QVHighlightsMetric, compute_highlight_detection

__all__ = ["MR_IOU_THRESHOLDS", "SALIENCY_THRESHOLDS", "QVHighlightsMetric", "compute_highlight_detection"]
