"""The model registry: one line per model. `import momentzoo` registers every entry with the Auto classes."""

from dataclasses import dataclass

__all__ = ["ModelEntry", "MODELS"]


@dataclass(frozen=True)
class ModelEntry:
    model_type: str
    config: str  # dotted path of the config class
    model: str  # dotted path of the full task model (what AutoModel returns)
    task: str  # "temporal-localization" or "temporal-grounding"


MODELS: list[ModelEntry] = [
]
