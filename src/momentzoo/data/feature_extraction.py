"""Extract per-video features with a transformers vision encoder: one `.npy` per video plus a geometry JSON.

Two kinds of encoder are supported, both loaded with `AutoModel.from_pretrained`:

- **clip encoders** (the config has `num_frames`: VideoMAE, TimeSformer, ...): feature `i` is the encoder's
  output for the clip of `num_frames` sampled frames starting at frame `i * feature_stride`;
- **frame encoders** (CLIP, SigLIP, DINOv2, ... or the vision tower of a dual encoder): feature `i` is the
  output for frame `i * feature_stride` (`num_frames = 1`).

Frames are sampled by timestamp at `fps` (default: the video's own average rate), so the features follow
the geometry of `momentzoo.segments.seconds_to_feature_grid(t, fps, feature_stride, num_frames)`, which is
what the TAL builders read back from `geometry.json`. Clips at the end of a video that run past its last
frame repeat the last frame, so every frame is covered by some feature.

Pixels are prepared without torchvision: frames are resized while decoding (swscale, bilinear), centre
cropped, rescaled and normalised in torch, with sizes and statistics from the checkpoint's saved
`preprocessor_config.json` when it has one, otherwise from the model config (image size) and the defaults
of the model type's image processor class (mean and std).
"""

import json
import math
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..models.backbone_utils import saved_preprocessor_dict
from ..strict_json import loads_strict
from .video import VideoSource, iter_video_frames, probe_video

__all__ = [
    "VIDEO_EXTENSIONS",
    "GEOMETRY_FILENAME",
    "VideoFeatureExtractor",
    "FeatureExtractionReport",
    "find_videos",
    "extract_features_to_folder",
    "feature_geometry_kwargs",
]

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
GEOMETRY_FILENAME = "geometry.json"
POOLING_MODES = ("mean", "pooler", "projection")
# Settings that change the numbers in the .npy files: a resumed run must use the same ones.
_GEOMETRY_KEYS = (
    "encoder",
    "model_type",
    "encoder_kind",
    "pooling",
    "fps",
    "feature_stride",
    "num_frames",
    "feature_dim",
    "resize",
    "crop_size",
    "image_mean",
    "image_std",
    "rescale_factor",
    "dtype",
)


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _processor_class_defaults(model_type: str) -> dict | None:
    """Class-level defaults (mean, std) of the image processor transformers maps `model_type` to."""
    import transformers
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES

    names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type)
    if names is None and model_type.endswith("_vision_model"):
        names = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type[: -len("_vision_model")])
    if not names:
        return None
    candidates = names.values() if isinstance(names, dict) else (names if isinstance(names, (tuple, list)) else [names])
    for class_name in candidates:  # the PIL variant first where listed: it imports without torchvision
        if class_name is None:
            continue
        try:
            cls = getattr(transformers, class_name)
        except (AttributeError, ImportError):
            continue
        if getattr(cls, "image_mean", None) is not None and getattr(cls, "image_std", None) is not None:
            return {"image_mean": list(cls.image_mean), "image_std": list(cls.image_std)}
    return None


@dataclass
class FeatureExtractionReport:
    """Outcome of `extract_features_to_folder`: video ids processed, skipped (already done) and failed."""

    processed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # video path -> error message

    @property
    def ok(self) -> bool:
        return not self.failed


class VideoFeatureExtractor:
    """Turns a video into a (num_features, feature_dim) float32 array with a transformers vision encoder.

    Args:
        model: a loaded encoder (`VideoMAEModel`, `CLIPVisionModel`, `CLIPModel`, ...).
        encoder_id: hub id or path recorded in the geometry.
        fps: sampling rate in frames per second (`None`: each video's own average frame rate).
        num_frames: frames per clip (clip encoders: default `config.num_frames`; frame encoders: 1).
        feature_stride: sampled frames between consecutive features (default 4 for clip encoders, as the I3D
            features of THUMOS14; 1 for frame encoders).
        pooling: `"mean"` (mean over the encoder's output tokens), `"pooler"` (the model's `pooler_output`) or
            `"projection"` (`get_image_features`, the joint image-text space of a dual encoder such as CLIP).
        resize: shorter side (int) or exact `(height, width)` the frames are resized to before cropping (default:
            the larger side of `crop_size`).
        crop_size: centre crop `(height, width)` (default: the model's `image_size`).
        image_mean, image_std: per-channel normalisation after rescaling to [0, 1].
        batch_size: clips (or frames) per forward pass.
        device, dtype: where and in which precision the encoder runs; features are saved as float32.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        encoder_id: str,
        *,
        image_mean: Sequence[float],
        image_std: Sequence[float],
        fps: float | None = None,
        num_frames: int | None = None,
        feature_stride: int | None = None,
        pooling: str = "mean",
        resize: int | tuple[int, int] | None = None,
        crop_size: int | tuple[int, int] | None = None,
        rescale_factor: float = 1 / 255,
        batch_size: int = 16,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
    ):
        if pooling not in POOLING_MODES:
            raise ValueError(f"pooling must be one of {POOLING_MODES}, got {pooling!r}")
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if len(image_mean) != 3 or len(image_std) != 3 or min(image_std) <= 0:
            raise ValueError(f"image_mean and image_std need 3 values (std > 0), got {image_mean} and {image_std}")
        config = model.config
        vision_config = getattr(config, "vision_config", None) or config
        self.encoder_id = str(encoder_id)
        self.model_type = config.model_type
        self.pooling = pooling

        # A dual encoder (CLIPModel, SiglipModel) is used through its vision tower.
        self._project = None
        if hasattr(model, "get_image_features") and hasattr(model, "vision_model"):
            self._project = model.get_image_features
            self._encoder = model.vision_model
        else:
            self._encoder = model
        if pooling == "projection" and self._project is None:
            raise ValueError(
                f"pooling='projection' needs a dual encoder with get_image_features; {type(model).__name__} has none"
            )

        model_frames = getattr(vision_config, "num_frames", None)
        self.encoder_kind = "clip" if isinstance(model_frames, int) else "frame"
        if self.encoder_kind == "clip":
            self.num_frames = int(num_frames if num_frames is not None else model_frames)
            self.feature_stride = int(feature_stride if feature_stride is not None else 4)
        else:
            if num_frames not in (None, 1):
                raise ValueError(
                    f"{type(model).__name__} encodes single frames: num_frames must be 1, got {num_frames}"
                )
            self.num_frames = 1
            self.feature_stride = int(feature_stride if feature_stride is not None else 1)
        if self.num_frames < 1 or self.feature_stride < 1:
            raise ValueError(
                f"num_frames and feature_stride must be >= 1, got {self.num_frames} and {self.feature_stride}"
            )

        image_size = getattr(vision_config, "image_size", None)
        if crop_size is None and image_size is None:
            raise ValueError(f"{type(model).__name__}'s config has no image_size: pass crop_size")
        self.crop_size = _pair(crop_size if crop_size is not None else image_size)
        self.resize = resize if resize is not None else max(self.crop_size)
        if isinstance(self.resize, (tuple, list)):
            self.resize = _pair(self.resize)
            if self.resize[0] < self.crop_size[0] or self.resize[1] < self.crop_size[1]:
                raise ValueError(f"resize {self.resize} is smaller than crop_size {self.crop_size}")
        elif self.resize < min(self.crop_size):
            raise ValueError(f"resize {self.resize} is smaller than crop_size {self.crop_size}")
        self.fps = None if fps is None else float(fps)
        self.rescale_factor = float(rescale_factor)
        self.batch_size = int(batch_size)
        self.device = torch.device(device)
        self.dtype = dtype
        self.model = model.to(device=self.device, dtype=dtype).eval()
        self.image_mean = [float(v) for v in image_mean]
        self.image_std = [float(v) for v in image_std]
        shape = (1, 3, 1, 1) if self.encoder_kind == "frame" else (1, 1, 3, 1, 1)
        self._scale = (torch.tensor(self.image_std, device=self.device) / self.rescale_factor).view(shape)
        self._mean = (torch.tensor(self.image_mean, device=self.device) / self.rescale_factor).view(shape)
        # One forward on a blank clip: checks the geometry against the model and fixes the feature dimension.
        blank = np.zeros((1, self.num_frames, *self.crop_size, 3), dtype=np.uint8)
        try:
            self.feature_dim = int(self._forward(blank).shape[-1])
        except (RuntimeError, ValueError, TypeError) as error:
            raise ValueError(
                f"encoder {self.encoder_id} rejected clips of {self.num_frames} frames of {self.crop_size} pixels "
                f"with pooling={pooling!r}: {error}"
            ) from error

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        image_mean: Sequence[float] | None = None,
        image_std: Sequence[float] | None = None,
        resize=None,
        crop_size=None,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        **kwargs,
    ) -> "VideoFeatureExtractor":
        """Load an encoder with `AutoModel.from_pretrained` and its pixel statistics (see the module docstring)."""
        from transformers import AutoModel

        name_or_path = os.fspath(name_or_path)
        model = AutoModel.from_pretrained(name_or_path, dtype=dtype, trust_remote_code=False)
        processor = saved_preprocessor_dict(name_or_path) or {}
        rescale_factor = processor.get("rescale_factor", 1 / 255) if processor.get("do_rescale", True) else 1.0
        if processor and resize is None and crop_size is None:
            size = processor.get("size") or {}
            if isinstance(size, int):  # older configs: an int is the shortest edge
                size = {"shortest_edge": size}
            if "shortest_edge" in size:
                resize = int(size["shortest_edge"])
            elif "height" in size and "width" in size:
                resize = (int(size["height"]), int(size["width"]))
            crop = processor.get("crop_size") or {}
            if isinstance(crop, int):
                crop = {"height": crop, "width": crop}
            if processor.get("do_center_crop", True) and "height" in crop and "width" in crop:
                crop_size = (int(crop["height"]), int(crop["width"]))
            elif isinstance(resize, tuple):
                crop_size = resize
        if image_mean is None or image_std is None:
            if processor.get("do_normalize", True) is False:
                stats = {"image_mean": [0.0, 0.0, 0.0], "image_std": [1.0, 1.0, 1.0]}
            elif processor.get("image_mean") is not None and processor.get("image_std") is not None:
                stats = processor
            else:
                stats = _processor_class_defaults(model.config.model_type)
            if stats is None:
                raise ValueError(
                    f"{name_or_path} has no preprocessor_config.json and transformers knows no image processor for "
                    f"model type {model.config.model_type!r}: pass image_mean and image_std (--image_mean/--image_std)"
                )
            image_mean = stats["image_mean"] if image_mean is None else image_mean
            image_std = stats["image_std"] if image_std is None else image_std
        return cls(
            model,
            name_or_path,
            image_mean=image_mean,
            image_std=image_std,
            resize=resize,
            crop_size=crop_size,
            rescale_factor=rescale_factor,
            device=device,
            dtype=dtype,
            **kwargs,
        )

    @property
    def geometry(self) -> dict:
        """The settings that fix what each feature step means, as recorded in `geometry.json`."""
        return {
            "encoder": self.encoder_id,
            "model_type": self.model_type,
            "encoder_kind": self.encoder_kind,
            "pooling": self.pooling,
            "fps": self.fps,
            "feature_stride": self.feature_stride,
            "num_frames": self.num_frames,
            "feature_dim": self.feature_dim,
            "resize": list(self.resize) if isinstance(self.resize, tuple) else self.resize,
            "crop_size": list(self.crop_size),
            "image_mean": self.image_mean,
            "image_std": self.image_std,
            "rescale_factor": self.rescale_factor,
            "dtype": str(self.dtype).replace("torch.", ""),
        }

    def _crop(self, frame: np.ndarray) -> np.ndarray:
        height, width = frame.shape[:2]
        ch, cw = self.crop_size
        if height < ch or width < cw:
            raise ValueError(f"frames resized to {height}x{width} are smaller than the crop {ch}x{cw}: raise resize")
        top, left = (height - ch) // 2, (width - cw) // 2
        return frame[top : top + ch, left : left + cw]

    @torch.no_grad()
    def _forward(self, clips: np.ndarray) -> torch.Tensor:
        """(B, num_frames, H, W, 3) uint8 -> (B, D) float32 on the CPU."""
        pixels = torch.from_numpy(clips).to(self.device)
        if self.encoder_kind == "frame":
            pixels = pixels[:, 0].permute(0, 3, 1, 2)  # (B, 3, H, W)
        else:
            pixels = pixels.permute(0, 1, 4, 2, 3)  # (B, T, 3, H, W)
        pixels = ((pixels.float() - self._mean) / self._scale).to(self.dtype)
        if self.pooling == "projection":
            output = self._project(pixel_values=pixels)
            pooled = output if torch.is_tensor(output) else output.pooler_output
        else:
            output = self._encoder(pixel_values=pixels)
            if self.pooling == "pooler":
                pooled = getattr(output, "pooler_output", None)
                if pooled is None:
                    raise ValueError(f"{type(self._encoder).__name__} returns no pooler_output: use pooling='mean'")
            else:
                pooled = output.last_hidden_state.mean(dim=1)
        return pooled.float().cpu()

    def _clips(self, frames: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
        """Clips of `num_frames` frames every `feature_stride` frames, streamed; the tail repeats the last frame."""
        length, stride = self.num_frames, self.feature_stride
        buffer: list[np.ndarray] = []  # frames from index `first` on
        first, next_start, total = 0, 0, 0
        for frame in frames:
            buffer.append(frame)
            total += 1
            while next_start + length <= total:
                yield np.stack(buffer[next_start - first : next_start - first + length])
                next_start += stride
            drop = min(next_start, total) - first  # frames no later clip needs
            if drop > 0:
                del buffer[:drop]
                first += drop
        if total == 0:
            return
        # Enough clips to reach the last frame, none starting after it (when stride > length).
        num_clips = 1 if total <= length else min(math.ceil((total - length) / stride), (total - 1) // stride) + 1
        for index in range(next_start // stride, num_clips):
            start = index * stride
            picks = [min(start + j, total - 1) - first for j in range(length)]
            yield np.stack([buffer[p] for p in picks])

    def extract(self, video: VideoSource, root=None, progress: bool | None = False) -> tuple[np.ndarray, float, float]:
        """Features of one video: `(features (N, feature_dim) float32, fps sampled at, duration in seconds)`.
        `progress`: a progress bar over the clips (True), only once encoding has taken 2 s (None), or none."""
        info = probe_video(video, root)
        fps = self.fps if self.fps is not None else info.fps
        frames = (
            self._crop(f) for f, _, _ in iter_video_frames(video, fps=fps, size=self.resize, root=root, info=info)
        )
        expected = max(1, math.ceil((math.ceil(info.duration * fps) - self.num_frames) / self.feature_stride) + 1)
        outputs, batch = [], []
        with encoding_progress(expected, video, progress) as bar:
            for clip in self._clips(frames):
                batch.append(clip)
                if len(batch) == self.batch_size:
                    outputs.append(self._forward(np.stack(batch)))
                    bar.update(len(batch))
                    batch = []
            if batch:
                outputs.append(self._forward(np.stack(batch)))
                bar.update(len(batch))
        if not outputs:
            raise ValueError(f"video {video} gave no frames to encode")
        features = torch.cat(outputs).numpy()
        if not np.isfinite(features).all():
            raise ValueError(f"encoder {self.encoder_id} produced NaN or Inf features for video {video}")
        return features, fps, info.duration


def find_videos(video_dir: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> dict[str, Path]:
    """`{video_id: path}` for the video files under `video_dir` (recursively), sorted by id.

    The id is the file name without its extension; two files with the same id are an error, since their
    features would overwrite each other."""
    video_dir = Path(video_dir)
    if not video_dir.is_dir():
        raise ValueError(f"video folder not found: {video_dir}")
    wanted = {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}
    found: dict[str, list[Path]] = {}
    for path in sorted(video_dir.rglob("*")):
        if path.suffix.lower() in wanted and path.is_file() and not path.name.startswith("."):
            found.setdefault(path.stem, []).append(path)
    clashes = {k: v for k, v in found.items() if len(v) > 1}
    if clashes:
        listed = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in sorted(clashes.items()))
        raise ValueError(f"several videos share an id (file name without extension) in {video_dir}: {listed}")
    return {k: v[0] for k, v in sorted(found.items())}


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: a kill never leaves a partial file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_tmp(output_dir: Path) -> None:
    """Delete temporary files left by killed runs (not those of a run still writing into this folder)."""
    for tmp in output_dir.glob(".*.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and _pid_alive(int(pid)):
            continue
        tmp.unlink(missing_ok=True)


def _write_geometry(path: Path, geometry: dict) -> None:
    _atomic_write(path, lambda handle: handle.write(json.dumps(geometry, indent=2, sort_keys=True).encode()))


def encoding_progress(total_clips: int, video, progress: bool | None):
    """A tqdm bar over the clips of a video being encoded (transformers' tqdm: `disable_progress_bar()` silences
    it). `progress=True` shows it at once, None only when encoding lasts over 2 s (a long video), False never."""
    from transformers.utils import logging as hf_logging

    name = Path(video).name if isinstance(video, (str, os.PathLike)) else "video"
    return hf_logging.tqdm(
        total=total_clips,
        desc=f"encoding {name}",
        unit="clip",
        leave=False,
        file=sys.stderr,
        disable=progress is False,
        delay=2.0 if progress is None else 0.0,
    )


def _output_is_sound(target: Path, record: dict | None, geometry: dict) -> bool:
    """An existing `.npy` is kept on resume only when it reads as a finite (N, feature_dim) array and N is what
    geometry.json lists for it (a file truncated by a full disk or swapped by hand is redone)."""
    try:
        array = np.load(target, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return False
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] != geometry.get("feature_dim", array.shape[1]):
        return False
    if record is not None and record.get("num_features") != array.shape[0]:
        return False
    return bool(np.isfinite(array).all())


def extract_features_to_folder(
    extractor: VideoFeatureExtractor,
    video_dir: str | os.PathLike,
    output_dir: str | os.PathLike,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    overwrite: bool = False,
    progress: bool = True,
) -> FeatureExtractionReport:
    """Write `<output_dir>/<video_id>.npy` for every video under `video_dir`, and `geometry.json`.

    `geometry.json` holds the extractor's settings (`fps`, `feature_stride`, `num_frames`, `encoder`,
    `feature_dim`, ...) and, under `"videos"`, each video's `fps`, `duration`, `num_features` and source path.
    Videos whose `.npy` exists are skipped (so a killed run resumes where it stopped) unless `overwrite`;
    resuming with different settings is refused. A video that cannot be read is recorded in the report
    and the others are still processed.
    """
    from tqdm.auto import tqdm

    video_dir, output_dir = Path(video_dir), Path(output_dir)
    videos = find_videos(video_dir, extensions)
    output_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(output_dir)
    geometry_path = output_dir / GEOMETRY_FILENAME
    geometry = extractor.geometry
    records: dict[str, dict] = {}
    if geometry_path.is_file() and not overwrite:
        try:
            previous = loads_strict(geometry_path.read_text(encoding="utf-8"), geometry_path)
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{geometry_path} is not valid JSON ({error}): remove it or pass overwrite") from error
        changed = {k: (previous.get(k), geometry[k]) for k in _GEOMETRY_KEYS if previous.get(k) != geometry[k]}
        if changed:
            details = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise ValueError(
                f"{output_dir} holds features extracted with other settings ({details}); "
                "use another output folder or overwrite"
            )
        records = dict(previous.get("videos", {}))

    report = FeatureExtractionReport()
    bar = tqdm(videos.items(), desc="extract-features", unit="video", disable=not progress, file=sys.stderr)
    for video_id, path in bar:
        target = output_dir / f"{video_id}.npy"
        source = os.path.relpath(path, video_dir)
        if target.is_file() and not overwrite and not _output_is_sound(target, records.get(video_id), geometry):
            target.unlink()  # truncated or not what geometry.json lists: extract it again
            records.pop(video_id, None)
        if target.is_file() and not overwrite:
            if video_id not in records:  # killed between writing the .npy and the geometry
                try:
                    info = probe_video(path)
                except ValueError as error:
                    report.failed[str(path)] = str(error)
                    continue
                records[video_id] = {
                    "file": target.name,
                    "source": source,
                    "fps": extractor.fps if extractor.fps is not None else info.fps,
                    "duration": info.duration,
                    "num_features": int(np.load(target, mmap_mode="r").shape[0]),
                }
                _write_geometry(geometry_path, {**geometry, "videos": records})
            report.skipped.append(video_id)
            continue
        bar.set_postfix_str(video_id)
        try:
            features, fps, duration = extractor.extract(path)
        except ValueError as error:
            report.failed[str(path)] = str(error)
            continue
        _atomic_write(target, lambda handle, array=features: np.save(handle, array))
        records[video_id] = {
            "file": target.name,
            "source": source,
            "fps": fps,
            "duration": duration,
            "num_features": int(features.shape[0]),
        }
        _write_geometry(geometry_path, {**geometry, "videos": records})
        report.processed.append(video_id)
    bar.close()
    if not geometry_path.is_file():
        _write_geometry(geometry_path, {**geometry, "videos": records})
    return report


def feature_geometry_kwargs(features_dir: str | os.PathLike) -> dict:
    """Builder keyword arguments for a folder written by `extract_features_to_folder`.

    Returns `{"features_dir", "feature_ext", "fps", "feature_stride", "num_frames", "feature_dim"}`, so that e.g.
    `Thumos14Builder(annotation_file=..., **feature_geometry_kwargs(folder))` maps seconds to these features'
    steps. `fps` is None when each video was sampled at its own rate (the builders then take it from the
    annotations)."""
    path = Path(features_dir) / GEOMETRY_FILENAME
    if not path.is_file():
        raise ValueError(f"{path} not found: is {features_dir} a folder written by `momentzoo extract-features`?")
    try:
        geometry = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error
    missing = [k for k in ("fps", "feature_stride", "num_frames", "feature_dim") if k not in geometry]
    if missing:
        raise ValueError(f"{path} lacks the geometry fields {missing}")
    return {
        "features_dir": str(Path(features_dir)),
        "feature_ext": ".npy",
        "fps": geometry["fps"],
        "feature_stride": int(geometry["feature_stride"]),
        "num_frames": int(geometry["num_frames"]),
        "feature_dim": int(geometry["feature_dim"]),
    }
