"""The `tal_map` metric (also loadable with `evaluate.load(momentzoo.metrics.path("tal_map"))`)."""

from .tal_map import DEFAULT_IOU_THRESHOLDS, TemporalActionLocalizationMAP, compute_tal_map

__all__ = ["TemporalActionLocalizationMAP", "compute_tal_map", "DEFAULT_IOU_THRESHOLDS"]
