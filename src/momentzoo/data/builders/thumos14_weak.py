"""THUMOS14 for weakly-supervised action localization, from the numpy layout of W-TALC-style code.

`annotation_dir` holds one numpy array per field (`videoname.npy`, `subset.npy`, `duration.npy`,
`segments.npy`, `labels.npy`, `labels_all.npy`, `classlist.npy`, `original_fps.npy`) and
`Ambiguous_test.txt`. Training uses only the video-level labels (`video_labels`, from `labels_all.npy`,
as W-TALC, CO2-Net and DELU train); `segments`/`labels` are kept for evaluation. The object arrays are
pickles: they are read with a numpy-only allow-list (`safe_numpy.load_npy_restricted`), never with
`np.load(allow_pickle=True)`, and only from the folder the user names.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import datasets
import numpy as np

from ..annotations import MomentZooDataWarning, format_problems
from ..feature_files import check_feature_array
from ..safe_numpy import load_npy_restricted
from .base import MomentZooBuilderConfig, TemporalLocalizationBuilder, VideoAnnotation

__all__ = ["Thumos14WeakConfig", "Thumos14WeakBuilder"]

_SUBSETS = {"validation": "val", "test": "test"}
_FIELDS = ("videoname", "subset", "duration", "segments", "labels", "labels_all", "classlist")


@dataclass
class Thumos14WeakConfig(MomentZooBuilderConfig):
    """`annotation_dir`: the numpy layout. Features: `features_dir` (one file per video) or
    `features_file`, a single `.npy` object array of per-video (T, D) arrays in `videoname.npy` order
    (how W-TALC distributes its I3D features). Geometry defaults follow those features: 16-frame clips
    every 16 frames of 25 fps video. Splits: `val` (the 200 training videos), `test` (212)."""

    annotation_dir: str | None = None
    features_file: str | None = None
    ambiguous_file: str | None = "Ambiguous_test.txt"
    splits: tuple[str, ...] = ("val", "test")
    fps: float | None = 25.0
    feature_stride: int = 16
    num_frames: int = 16

    def validate(self) -> None:
        super().validate()
        if not self.annotation_dir or not Path(self.annotation_dir).is_dir():
            raise ValueError(f"annotation_dir must be the folder of the numpy layout, got {self.annotation_dir!r}")
        if self.features_file is not None and self.features_dir is not None:
            raise ValueError("pass features_dir or features_file, not both")
        if self.features_file is not None and not Path(self.features_file).is_file():
            raise ValueError(f"features_file {self.features_file!r} is not a file")


def _decode(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class Thumos14WeakBuilder(TemporalLocalizationBuilder):
    """THUMOS14 for weak supervision: video-level labels to train on, segments kept for evaluation."""

    BUILDER_CONFIG_CLASS = Thumos14WeakConfig
    BUILDER_CONFIGS = [Thumos14WeakConfig(name="default", version=datasets.Version("1.0.0"))]
    DEFAULT_CONFIG_NAME = "default"
    EXTRA_SEGMENT_COLUMNS = ("ambiguous_segments",)
    EXTRA_LABEL_COLUMNS = ("video_labels",)
    HOMEPAGE = "https://www.crcv.ucf.edu/THUMOS14/"

    def _load(self, name: str) -> np.ndarray:
        path = Path(self.config.annotation_dir) / f"{name}.npy"
        if not path.is_file():
            raise ValueError(f"{self.config.annotation_dir}: missing {name}.npy of the numpy layout")
        return load_npy_restricted(path)

    @cached_property
    def _layout(self) -> dict:
        self.config.validate()
        arrays = {name: self._load(name) for name in _FIELDS}
        fps_path = Path(self.config.annotation_dir) / "original_fps.npy"
        arrays["original_fps"] = load_npy_restricted(fps_path) if fps_path.is_file() else None
        n = len(arrays["videoname"])
        sizes = {k: len(v) for k, v in arrays.items() if k != "classlist" and v is not None}
        if set(sizes.values()) != {n}:
            raise ValueError(f"{self.config.annotation_dir}: numpy arrays disagree in length: {sizes}")
        return arrays

    def _class_names(self) -> list[str]:
        return [_decode(c) for c in self._layout["classlist"]]

    def _ambiguous(self, names: set[str]) -> dict[str, list[list[float]]]:
        if self.config.ambiguous_file is None:
            return {}
        path = Path(self.config.annotation_dir) / self.config.ambiguous_file
        if not path.is_file():
            raise ValueError(f"{path}: ambiguous-segment file not found (pass ambiguous_file=None to build without it)")
        out, errors, unknown = {}, [], []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            parts = line.split()
            try:
                vid, start, end = parts[0], float(parts[1]), float(parts[2])
                if len(parts) != 3:
                    raise ValueError
            except (ValueError, IndexError):
                errors.append(f"line {lineno}: expected 'VIDEO START END', got {line!r}")
                continue
            if vid not in names:
                unknown.append(f"line {lineno}: video {vid!r}")
                continue
            out.setdefault(vid, []).append([start, end])
        if errors:
            raise ValueError(f"{path}: {len(errors)} problem(s):\n{format_problems(errors)}")
        if unknown:
            # The real file lists video_test_0001292, which the layout leaves out (it has no action):
            # those lines can never apply, so they are skipped, and counted.
            warnings.warn(
                f"{path}: skipped {len(unknown)} ambiguous segment(s) of videos not in the layout:\n"
                f"{format_problems(unknown)}",
                MomentZooDataWarning,
                stacklevel=2,
            )
        return out

    def _read_annotations(self) -> dict[str, list[VideoAnnotation]]:
        a = self._layout
        source = str(self.config.annotation_dir)
        names = [_decode(v) for v in a["videoname"]]
        ambiguous = self._ambiguous(set(names))
        durations = np.asarray(a["duration"], dtype=np.float64).reshape(len(names), -1)[:, 0]
        out = {split: [] for split in self.config.splits}
        errors = []
        for i, vid in enumerate(names):
            split = _SUBSETS.get(_decode(a["subset"][i]), _decode(a["subset"][i]))
            segments, labels, video_labels = a["segments"][i], a["labels"][i], a["labels_all"][i]
            where = f"index {i}"
            # Untrusted content: accept only lists of [number, number] and lists of strings.
            if not all(
                isinstance(s, (list, tuple, np.ndarray)) and len(s) == 2 and all(map(_is_number, s)) for s in segments
            ):
                errors.append(f"video {vid!r} ({where}): segments.npy entry is not a list of [start, end] numbers")
                continue
            if not all(isinstance(x, str) for x in list(labels) + list(video_labels)):
                errors.append(
                    f"video {vid!r} ({where}): labels.npy / labels_all.npy entries must be lists of class names"
                )
                continue
            if split not in out:
                continue
            fps = None if a["original_fps"] is None else float(a["original_fps"][i])
            extra = {"ambiguous_segments": ambiguous.get(vid, []), "video_labels": list(dict.fromkeys(video_labels))}
            out[split].append(
                VideoAnnotation(
                    vid,
                    float(durations[i]),
                    [list(map(float, s)) for s in segments],
                    list(labels),
                    source,
                    where,
                    fps=fps,
                    extra=extra,
                )
            )
        if errors:
            raise ValueError(f"{source}: {len(errors)} malformed entr(ies):\n{format_problems(errors)}")
        return out

    # Features may come as one object array (features_file) instead of one file per video.
    def _has_features(self) -> bool:
        return self.config.features_dir is not None or self.config.features_file is not None

    @cached_property
    def _features_by_video(self) -> dict[str, np.ndarray]:
        arrays = load_npy_restricted(self.config.features_file)
        names = [_decode(v) for v in self._layout["videoname"]]
        if arrays.ndim != 1 or len(arrays) != len(names):
            raise ValueError(
                f"{self.config.features_file}: expected one feature array per video ({len(names)}), got shape {arrays.shape}"
            )
        return dict(zip(names, arrays))

    @cached_property
    def _feature_files(self):
        if self.config.features_file is None:
            return super()._feature_files
        return self._features_by_video

    def _feature_dim(self) -> int:
        if self.config.features_file is None or self.config.feature_dim is not None:
            return super()._feature_dim()
        first = np.asarray(next(iter(self._features_by_video.values())))
        if first.ndim != 2:
            raise ValueError(f"{self.config.features_file}: expected (T, D) arrays, got shape {first.shape}")
        return int(first.shape[1])

    def _load_features(self, video_id: str) -> np.ndarray:
        if self.config.features_file is None:
            return super()._load_features(video_id)
        feats = np.asarray(self._features_by_video[video_id])
        return check_feature_array(feats, f"{self.config.features_file} (video {video_id!r})", self._feature_dim())
