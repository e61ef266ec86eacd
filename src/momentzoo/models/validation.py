"""Checks shared by every model: config fields (a `ValueError` naming the config, the field and the allowed
values) and the `(batch, time, dim)` feature inputs of the TAL models."""

import math
from numbers import Integral, Real
from typing import ClassVar

import torch
from transformers.utils import logging

__all__ = [
    "ConfigFieldChecks",
    "LabelMapMixin",
    "validate_feature_inputs",
    "validate_segment_labels",
    "pad_segment_labels",
    "window_geometry",
]

logger = logging.get_logger(__name__)


class ConfigFieldChecks:
    """Field validators whose errors name `owner` (the config class), e.g. `ActionFormerConfig.window_size`."""

    def __init__(self, owner: str):
        self.owner = owner

    def fail(self, field: str, allowed: str, value) -> None:
        raise ValueError(f"{self.owner}.{field} must be {allowed}, got {value!r}")

    def integer(self, field: str, value, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
            self.fail(field, f"an integer >= {minimum}", value)
        return int(value)

    def number(
        self, field: str, value, low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            self.fail(field, "a finite number", value)
        if (value <= low if low_open else value < low) or (value >= high if high_open else value > high):
            self.fail(field, f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}", value)
        return float(value)

    def choice(self, field: str, value, allowed: tuple):
        if value not in allowed:
            self.fail(field, f"one of {list(allowed)}", value)
        return value

    def sub_config(self, field: str, value, expected_model_types: tuple[str, ...] | None = None):
        """A nested config (`text_config`, `vision_config`) from None, a `PreTrainedConfig` or a dict with a
        `model_type` (built with `AutoConfig`), optionally of one of `expected_model_types`."""
        from transformers import AutoConfig, PreTrainedConfig

        if value is None:
            return None
        if isinstance(value, dict):
            value = dict(value)
            model_type = value.pop("model_type", None)
            if not model_type:
                self.fail(field, "a config or a dict with a 'model_type'", value)
            try:
                value = AutoConfig.for_model(model_type, **value)
            except ValueError as error:
                raise ValueError(f"{self.owner}.{field}: {error}") from None
        if not isinstance(value, PreTrainedConfig):
            self.fail(field, "None, a PreTrainedConfig or a dict", value)
        if expected_model_types is not None and value.model_type not in expected_model_types:
            self.fail(field, f"a config of model type {list(expected_model_types)}", value.model_type)
        return value

    def boolean(self, field: str, value) -> bool:
        if not isinstance(value, bool):
            self.fail(field, "True or False", value)
        return value

    def label_map(self, id2label) -> dict[int, str]:
        """`id2label` checked: ids 0..K-1 (int or their JSON strings) and distinct, non-empty names."""
        if not isinstance(id2label, dict) or not id2label:
            self.fail("id2label", "a non-empty {id: name} dict", id2label)
        try:
            id2label = {int(key): str(value) for key, value in id2label.items()}
        except (TypeError, ValueError):
            self.fail("id2label", "a dict with integer ids", id2label)
        if sorted(id2label) != list(range(len(id2label))):
            self.fail("id2label", f"a dict with ids 0..{len(id2label) - 1}", sorted(id2label))
        if len(set(id2label.values())) != len(id2label) or any(not v.strip() for v in id2label.values()):
            self.fail("id2label", "a dict with distinct, non-empty names", id2label)
        return id2label

    def resolve_labels(self, kwargs: dict, num_classes, default_names) -> dict[int, str]:
        """The config's `id2label`, popping the label arguments from `kwargs` and reading them as transformers
        does: `num_labels` (or its alias `num_classes`) that disagrees with `id2label` re-heads to `LABEL_i` names
        (what `from_pretrained(ckpt, num_labels=K)` asks for), else `id2label`, else `default_names`. `label2id` is
        always the inverse of `id2label` (see `LabelMapMixin`)."""
        kwargs.pop("label2id", None)
        id2label, num_labels = kwargs.pop("id2label", None), kwargs.pop("num_labels", None)
        if num_classes is not None:
            num_classes = self.integer("num_classes", num_classes)
            if id2label is not None and len(id2label) != num_classes:
                self.fail("num_classes", f"len(id2label) = {len(id2label)}", num_classes)
            num_labels = num_classes if num_labels is None else num_labels  # the transformers name wins
        if id2label is not None:
            id2label = self.label_map(id2label)
        if num_labels is None:
            return id2label if id2label is not None else dict(enumerate(default_names))
        num_labels = self.integer("num_labels", num_labels)
        if id2label is not None and len(id2label) == num_labels:
            return id2label
        if id2label is not None:
            logger.warning(f"{self.owner}: num_labels={num_labels} replaces the {len(id2label)} classes of id2label")
        return {i: f"LABEL_{i}" for i in range(num_labels)}


class LabelMapMixin:
    """For momentzoo configs: `num_classes` is an alias of transformers' `num_labels` (so setting either re-heads
    the config), and `id2label` is validated and `label2id` rebuilt whenever `id2label` is set, also after
    construction, as `from_pretrained(ckpt, id2label=..., ignore_mismatched_sizes=True)` does."""

    attribute_map: ClassVar[dict[str, str]] = {"num_classes": "num_labels"}

    def __setattr__(self, key, value):
        if key == "id2label" and value is not None:
            value = ConfigFieldChecks(type(self).__name__).label_map(value)
            super().__setattr__("id2label", value)
            super().__setattr__("label2id", {name: i for i, name in value.items()})
            return
        super().__setattr__(key, value)


def validate_feature_inputs(
    input_features: torch.Tensor, attention_mask: torch.Tensor | None, input_dim: int
) -> torch.Tensor:
    """Check `(batch, time, input_dim)` features and their `(batch, time)` mask; return the mask as bool.

    NaN or infinite values are an error at real steps only: what padding holds never reaches the outputs."""
    if not isinstance(input_features, torch.Tensor) or input_features.ndim != 3:
        shape = tuple(input_features.shape) if isinstance(input_features, torch.Tensor) else type(input_features)
        raise ValueError(f"input_features must be a (batch, time, {input_dim}) tensor, got {shape}")
    batch, length, dim = input_features.shape
    if dim != input_dim:
        raise ValueError(f"input_features has {dim} channels per step but config.input_dim is {input_dim}")
    if length == 0 or batch == 0:
        raise ValueError(f"input_features is empty: shape {tuple(input_features.shape)}")
    if not input_features.is_floating_point():
        raise ValueError(f"input_features must be floating point, got {input_features.dtype}")
    if attention_mask is None:
        mask = torch.ones(batch, length, dtype=torch.bool, device=input_features.device)
    else:
        if attention_mask.shape != (batch, length):
            raise ValueError(
                f"attention_mask must be (batch, time) = {(batch, length)}, got {tuple(attention_mask.shape)}"
            )
        mask = attention_mask.to(device=input_features.device, dtype=torch.bool)
    empty = (~mask.any(dim=1)).nonzero().flatten()
    if empty.numel():
        raise ValueError(f"attention_mask has no real step for batch index(es) {empty.tolist()}")
    bad = (~torch.isfinite(input_features) & mask[..., None]).any(dim=(1, 2)).nonzero().flatten()
    if bad.numel():
        raise ValueError(f"input_features has NaN or infinite values at real steps of batch index(es) {bad.tolist()}")
    return mask


def validate_segment_labels(
    labels, batch: int | None, num_classes: int, device=None, classes: str | None = None
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Check TAL `labels` (a list of `batch` dicts `{"class_labels": (n,), "segments": (n, 2)}`) and return them as
    `(segments float32 (n, 2), class ids long (n,))` pairs on `device`. Every error names the entry and field;
    `classes` describes the id range in the message (default: `[0, num_classes)`)."""
    if not isinstance(labels, (list, tuple)) or (batch is not None and len(labels) != batch):
        raise ValueError(
            f"labels must be a list of {batch} dicts (one per video), got {type(labels).__name__} "
            f"of length {len(labels) if isinstance(labels, (list, tuple)) else 'n/a'}"
        )
    pairs = []
    for i, item in enumerate(labels):
        if not isinstance(item, dict) or "segments" not in item or "class_labels" not in item:
            raise ValueError(f"labels[{i}] must be a dict with 'segments' and 'class_labels'")
        seg = torch.as_tensor(item["segments"], dtype=torch.float32, device=device)
        if seg.numel() == 0:
            seg = seg.reshape(0, 2)
        cls = torch.as_tensor(item["class_labels"], device=device).reshape(-1)
        if seg.ndim != 2 or seg.shape[-1] != 2:
            raise ValueError(f"labels[{i}]['segments'] must be (n, 2), got {tuple(seg.shape)}")
        if cls.shape[0] != seg.shape[0]:
            raise ValueError(f"labels[{i}] has {seg.shape[0]} segments but {cls.shape[0]} class_labels")
        if cls.numel() and (cls.is_floating_point() or cls.min() < 0 or cls.max() >= num_classes):
            raise ValueError(
                f"labels[{i}]['class_labels'] must be {classes or f'integer ids in [0, {num_classes})'}, "
                f"got {cls.tolist()}"
            )
        if not torch.isfinite(seg).all():
            raise ValueError(f"labels[{i}]['segments'] has NaN or infinite values")
        if (seg[:, 1] < seg[:, 0]).any():
            row = int((seg[:, 1] < seg[:, 0]).nonzero()[0])
            raise ValueError(f"labels[{i}]['segments'][{row}] ends before it starts: {seg[row].tolist()}")
        pairs.append((seg, cls.long()))
    return pairs


def pad_segment_labels(pairs, device=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(segments (B, N, 2), class ids (B, N), valid (B, N) bool)` from `validate_segment_labels` pairs, padded to
    the longest list (N >= 1)."""
    batch = len(pairs)
    most = max([1] + [seg.shape[0] for seg, _ in pairs])
    segments = torch.zeros(batch, most, 2, device=device)
    classes = torch.zeros(batch, most, dtype=torch.long, device=device)
    valid = torch.zeros(batch, most, dtype=torch.bool, device=device)
    for i, (seg, cls) in enumerate(pairs):
        segments[i, : len(seg)], classes[i, : len(cls)], valid[i, : len(seg)] = seg, cls, True
    return segments, classes, valid


def window_geometry(meta, index: int, config) -> tuple[float, float, int, int, float]:
    """`(duration, fps, feature_stride, num_frames, window_start)` of `post_process` metadata entry `index`;
    geometry missing from the entry comes from `config`."""
    if not isinstance(meta, dict) or "duration" not in meta:
        raise ValueError(f"metadata[{index}] must be a dict with at least 'duration' (seconds)")
    duration = float(meta["duration"])
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"metadata[{index}]['duration'] must be a positive number, got {meta['duration']!r}")
    return (
        duration,
        float(meta.get("fps") or config.fps),
        int(meta.get("feature_stride") or config.feature_stride),
        int(meta.get("num_frames") or config.num_frames),
        float(meta.get("window_start") or 0),
    )
