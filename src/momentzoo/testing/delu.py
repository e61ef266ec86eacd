"""A tiny DELU config for tests, benchmarks and demos."""

from ..models.delu import DELUConfig

__all__ = ["tiny_delu_config"]


def tiny_delu_config(**overrides) -> DELUConfig:
    """A DELU of width 16 (two 8-d streams), attention width 8, classifier width 16 and 3 classes, dropout off."""
    values = {
        "input_dim": 16,
        "rgb_dim": 8,
        "attention_hidden_size": 8,
        "classifier_hidden_size": 16,
        "num_classes": 3,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "classifier_dropout": 0.0,
    }
    if "id2label" in overrides:
        values.pop("num_classes")
    return DELUConfig(**{**values, **overrides})
