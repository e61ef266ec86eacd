"""Fit a TAL model's configuration to a dataset: feature width, class names and feature geometry come from the
data, architecture fields from the caller (a YAML config's `model_config`)."""

from __future__ import annotations

from .tal_evaluation import class_names_of

__all__ = ["dataset_config_fields", "dataset_class_fields", "check_model_matches_dataset"]

_GEOMETRY = ("fps", "feature_stride", "num_frames")


def dataset_config_fields(dataset, model_config: dict | None = None) -> dict:
    """`model_config` completed from `dataset` (TAL rows with `features`): `input_dim`, `id2label` and the first
    row's `fps`, `feature_stride`, `num_frames` (the config's defaults for metadata that lacks them). A field the
    caller sets that contradicts the data (`input_dim`, `num_classes`, `id2label`) is a ValueError."""
    feature = dataset.features.get("features") if hasattr(dataset, "features") else None
    shape = getattr(feature, "shape", None)
    if not shape or shape[-1] is None:
        raise ValueError("the dataset has no 'features' column of fixed width (Array2D((None, D)))")
    input_dim = int(shape[-1])
    fields = dataset_class_fields(dataset, model_config)
    if fields.get("input_dim", input_dim) != input_dim:
        raise ValueError(f"model_config.input_dim={fields['input_dim']} but the dataset's features are {input_dim}-d")
    if len(dataset):
        first = dataset.select_columns([c for c in _GEOMETRY if c in dataset.column_names])[0]
        for key in _GEOMETRY:
            if key in first and key not in fields:
                fields[key] = int(first[key]) if key != "fps" else float(first[key])
    fields["input_dim"] = input_dim
    return fields


def dataset_class_fields(dataset, model_config: dict | None = None) -> dict:
    """`model_config` completed with the dataset's classes (`id2label`); a `num_classes` or `id2label` the caller
    sets that contradicts them is a ValueError. For video datasets, whose feature width is the encoder's."""
    fields = dict(model_config or {})
    names = class_names_of(dataset)
    id2label = {i: name for i, name in enumerate(names)}
    given = fields.pop("id2label", None)
    if given is not None and {int(k): v for k, v in given.items()} != id2label:
        raise ValueError(f"model_config.id2label {given} differs from the dataset's classes {names}")
    if fields.get("num_classes", len(names)) != len(names):
        raise ValueError(f"model_config.num_classes={fields['num_classes']} but the dataset has {len(names)} classes")
    fields.pop("num_classes", None)
    fields["id2label"] = id2label
    return fields


def check_model_matches_dataset(model, dataset) -> None:
    """A pretrained model fine-tuned or evaluated on `dataset` must share its classes and feature width."""
    names = class_names_of(dataset)
    model_names = [model.config.id2label[i] for i in range(len(model.config.id2label))]
    if names != model_names:
        raise ValueError(f"the model's classes {model_names} differ from the dataset's {names}")
    feature = dataset.features.get("features")
    width = getattr(feature, "shape", (None, None))[-1]
    input_dim = getattr(model.config, "input_dim", None)
    if width is not None and input_dim is not None and int(width) != int(input_dim):
        raise ValueError(f"the model takes {input_dim}-d features but the dataset's are {width}-d")
