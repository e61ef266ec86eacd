"""Raw video for end-to-end models: `TemporalVideoCollator` turns TAL rows that carry a `video` into the
`pixel_values` of a model with its own video encoder (ActionVLM on a VideoMAE), so `Trainer` trains the encoder's
adapters from the frames themselves.

The frames of a row are decoded with PyAV at `fps` by timestamp (`momentzoo.data.video`), their shorter side
resized to the encoder's `image_size`, centre cropped and normalised with the image statistics of the encoder's
model type (`FramePreprocessor`, shared with the pipeline's `ModelVideoEncoder`). Time is counted in the model's
tokens: one token per `feature_stride` frames (a VideoMAE tubelet, or one frame with `upsample_video_tokens`),
with the token grid of `seconds_to_feature_grid(t, fps, feature_stride, num_frames)`. In training a video
longer than `max_frames` is cropped to a random window of whole tokens that keeps an action (ActionFormer's
truncation, `random_truncation`), and only that window is decoded (keyframe seek). The batch is

    pixel_values    (B, F, 3, S, S) float, F a multiple of the encoder's clip length
    attention_mask  (B, F) long, 1 at decoded frames, 0 at padding (the model turns it into a token mask)
    labels          B dicts {"class_labels": (n,) long, "segments": (n, 2) float} in tokens of the window
    metadata        (return_metadata=True) B dicts {"video_id", "duration", "fps", "feature_stride",
                    "num_frames", "window_start", "segments_clipped", "segments_dropped"} for `post_process`
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .collators import (
    _add_targets,
    _check_truncation,
    _ground_truth_of,
    _new_batch,
    _where,
    _window_ground_truth,
    missing_field_error,
    random_truncation,
)
from .shared_batches import collate_into_shared_slots
from .video import iter_video_frames, probe_video

__all__ = ["FramePreprocessor", "TemporalVideoCollator"]


class FramePreprocessor:
    """Frames decoded with their shorter side at `image_size` -> `(N, 3, S, S)` centre crops, rescaled to [0, 1]
    and normalised with `image_mean` / `image_std` (per channel), as the encoder's image processor does."""

    def __init__(self, image_size: int, image_mean: Sequence[float], image_std: Sequence[float]):
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
            raise ValueError(f"FramePreprocessor: image_size must be a positive int, got {image_size!r}")
        for name, value in (("image_mean", image_mean), ("image_std", image_std)):
            if value is None or len(value) != 3:
                raise ValueError(f"FramePreprocessor: {name} must have 3 values (RGB), got {value!r}")
        if min(image_std) <= 0:
            raise ValueError(f"FramePreprocessor: image_std must be > 0, got {list(image_std)}")
        self.image_size = image_size
        self.image_mean, self.image_std = [float(v) for v in image_mean], [float(v) for v in image_std]
        self._mean = torch.tensor(self.image_mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(self.image_std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0

    @classmethod
    def for_model(cls, model, image_mean=None, image_std=None) -> "FramePreprocessor":
        """The preprocessing of `model.config.vision_config`: its `image_size`, and the statistics given here,
        else those of the model's config (`image_mean`, `image_std`: the encoder checkpoint's), else the class
        defaults of the image processor transformers maps the encoder's `model_type` to."""
        from .feature_extraction import _processor_class_defaults

        vision = getattr(model.config, "vision_config", None)
        if vision is None:
            raise ValueError(f"{type(model).__name__} has no video encoder of its own (no vision_config)")
        stats = dict(_processor_class_defaults(vision.model_type) or {})
        for key in ("image_mean", "image_std"):
            if getattr(model.config, key, None) is not None:
                stats[key] = getattr(model.config, key)
        mean = image_mean if image_mean is not None else stats.get("image_mean")
        std = image_std if image_std is not None else stats.get("image_std")
        if mean is None or std is None:
            raise ValueError(
                f"no image statistics known for encoder type {vision.model_type!r}: pass image_mean and image_std"
            )
        return cls(int(vision.image_size), mean, std)

    def __call__(self, frames: Sequence[np.ndarray], out: torch.Tensor | None = None) -> torch.Tensor:
        size = self.image_size
        crops = []
        for frame in frames:
            height, width = frame.shape[:2]
            if min(height, width) < size:
                raise ValueError(f"FramePreprocessor: a {height}x{width} frame is smaller than the crop {size}")
            top, left = (height - size) // 2, (width - size) // 2
            crops.append(frame[top : top + size, left : left + size])
        pixels = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
        if out is None:
            return (pixels.float() - self._mean) / self._std
        out.copy_(pixels)
        return out.sub_(self._mean).div_(self._std)


@dataclass
class TemporalVideoCollator:
    """Batches TAL rows with a `video` (a path, bytes, or the `{"bytes", "path"}` dict of a
    `datasets.Video(decode=False)` column) into `pixel_values` (see the module docstring). Build it for a model
    with `TemporalVideoCollator.from_model(model, fps=...)`.

    Args:
        fps: frames per second sampled from every video.
        preprocessor: the `FramePreprocessor` of the model's encoder.
        clip_length: frames per encoder clip; each row is padded to a multiple of it.
        feature_stride, num_frames: the token grid in frames (`model.video_feature_geometry()`).
        max_frames: longest window in frames (a multiple of `clip_length`). In training longer videos are
            randomly cropped to it; out of training a longer video is an error (the pipeline slides windows).
        training, trunc_thresh, crop_ratio, max_num_trials, generator: ActionFormer's random truncation, in
            tokens, as in `TemporalLocalizationCollator`.
        video_root: relative video paths are resolved under it and may not escape it.
        return_metadata: also return `metadata` (pop it before `forward`).
    """

    fps: float
    preprocessor: FramePreprocessor
    clip_length: int
    feature_stride: int
    num_frames: int
    max_frames: int | None = None
    training: bool = True
    trunc_thresh: float = 0.5
    crop_ratio: tuple[float, float] | None = None
    max_num_trials: int = 200
    video_column: str = "video"
    video_root: str | None = None
    return_metadata: bool = False
    generator: torch.Generator | None = None
    stats: dict[str, int] = field(
        default_factory=lambda: {"windows": 0, "segments": 0, "segments_clipped": 0, "segments_dropped": 0}
    )

    def __post_init__(self):
        name = "TemporalVideoCollator"
        if (
            isinstance(self.fps, bool)
            or not isinstance(self.fps, (int, float))
            or not math.isfinite(self.fps)
            or self.fps <= 0
        ):
            raise ValueError(f"{name}.fps must be a finite number > 0, got {self.fps!r}")
        for key in ("clip_length", "feature_stride", "num_frames"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}.{key} must be a positive int, got {value!r}")
        if self.clip_length % self.feature_stride:
            raise ValueError(
                f"{name}: clip_length {self.clip_length} is not a whole number of tokens of "
                f"{self.feature_stride} frames"
            )
        if self.max_frames is not None and (
            isinstance(self.max_frames, bool)
            or not isinstance(self.max_frames, int)
            or self.max_frames < 1
            or self.max_frames % self.clip_length
        ):
            raise ValueError(
                f"{name}.max_frames must be None or a positive multiple of clip_length "
                f"{self.clip_length}, got {self.max_frames!r}"
            )
        _check_truncation(self)

    @classmethod
    def from_model(
        cls, model, fps: float, max_frames: int | None = None, image_mean=None, image_std=None, **kwargs
    ) -> "TemporalVideoCollator":
        """The collator for `model`'s own video encoder: its frame preprocessing, clip length and token grid."""
        preprocessor = FramePreprocessor.for_model(model, image_mean, image_std)
        geometry = model.video_feature_geometry()
        return cls(
            fps=fps,
            preprocessor=preprocessor,
            clip_length=int(model.config.vision_config.num_frames),
            feature_stride=int(geometry["feature_stride"]),
            num_frames=int(geometry["num_frames"]),
            max_frames=max_frames,
            **kwargs,
        )

    def _prepare(self, row: dict, index: int) -> dict:
        where = _where(row, index)
        if self.video_column not in row:
            raise missing_field_error(where, self.video_column, row)
        video = row[self.video_column]
        if video is None:
            raise ValueError(f"{where}: {self.video_column!r} is None")
        try:
            info = probe_video(video, self.video_root)
        except (OSError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from err
        geometry = {
            "duration": float(row.get("duration") or info.duration),
            "fps": float(self.fps),
            "feature_stride": self.feature_stride,
            "num_frames": self.num_frames,
        }
        segs_grid, labels, has_gt = _ground_truth_of(row, where, geometry)

        total_frames = max(1, math.ceil(info.duration * self.fps - 1e-9))
        total_tokens = -(-total_frames // self.feature_stride)
        max_tokens = None if self.max_frames is None else self.max_frames // self.feature_stride
        start, length = 0, total_tokens
        if self.training and (max_tokens is not None or self.crop_ratio is not None):
            start, length = random_truncation(
                total_tokens,
                max_tokens or total_tokens,
                torch.from_numpy(segs_grid),
                self.trunc_thresh,
                self.crop_ratio,
                self.max_num_trials,
                self.generator,
            )
        elif max_tokens is not None and total_tokens > max_tokens:
            raise ValueError(
                f"{where}: {total_frames} frames at {self.fps} fps is longer than max_frames "
                f"{self.max_frames}; detect long videos with the temporal-action-localization "
                "pipeline, which slides windows over them"
            )
        gt, keep, clipped = _window_ground_truth(
            segs_grid,
            start,
            length,
            cut_left=start > 0,
            cut_right=start + length < total_tokens,
            trunc_thresh=self.trunc_thresh,
        )
        first_frame = start * self.feature_stride
        count = min(length * self.feature_stride, total_frames - first_frame)
        try:
            frames = [
                frame
                for frame, _, _ in iter_video_frames(
                    video,
                    start=first_frame / self.fps,
                    end=(first_frame + count) / self.fps,
                    fps=self.fps,
                    size=self.preprocessor.image_size,
                    root=self.video_root,
                    info=info,
                )
            ][:count]
        except (OSError, ValueError) as err:  # e.g. a file corrupt after its header
            raise ValueError(f"{where}: {err}") from err
        if not frames:
            raise ValueError(f"{where}: no frames decoded from {first_frame / self.fps:.3f} s of video {video!r}")
        return {
            "where": where,
            "frames": frames,
            "tokens": length,
            "has_gt": has_gt,
            "segments": gt[keep],
            "labels": labels[keep],
            "clipped": clipped,
            "dropped": int((~keep).sum()),
            "metadata": {"video_id": row.get("video_id"), **geometry, "window_start": start},
        }

    def __call__(self, rows: Sequence[dict]) -> dict[str, Any]:
        return collate_into_shared_slots(self._collate, rows)

    def _collate(self, rows: Sequence[dict]) -> dict[str, Any]:
        if len(rows) == 0:
            raise ValueError("TemporalVideoCollator: empty batch")
        items = [self._prepare(row, i) for i, row in enumerate(rows)]
        if len({item["has_gt"] for item in items}) > 1:
            missing = [it["where"] for it in items if not it["has_gt"]]
            raise ValueError(f"TemporalVideoCollator: some rows have segments and some do not ({missing})")
        longest = max(item["tokens"] * self.feature_stride for item in items)
        total = -(-longest // self.clip_length) * self.clip_length
        size = self.preprocessor.image_size
        pixel_values = _new_batch((len(items), total, 3, size, size), torch.float32)
        attention_mask = torch.zeros((len(items), total), dtype=torch.long)
        for b, item in enumerate(items):
            n = len(item["frames"])
            self.preprocessor(item["frames"], out=pixel_values[b, :n])
            pixel_values[b, n:] = 0
            attention_mask[b, :n] = 1

        batch = {"pixel_values": pixel_values, "attention_mask": attention_mask}
        return _add_targets(batch, items, self.stats, self.return_metadata)
