"""Metrics as `evaluate` modules: `evaluate.load(momentzoo.metrics.path("tal_map"))`."""

from pathlib import Path

__all__ = ["path", "available"]

_ROOT = Path(__file__).parent


def available() -> list[str]:
    return sorted(p.name for p in _ROOT.iterdir() if (p / f"{p.name}.py").is_file())


def path(name: str) -> str:
    """The folder of metric `name`, to pass to `evaluate.load`."""
    folder = _ROOT / name
    if not (folder / f"{name}.py").is_file():
        raise ValueError(f"unknown metric {name!r}; available: {available()}")
    return str(folder)
