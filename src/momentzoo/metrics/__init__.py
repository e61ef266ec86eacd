"""Metrics as `evaluate` modules: `evaluate.load(momentzoo.metrics.path("tal_map"))`."""

from pathlib import Path

__all__ = ["path", "available", "TemporalActionLocalizationMAP", "TemporalGroundingRecall", "QVHighlightsMetric"]

_ROOT = Path(__file__).parent

# Metric classes, imported on first use so that `import momentzoo.metrics` stays light (no evaluate/datasets).
_LAZY = {
    "TemporalActionLocalizationMAP": "momentzoo.metrics.tal_map.tal_map",
    "TemporalGroundingRecall": "momentzoo.metrics.grounding_recall.grounding_recall",
    "QVHighlightsMetric": "momentzoo.metrics.highlight_detection.highlight_detection",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available() -> list[str]:
    return sorted(p.name for p in _ROOT.iterdir() if (p / f"{p.name}.py").is_file())


def path(name: str) -> str:
    """The folder of metric `name`, to pass to `evaluate.load`."""
    folder = _ROOT / name
    if not (folder / f"{name}.py").is_file():
        raise ValueError(f"unknown metric {name!r}; available: {available()}")
    return str(folder)
