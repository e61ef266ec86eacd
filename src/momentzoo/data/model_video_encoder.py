"""`ModelVideoEncoder`: a video encoded into per-step features by an end-to-end model's own video encoder, for the
`temporal-action-localization` pipeline and for `momentzoo.training.tal.encode_video_dataset`."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..models.temporal_localization import TemporalLocalizationConfigMixin

__all__ = ["ModelVideoEncoder"]


def _positive(name: str, value, integer: bool = False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"ModelVideoEncoder: {name} must be a finite number > 0, got {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"ModelVideoEncoder: {name} must be an integer, got {value!r}")
    return int(value) if integer else float(value)


class ModelVideoEncoder:
    """Encodes a video with an end-to-end model's own video encoder (ActionVLM with a VideoMAE): frames decoded with
    PyAV at `fps` (default: the video's own rate), the shorter side resized to the encoder's `image_size` and centre
    cropped, rescaled and normalised with the image statistics of the encoder's model type, cut into clips of the
    encoder's `num_frames` (the last one padded by repeating the final frame) and passed through
    `model.encode_video` `clips_per_batch` clips at a time. The tokens of the padding are dropped.

    Has the `VideoFeatureExtractor` interface the pipeline uses: `extract(video, progress=None) -> (features, fps, duration)`,
    `feature_stride`, `num_frames` (from `model.video_feature_geometry()`), `feature_dim`."""

    def __init__(self, model, fps: float | None = None, clips_per_batch: int = 8, image_mean=None, image_std=None):
        if not isinstance(model.config, TemporalLocalizationConfigMixin) or not model.config.has_video_encoder:
            raise ValueError(f"{type(model).__name__} has no video encoder of its own (config.has_video_encoder)")
        vision = model.config.vision_config
        from .video_collator import FramePreprocessor

        self.model = model
        self.fps = None if fps is None else _positive("fps", fps)
        self.clips_per_batch = _positive("clips_per_batch", clips_per_batch, integer=True)
        self.clip_length = int(vision.num_frames)
        self.image_size = int(vision.image_size)
        geometry = model.video_feature_geometry()
        self.feature_stride, self.num_frames = int(geometry["feature_stride"]), int(geometry["num_frames"])
        self.feature_dim = int(model.config.input_dim)
        self.preprocessor = FramePreprocessor.for_model(model, image_mean, image_std)

    @torch.no_grad()
    def extract(self, video, root=None, progress: bool | None = False) -> tuple[np.ndarray, float, float]:
        """`(features, fps, duration)` of a video; `progress` as `VideoFeatureExtractor.extract`'s."""
        from .feature_extraction import encoding_progress
        from .video import iter_video_frames, probe_video

        info = probe_video(video, root)
        fps = self.fps if self.fps is not None else info.fps
        frames = [
            frame for frame, _, _ in iter_video_frames(video, fps=fps, size=self.image_size, root=root, info=info)
        ]
        if not frames:
            raise ValueError(f"video {video} gave no frames to encode")
        count = len(frames)
        frames += [frames[-1]] * (-count % self.clip_length)
        chunk = self.clip_length * self.clips_per_batch
        device = next(self.model.parameters()).device
        tokens = []
        with encoding_progress(len(frames) // self.clip_length, video, progress) as bar:
            for first in range(0, len(frames), chunk):
                pixels = self.preprocessor(frames[first : first + chunk]).to(device)
                tokens.append(self.model.encode_video(pixels[None])[0].float().cpu())
                bar.update(len(pixels) // self.clip_length)
        features = torch.cat(tokens)
        # keep the tokens that cover at least one real frame
        features = features[: -(-count // self.feature_stride)]
        return features.numpy(), float(fps), float(info.duration)
