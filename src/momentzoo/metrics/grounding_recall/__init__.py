"""The `grounding_recall` metric (also loadable with `evaluate.load(momentzoo.metrics.path("grounding_recall"))`)."""

from .grounding_recall import DEFAULT_IOU_THRESHOLDS, DEFAULT_RANKS, TemporalGroundingRecall, compute_grounding_recall

__all__ = ["TemporalGroundingRecall", "compute_grounding_recall", "DEFAULT_RANKS", "DEFAULT_IOU_THRESHOLDS"]
