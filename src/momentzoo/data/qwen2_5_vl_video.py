"""Qwen2.5-VL video inputs without torchvision: PyAV frames -> `pixel_values_videos`, `video_grid_thw`,
`second_per_grid_ts`, `mm_token_type_ids` and the matching number of `<|video_pad|>` tokens.

transformers' `Qwen2VLVideoProcessor` needs torchvision, whose wheels do not load on CPU-only machines
(STACK.md), so the video half of `Qwen2_5_VLProcessor` is rebuilt here from its parts:

* **sampling** (qwen-vl-utils): a clip of `d` seconds gets `round(d * fps)` frames, clamped to
  `[min_frames, max_frames]`, sampled by timestamp at `start + k / fps_eff` with `fps_eff = frames / d`, so
  the frame times (and `second_per_grid_ts`) are exact even when the clamp changes the rate;
* **size** (`smart_resize` with a per-video budget): each frame keeps its aspect ratio, both sides become
  multiples of `patch_size * merge_size` (28), and the per-frame pixel cap is
  `max(min(max_pixels, total_pixels * temporal_patch_size / frames), 1.05 * min_pixels)`. `total_pixels`
  therefore bounds the *video tokens*: at most `total_pixels / 28**2` (3,584 with the paper's
  `3584 * 28 * 28` ~ 2.8 M);
* **pixels** exactly as the stock processor: bicubic antialiased resize of uint8 frames (rounded and clamped
  back to uint8, as torchvision does), `(x / 255 - mean) / std` with CLIP's mean and std, an odd frame count
  padded by repeating the last frame, and the patch order `(t, h/m, w/m, m, m)` x `(C, tp, p, p)`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .video import VideoSource, probe_video, read_video_frames

__all__ = [
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "QWEN2_5_VL_VIDEO_TOKEN",
    "VIDEO_PROCESSOR_FILE",
    "VideoClip",
    "smart_resize",
    "Qwen2_5_VLVideoProcessor",
    "Qwen2_5_VLVideoChatProcessor",
]

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
QWEN2_5_VL_VIDEO_TOKEN = "<|video_pad|>"
VIDEO_PROCESSOR_FILE = "momentzoo_video_processor.json"
"""Saved beside a checkpoint's weights: the frame sampling and pixel budget the model was trained with."""
_MM_TEXT, _MM_VIDEO = 0, 2  # mm_token_type_ids: 0 text, 1 image, 2 video


@dataclass
class VideoClip:
    """Frames of one clip, ready for `Qwen2_5_VLVideoProcessor.preprocess`.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB (numpy or torch).
        fps: the rate the frames were sampled at (frames per second of video time).
        start, end: the clip's time range in seconds within its video.
    """

    frames: Any
    fps: float
    start: float = 0.0
    end: float | None = None


def smart_resize(
    height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56, max_pixels: int = 28 * 28 * 1280
) -> tuple[int, int]:
    """(height, width) closest to the input's aspect ratio with both sides multiples of `factor` and
    `min_pixels <= height * width <= max_pixels` (Qwen2-VL's rule; rounding first, then scaling down with
    floor or up with ceil when the rounded size leaves the range)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"frame size must be positive, got {height}x{width}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be below 200, got {height}x{width}")
    if not 0 < min_pixels <= max_pixels:
        raise ValueError(f"need 0 < min_pixels <= max_pixels, got {min_pixels} and {max_pixels}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


class Qwen2_5_VLVideoProcessor:
    """Frames -> Qwen2.5-VL video tensors (see the module doc for the sampling, size and pixel rules).

    Args:
        fps: frames sampled per second of video (the paper: 2).
        min_pixels, max_pixels: bounds on the pixels of one frame (defaults: the paper's `16 * 28 * 28` and
            qwen-vl-utils' `768 * 28 * 28`).
        total_pixels: budget of one video (`3584 * 28 * 28`, about 2.8 M pixels, as the paper), spread over its
            temporal patches; `None` disables it.
        min_frames, max_frames: bounds on the frames sampled from one clip.
        patch_size, temporal_patch_size, merge_size: the vision tower's geometry (14, 2, 2 in Qwen2.5-VL).
        image_mean, image_std: normalisation (CLIP's).
    """

    model_input_names = ["pixel_values_videos", "video_grid_thw", "second_per_grid_ts"]

    def __init__(
        self,
        fps: float = 2.0,
        min_pixels: int = 16 * 28 * 28,
        max_pixels: int = 768 * 28 * 28,
        total_pixels: int | None = 3584 * 28 * 28,
        min_frames: int = 4,
        max_frames: int = 768,
        patch_size: int = 14,
        temporal_patch_size: int = 2,
        merge_size: int = 2,
        image_mean: Sequence[float] = OPENAI_CLIP_MEAN,
        image_std: Sequence[float] = OPENAI_CLIP_STD,
    ):
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        for name, value in (
            ("min_pixels", min_pixels),
            ("max_pixels", max_pixels),
            ("min_frames", min_frames),
            ("max_frames", max_frames),
            ("patch_size", patch_size),
            ("temporal_patch_size", temporal_patch_size),
            ("merge_size", merge_size),
        ):
            _positive_int(name, value)
        if total_pixels is not None:
            _positive_int("total_pixels", total_pixels)
        if min_pixels > max_pixels:
            raise ValueError(f"min_pixels ({min_pixels}) must not exceed max_pixels ({max_pixels})")
        if min_frames > max_frames:
            raise ValueError(f"min_frames ({min_frames}) must not exceed max_frames ({max_frames})")
        if len(image_mean) != 3 or len(image_std) != 3 or min(image_std) <= 0:
            raise ValueError(f"image_mean and image_std need 3 values (std > 0), got {image_mean} and {image_std}")
        self.fps = float(fps)
        self.min_pixels, self.max_pixels, self.total_pixels = min_pixels, max_pixels, total_pixels
        self.min_frames, self.max_frames = min_frames, max_frames
        self.patch_size, self.temporal_patch_size, self.merge_size = patch_size, temporal_patch_size, merge_size
        self.image_mean, self.image_std = tuple(float(x) for x in image_mean), tuple(float(x) for x in image_std)

    @classmethod
    def from_model_config(cls, config, **kwargs) -> Qwen2_5_VLVideoProcessor:
        """A processor with the vision geometry of a `Qwen2_5_VLConfig` (or its `vision_config`)."""
        vision = getattr(config, "vision_config", config)
        geometry = dict(
            patch_size=vision.patch_size,
            temporal_patch_size=vision.temporal_patch_size,
            merge_size=vision.spatial_merge_size,
        )
        return cls(**{**geometry, **kwargs})

    def to_dict(self) -> dict:
        return {
            "fps": self.fps,
            "min_pixels": self.min_pixels,
            "max_pixels": self.max_pixels,
            "total_pixels": self.total_pixels,
            "min_frames": self.min_frames,
            "max_frames": self.max_frames,
            "patch_size": self.patch_size,
            "temporal_patch_size": self.temporal_patch_size,
            "merge_size": self.merge_size,
            "image_mean": list(self.image_mean),
            "image_std": list(self.image_std),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.to_dict().items())})"

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the settings as `momentzoo_video_processor.json` in `directory`; returns the file."""
        path = Path(directory) / VIDEO_PROCESSOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> Qwen2_5_VLVideoProcessor:
        """The processor saved in `directory` by `save_pretrained`."""
        path = Path(directory) / VIDEO_PROCESSOR_FILE
        if not path.is_file():
            raise ValueError(f"{path} not found: the folder has no saved {cls.__name__}")
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: invalid JSON ({error.msg})") from error
        if not isinstance(settings, dict):
            raise ValueError(f"{path}: expected a JSON object of settings, got {type(settings).__name__}")
        unknown = sorted(set(settings) - set(cls().to_dict()))
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {unknown}")
        return cls(**settings)

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    # -- geometry ---------------------------------------------------------------------------------------
    def num_frames(self, duration: float) -> int:
        """Frames sampled from a clip of `duration` seconds: `round(duration * fps)` within the frame bounds."""
        if not (math.isfinite(duration) and duration > 0):
            raise ValueError(f"clip duration must be a positive number of seconds, got {duration!r}")
        return int(min(max(round(duration * self.fps), self.min_frames), self.max_frames))

    def frame_pixel_cap(self, num_frames: int) -> int:
        """The per-frame pixel cap of a video of `num_frames` frames (the total budget shared by its temporal patches)."""
        if self.total_pixels is None:
            return self.max_pixels
        share = self.total_pixels * self.temporal_patch_size / num_frames
        return int(max(min(self.max_pixels, share), int(self.min_pixels * 1.05)))

    def frame_size(self, height: int, width: int, num_frames: int) -> tuple[int, int]:
        """(height, width) that frames of a `num_frames`-frame video are resized to."""
        return smart_resize(height, width, self.factor, self.min_pixels, self.frame_pixel_cap(num_frames))

    def grid_thw(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """`video_grid_thw` of a video of `num_frames` frames of `height` x `width` pixels (before resizing)."""
        h, w = self.frame_size(height, width, num_frames)
        return -(-num_frames // self.temporal_patch_size), h // self.patch_size, w // self.patch_size

    def num_video_tokens(self, video_grid_thw) -> list[int]:
        """`<|video_pad|>` tokens (= features the vision tower emits) per video: `t * h * w / merge**2`."""
        grid = torch.as_tensor(video_grid_thw).reshape(-1, 3)
        return (grid.prod(-1) // self.merge_size**2).tolist()

    # -- frames -----------------------------------------------------------------------------------------
    def read_clip(self, video: VideoSource, start: float = 0.0, end: float | None = None, root=None) -> VideoClip:
        """Sample the frames of `[start, end)` seconds of `video` (path, bytes or `{"bytes", "path"}`) at this
        processor's rate; `end=None` (or past the end) stops at the end of the video."""
        info = probe_video(video, root=root)
        start = float(start)
        stop = info.duration if end is None else min(float(end), info.duration)
        if not (math.isfinite(start) and 0 <= start < stop):
            raise ValueError(
                f"invalid clip [{start}, {end}) of video {_name(video)} ({info.duration:.3f} s): need 0 <= start < end"
            )
        count = self.num_frames(stop - start)
        fps = count / (stop - start)
        frames = read_video_frames(video, start=start, end=stop, fps=fps, root=root, return_tensors="pt")
        if len(frames.frames) != count:  # sampling by timestamp gives exactly `count`; anything else is a bug
            raise ValueError(
                f"read {len(frames.frames)} frames from {_name(video)} [{start}, {stop}) instead of {count}"
            )
        return VideoClip(frames=frames.frames, fps=fps, start=start, end=stop)

    def preprocess(self, frames, fps: float) -> dict[str, torch.Tensor]:
        """One video's tensors from its (T, H, W, 3) uint8 frames sampled at `fps`:

        * `pixel_values_videos` (grid_t * grid_h * grid_w, 3 * temporal_patch * patch * patch) float32,
        * `video_grid_thw` (1, 3) int64,
        * `second_per_grid_ts` (1,) float32: seconds of video per temporal patch.
        """
        video = _as_uint8_video(frames)
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        num_frames, height, width = video.shape[0], video.shape[1], video.shape[2]
        out_h, out_w = self.frame_size(height, width, num_frames)
        video = video.permute(0, 3, 1, 2)  # (T, C, H, W)
        if (out_h, out_w) != (height, width):
            # torchvision's uint8 bicubic path: float interpolation with antialiasing, clamp, round, back to uint8.
            resized = F.interpolate(
                video.float(), size=(out_h, out_w), mode="bicubic", align_corners=False, antialias=True
            )
            video = resized.clamp_(0, 255).round_().to(torch.uint8)
        mean = torch.tensor(self.image_mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.image_std).view(1, 3, 1, 1) * 255.0
        pixels = (video.float() - mean) / std
        if pad := -num_frames % self.temporal_patch_size:  # Qwen repeats the last frame to fill a temporal patch
            pixels = torch.cat([pixels, pixels[-1:].expand(pad, -1, -1, -1)], dim=0)
        tp, p, m = self.temporal_patch_size, self.patch_size, self.merge_size
        grid_t, grid_h, grid_w = pixels.shape[0] // tp, out_h // p, out_w // p
        patches = pixels.reshape(grid_t, tp, 3, grid_h // m, m, p, grid_w // m, m, p)
        # (t, h/m, w/m, m_h, m_w, C, tp, p_h, p_w): the merge groups are contiguous rows, as the vision tower expects.
        patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8).reshape(grid_t * grid_h * grid_w, 3 * tp * p * p)
        return {
            "pixel_values_videos": patches.contiguous(),
            "video_grid_thw": torch.tensor([[grid_t, grid_h, grid_w]], dtype=torch.long),
            "second_per_grid_ts": torch.tensor([tp / float(fps)], dtype=torch.float32),
        }

    def __call__(self, videos: Sequence[VideoClip | tuple]) -> dict[str, torch.Tensor]:
        """Tensors of several videos, concatenated in order (`VideoClip`s or `(frames, fps)` pairs)."""
        if isinstance(videos, (VideoClip, tuple)):
            videos = [videos]
        if len(videos) == 0:
            raise ValueError("no videos to process")
        parts = []
        for i, clip in enumerate(videos):
            if isinstance(clip, VideoClip):
                frames, fps = clip.frames, clip.fps
            elif isinstance(clip, tuple) and len(clip) == 2:
                frames, fps = clip
            else:
                raise ValueError(f"videos[{i}] must be a VideoClip or a (frames, fps) pair, got {type(clip).__name__}")
            try:
                parts.append(self.preprocess(frames, fps))
            except ValueError as error:
                raise ValueError(f"videos[{i}]: {error}") from error
        return concat_video_inputs(parts)


def concat_video_inputs(parts: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Concatenate the video tensors of several videos (each from `Qwen2_5_VLVideoProcessor.preprocess`)."""
    return {key: torch.cat([part[key] for part in parts], dim=0) for key in Qwen2_5_VLVideoProcessor.model_input_names}


def _name(video) -> str:
    if isinstance(video, dict):
        return str(video.get("path") or "<video bytes>")
    if isinstance(video, (bytes, bytearray)):
        return "<video bytes>"
    return os.fspath(video)


def _as_uint8_video(frames) -> torch.Tensor:
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    elif isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError("a video needs at least one frame, got an empty list")
        frames = torch.stack([torch.as_tensor(np.asarray(f)) for f in frames])
    if not isinstance(frames, torch.Tensor):
        raise ValueError(f"frames must be a (T, H, W, 3) uint8 array or tensor, got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must have shape (T, H, W, 3), got {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise ValueError("a video needs at least one frame, got 0")
    if frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 RGB (0-255), got dtype {frames.dtype}")
    return frames


class Qwen2_5_VLVideoChatProcessor:
    """Text + video -> Qwen2.5-VL model inputs, the video half of `Qwen2_5_VLProcessor` rebuilt on
    `Qwen2_5_VLVideoProcessor`.

    Every `<|video_pad|>` of a text (one per video, as Qwen's chat template writes it) is expanded to
    `num_video_tokens` copies, and `mm_token_type_ids` marks them with 2 so the model builds its 3-D
    (time, height, width) rotary positions; without it transformers silently falls back to 1-D positions.
    """

    def __init__(self, tokenizer, video_processor: Qwen2_5_VLVideoProcessor | None = None):
        self.tokenizer = tokenizer
        self.video_processor = video_processor if video_processor is not None else Qwen2_5_VLVideoProcessor()
        self.video_token = QWEN2_5_VL_VIDEO_TOKEN
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        if self.video_token_id is None or self.video_token_id == tokenizer.unk_token_id:
            raise ValueError(
                f"the tokenizer has no {self.video_token} token: it is not a Qwen2-VL/Qwen2.5-VL tokenizer"
            )

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        """The prompt text of a conversation (one `<|video_pad|>` per video part)."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def expand_video_tokens(self, text: str, video_grid_thw) -> str:
        """`text` with its i-th `<|video_pad|>` repeated for the i-th video of `video_grid_thw`."""
        counts = self.video_processor.num_video_tokens(video_grid_thw)
        pieces = text.split(self.video_token)
        if len(pieces) - 1 != len(counts):
            raise ValueError(
                f"the text has {len(pieces) - 1} {self.video_token} placeholders but {len(counts)} videos were given"
            )
        out = [pieces[0]]
        for count, piece in zip(counts, pieces[1:]):
            out.append(self.video_token * count)
            out.append(piece)
        return "".join(out)

    def encode(self, text: str, video_inputs: dict | None) -> tuple[list[int], list[int]]:
        """(input_ids, mm_token_type_ids) of one text whose placeholders are filled by `video_inputs`."""
        if video_inputs is not None:
            text = self.expand_video_tokens(text, video_inputs["video_grid_thw"])
        elif self.video_token in text:
            raise ValueError(f"the text has {self.video_token} placeholders but no video was given")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        types = [_MM_VIDEO if t == self.video_token_id else _MM_TEXT for t in ids]
        expected = sum(self.video_processor.num_video_tokens(video_inputs["video_grid_thw"])) if video_inputs else 0
        if types.count(_MM_VIDEO) != expected:
            raise ValueError(
                f"tokenizing gave {types.count(_MM_VIDEO)} video tokens instead of {expected}: "
                f"{self.video_token} must be a single special token of the tokenizer"
            )
        return ids, types

    def __call__(
        self, text: str | Sequence[str], videos: Sequence | None = None, padding_side: str = "left"
    ) -> dict[str, torch.Tensor]:
        """Batch inputs: `input_ids`, `attention_mask`, `mm_token_type_ids` (B, L), padded on `padding_side`,
        plus `pixel_values_videos`, `video_grid_thw`, `second_per_grid_ts` of `videos` (`VideoClip`s or
        `(frames, fps)` pairs, in placeholder order across the texts)."""
        texts = [text] if isinstance(text, str) else list(text)
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
        counts = [t.count(self.video_token) for t in texts]
        videos = list(videos or [])
        if sum(counts) != len(videos):
            raise ValueError(
                f"the texts have {sum(counts)} {self.video_token} placeholders but {len(videos)} videos were given"
            )
        per_video = [self.video_processor.preprocess(*_frames_fps(v, i)) for i, v in enumerate(videos)]
        encoded, cursor = [], 0
        for t, n in zip(texts, counts):
            inputs = concat_video_inputs(per_video[cursor : cursor + n]) if n else None
            encoded.append(self.encode(t, inputs))
            cursor += n
        width = max(len(ids) for ids, _ in encoded)
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        batch = {
            k: torch.zeros(len(texts), width, dtype=torch.long)
            for k in ("input_ids", "attention_mask", "mm_token_type_ids")
        }
        batch["input_ids"].fill_(pad_id)
        for row, (ids, types) in enumerate(encoded):
            span = slice(width - len(ids), width) if padding_side == "left" else slice(0, len(ids))
            batch["input_ids"][row, span] = torch.tensor(ids)
            batch["attention_mask"][row, span] = 1
            batch["mm_token_type_ids"][row, span] = torch.tensor(types)
        if per_video:
            batch.update(concat_video_inputs(per_video))
        return batch


def _frames_fps(video, index: int):
    if isinstance(video, VideoClip):
        return video.frames, video.fps
    if isinstance(video, tuple) and len(video) == 2:
        return video
    raise ValueError(f"videos[{index}] must be a VideoClip or a (frames, fps) pair, got {type(video).__name__}")
