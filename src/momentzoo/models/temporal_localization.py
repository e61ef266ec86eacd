"""The contract of a temporal action localization model: what the `temporal-action-localization` pipeline,
`momentzoo.training.predict_tal` / `evaluate_tal` and the window merge read from it.

Every TAL config inherits `TemporalLocalizationConfigMixin` (before `PreTrainedConfig` in its bases) and declares
its capabilities here; callers read them and never probe a model or config with `getattr` / `hasattr` /
`inspect`. The model itself (registered with task `"temporal-localization"`) provides:

* `forward(input_features=(B, T, input_dim), attention_mask=(B, T), labels=None, **kwargs)` -> a `ModelOutput`,
  plus `class_names=[...]` when the config declares `takes_class_names`;
* `post_process(outputs, metadata, label_names=False)` -> per window a list of `{"segment": [s, e] (seconds),
  "score", "label"}` (plus `class_names=` as above);
* with `has_video_encoder`: `encode_video(pixel_values) -> (B, T, input_dim)` and `video_feature_geometry() ->
  {"feature_stride", "num_frames"}` (the pipeline then decodes videos itself, `momentzoo.data.ModelVideoEncoder`).

The config holds `input_dim`, `fps`, `feature_stride`, `num_frames` (the default geometry of feature inputs) and
`id2label`.
"""

from __future__ import annotations

import torch

__all__ = ["THUMOS14_CLASSES", "TemporalLocalizationConfigMixin", "dummy_feature_inputs"]

# The default classes of the TAL configs: THUMOS14's 20, the benchmark every TAL paper reports.
THUMOS14_CLASSES = (
    "BaseballPitch", "BasketballDunk", "Billiards", "CleanAndJerk", "CliffDiving", "CricketBowling", "CricketShot",
    "Diving", "FrisbeeCatch", "GolfSwing", "HammerThrow", "HighJump", "JavelinThrow", "LongJump", "PoleVault",
    "Shotput", "SoccerPenalty", "TennisSwing", "ThrowDiscus", "VolleyballSpiking",
)  # fmt: skip


class TemporalLocalizationConfigMixin:
    """Declared capabilities of a temporal action localization config (see the module docstring)."""

    #: `forward` and `post_process` take the candidate classes as `class_names=[...]` (open vocabulary, e.g. PSFTR);
    #: a closed-set model (False) detects `config.id2label`.
    takes_class_names: bool = False
    #: output fields the pipeline drops before post-processing (as in transformers' configs)
    keys_to_ignore_at_inference: list[str] = []

    @property
    def has_video_encoder(self) -> bool:
        """Whether the model encodes raw video frames itself (`encode_video`, `video_feature_geometry`) rather than
        reading pre-extracted features only."""
        return False

    @property
    def inference_window(self) -> tuple[int | None, float]:
        """`(size, overlap)` of the sliding windows a long video is cut into at inference: `size` in feature steps
        (None: the whole video at once) and the fraction `overlap` in [0, 1) shared by consecutive windows."""
        raise NotImplementedError(f"{type(self).__name__} must declare its inference_window")

    def window_merge_nms_kwargs(self) -> dict:
        """Keyword arguments of `momentzoo.segments.batched_nms` that merge the detections of a video's overlapping
        windows (`momentzoo.data.merge_window_predictions`): the model's own NMS settings. A model without NMS
        (`nms_method="none"`) still removes exact duplicates: hard NMS at IoU 1."""
        raise NotImplementedError(f"{type(self).__name__} must declare its window_merge_nms_kwargs()")


def dummy_feature_inputs(model, length: int, real_length: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """`dummy_inputs` of a feature-input TAL model: two `(length, input_dim)` videos drawn from `generator`, the
    second padded after `real_length` steps, on the model's device and dtype."""
    features = torch.randn(2, length, model.config.input_dim, generator=generator)
    mask = torch.ones(2, length, dtype=torch.long)
    mask[1, real_length:] = 0
    return {"input_features": features.to(model.device, model.dtype), "attention_mask": mask.to(model.device)}
