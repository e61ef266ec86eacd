"""What every momentzoo dataset builder shares: the config fields for features, videos and bad-input
policies, the row schemas of the data contracts, validation before anything is written, and the
feature/video columns.

A concrete builder only parses its source format into `VideoAnnotation` (action localization, one
per video) or `QueryAnnotation` (grounding, one per query) records; this module checks them, finds
their feature files and writes the rows.
"""

from __future__ import annotations

import abc
import hashlib
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from ..annotations import (
    INVALID_SEGMENT_POLICIES,
    MomentZooDataWarning,
    SegmentCheck,
    check_segments,
    format_problems,
    safe_join,
)
from ..feature_files import (
    FEATURE_EXTENSIONS,
    check_feature_length,
    load_feature_file,
    locate_feature_files,
    peek_feature_dim,
    report_missing,
    resize_features,
    resized_feature_geometry,
)

__all__ = [
    "MomentZooBuilderConfig",
    "VideoAnnotation",
    "QueryAnnotation",
    "TemporalLocalizationBuilder",
    "TemporalGroundingBuilder",
    "SEGMENTS",
]

# Seconds (and fps) as float64: float32 keeps only ~7 digits, 0.1 s off at an hour into a video.
SEGMENTS = datasets.List(datasets.List(datasets.Value("float64"), length=2))


@dataclass
class MomentZooBuilderConfig(datasets.BuilderConfig):
    """Fields shared by every momentzoo builder (a dataset's config adds its own source files).

    Features (optional): `features_dir` holds one file per video, `<feature_prefix><video_id><ext>`
    (`.npy`, `.npz` key `feats`, `.pt`; `feature_ext=None` tries them in that order). Rows then carry
    `features` (T, D) and the geometry `fps`, `feature_stride`, `num_frames` that maps seconds to
    feature steps (`momentzoo.segments.seconds_to_feature_grid`). `fps=None` takes each video's fps
    from the annotations where the format has one. `resize_length` resizes every video's features to
    that many steps by linear interpolation and records the geometry that keeps seconds exact
    (`feature_stride = num_frames = 1`, `fps` = steps per second; see `resized_feature_geometry`).

    Videos (optional): `videos_dir` holds `<video_prefix><video_id><video_ext>`; rows carry `video` (`Video(decode=False)`).

    Bad input: `skip_missing=True` leaves out videos whose feature/video file is missing (listed in a
    warning) instead of raising; `invalid_segments="drop"` drops segments that start at or after the
    video's end (listed in a warning) instead of raising.
    """

    features_dir: str | None = None
    feature_prefix: str = ""
    feature_ext: str | None = None
    feature_dim: int | None = None
    fps: float | None = None
    feature_stride: int = 4
    num_frames: int = 16
    resize_length: int | None = None
    videos_dir: str | None = None
    video_prefix: str = ""
    video_ext: str = ".mp4"
    skip_missing: bool = False
    invalid_segments: str = "error"

    def validate(self) -> None:
        if self.feature_ext is not None and self.feature_ext not in FEATURE_EXTENSIONS:
            raise ValueError(f"feature_ext must be one of {FEATURE_EXTENSIONS} or None, got {self.feature_ext!r}")
        for name in ("feature_stride", "num_frames"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        for name in ("feature_dim", "resize_length"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if self.fps is not None and not (isinstance(self.fps, (int, float)) and self.fps > 0):
            raise ValueError(f"fps must be a positive number or None, got {self.fps!r}")
        if self.invalid_segments not in INVALID_SEGMENT_POLICIES:
            raise ValueError(
                f"invalid_segments must be one of {INVALID_SEGMENT_POLICIES}, got {self.invalid_segments!r}"
            )
        if not isinstance(self.skip_missing, bool):
            raise ValueError(f"skip_missing must be a bool, got {self.skip_missing!r}")
        if not self.video_ext.startswith("."):
            raise ValueError(f"video_ext must start with '.', got {self.video_ext!r}")
        if self.resize_length is not None and self.features_dir is None:
            raise ValueError("resize_length needs features_dir (there are no features to resize)")


@dataclass
class VideoAnnotation:
    """One video of an action-localization source, before validation. `labels` are class names or ids."""

    video_id: str
    duration: float
    segments: list
    labels: list
    source: str
    where: str = ""
    fps: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class QueryAnnotation:
    """One query of a grounding source, before validation. `windows=None` marks an unlabelled query."""

    qid: str
    video_id: str
    duration: float
    query: str
    windows: list | None
    source: str
    where: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _fingerprint(value, h) -> None:
    """Hash the paths a builder reads (size and mtime), so edited inputs never reuse a stale cache."""
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            h.update(str(key).encode())
            _fingerprint(value[key], h)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _fingerprint(item, h)
    elif isinstance(value, (str, os.PathLike)) and os.path.exists(value):
        path = os.path.abspath(value)
        h.update(path.encode())
        if os.path.isdir(path):
            with os.scandir(path) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    st = entry.stat()
                    h.update(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            st = os.stat(path)
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    else:
        h.update(repr(value).encode())


class _MomentZooBuilder(datasets.GeneratorBasedBuilder, metaclass=abc.ABCMeta):
    BUILDER_CONFIG_CLASS = MomentZooBuilderConfig
    # What the dataset card declares on the Hub (a dataset sets its own license where its source states one).
    HOMEPAGE = ""
    CITATION = ""
    LICENSE = "unknown"
    LANGUAGE: tuple[str, ...] = ("en",)
    TASK_CATEGORIES: tuple[str, ...] = ()
    TAGS: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        if kwargs.get("hash") is None:
            from ...version import __version__

            h = hashlib.sha256(f"momentzoo-{__version__}".encode())
            _fingerprint({k: v for k, v in kwargs.items() if k not in ("cache_dir", "hash")}, h)
            kwargs["hash"] = h.hexdigest()[:16]
        super().__init__(*args, **kwargs)

    def download_and_prepare(self, *args, **kwargs):
        # `datasets` wraps errors raised while generating rows (NaN features, a corrupt file) in a
        # DatasetGenerationError; surface our ValueError, which names the file, as the error.
        try:
            return super().download_and_prepare(*args, **kwargs)
        except datasets.exceptions.DatasetGenerationError as err:
            if isinstance(err.__cause__, ValueError):
                raise ValueError(str(err.__cause__)) from err
            raise

    ROW_KEY = "video_id"  # the column that keys a row

    @abc.abstractmethod
    def _records(self) -> list:
        """Every parsed record (VideoAnnotation or QueryAnnotation) of every split."""

    def _dataset_info(self, features: dict) -> datasets.DatasetInfo:
        return datasets.DatasetInfo(
            description=self.__doc__.split("\n\n")[0] if self.__doc__ else "",
            features=datasets.Features(features),
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
            license=self.LICENSE,
        )

    @staticmethod
    def _bad_duration(duration) -> bool:
        return (
            isinstance(duration, bool)
            or not isinstance(duration, (int, float))
            or not np.isfinite(duration)
            or duration <= 0
        )

    def _split_generators(self, dl_manager):
        self._check_fps(self._records())
        validated = self._validated
        self._check_not_empty(validated)
        return [datasets.SplitGenerator(name=split, gen_kwargs={"rows": rows}) for split, rows in validated.items()]

    def _generate_examples(self, rows):
        for row in rows:
            if not self._available(row["video_id"]):
                continue  # skip_missing=True: already listed in a warning
            row = dict(row)
            fps = row.pop("_fps", None)
            row.update(self._media_columns(row["video_id"], row["duration"], fps))
            yield row[self.ROW_KEY], row

    # -- inputs shared by builders -------------------------------------------------------------
    def _split_files(self) -> dict[str, list[str]]:
        """`data_files` resolved by `datasets`, as {split: [paths]}; required by per-split formats."""
        if not self.config.data_files:
            raise ValueError(
                f"{type(self).__name__} needs data_files={{split: annotation file(s)}}, e.g. "
                f"{{'train': 'train.jsonl', 'test': 'test.jsonl'}}"
            )
        return {str(split): [str(p) for p in files] for split, files in self.config.data_files.items()}

    def _all_video_ids(self) -> list[str]:
        return [r.video_id for r in self._records()]

    # -- features and videos -------------------------------------------------------------------
    @cached_property
    def _feature_files(self) -> dict[str, Path]:
        cfg = self.config
        found, missing = locate_feature_files(
            self._all_video_ids(), cfg.features_dir, cfg.feature_prefix, cfg.feature_ext
        )
        report_missing(missing, cfg.skip_missing, "feature file", repr(cfg.features_dir))
        return found

    @cached_property
    def _video_files(self) -> dict[str, Path]:
        cfg = self.config
        if not Path(cfg.videos_dir).is_dir():
            raise ValueError(f"videos_dir {cfg.videos_dir!r} is not a directory")
        found, missing = {}, []
        for vid in dict.fromkeys(self._all_video_ids()):
            path = safe_join(
                cfg.videos_dir, f"{cfg.video_prefix}{vid}{cfg.video_ext}", what=f"video file of video {vid!r}"
            )
            (found.__setitem__(vid, path) if path.is_file() else missing.append(vid))
        report_missing(missing, cfg.skip_missing, f"video file ({cfg.video_ext})", repr(cfg.videos_dir))
        return found

    def _check_not_empty(self, validated: dict[str, list[dict]]) -> None:
        """A split left with no row (every file missing under skip_missing) is an error, not an empty split."""
        empty = [split for split, rows in validated.items() if not any(self._available(r["video_id"]) for r in rows)]
        if empty:
            raise ValueError(f"split(s) {empty} have no row left: none of their videos has a feature/video file")

    def _feature_dim(self) -> int:
        if self.config.feature_dim is not None:
            return self.config.feature_dim
        if not self._feature_files:
            raise ValueError(f"no feature files found in {self.config.features_dir!r}; cannot infer feature_dim")
        return peek_feature_dim(next(iter(self._feature_files.values())))

    def _has_features(self) -> bool:
        return self.config.features_dir is not None

    def _media_features(self) -> dict:
        out = {}
        if self._has_features():
            out["fps"] = datasets.Value("float64")
            out["feature_stride"] = datasets.Value("int32")
            out["num_frames"] = datasets.Value("int32")
            out["features"] = datasets.Array2D(shape=(None, self._feature_dim()), dtype="float32")
        if self.config.videos_dir is not None:
            out["video"] = datasets.Video(decode=False)
        return out

    def _available(self, video_id: str) -> bool:
        cfg = self.config
        if self._has_features() and video_id not in self._feature_files:
            return False
        return not (cfg.videos_dir is not None and video_id not in self._video_files)

    def _check_fps(self, records: list) -> None:
        cfg = self.config
        if not self._has_features() or cfg.fps is not None or cfg.resize_length is not None:
            return
        lacking = sorted({r.video_id for r in records if getattr(r, "fps", None) is None})
        if lacking:
            raise ValueError(
                f"{len(lacking)} video(s) have no fps in the annotations, needed to map seconds to feature "
                f"steps; pass fps=...:\n{format_problems(lacking)}"
            )

    def _load_features(self, video_id: str) -> np.ndarray:
        # Grounding rows of one video come together in most files: keep the last video's features.
        cached = getattr(self, "_last_features", None)
        if cached is None or cached[0] != video_id:
            cached = (video_id, load_feature_file(self._feature_files[video_id], self._feature_dim()))
            self._last_features = cached
        return cached[1]

    def _media_columns(self, video_id: str, duration: float, fps: float | None) -> dict:
        cfg = self.config
        row = {}
        if self._has_features():
            feats = self._load_features(video_id)
            fps = cfg.fps if cfg.fps is not None else fps
            stride, num_frames = cfg.feature_stride, cfg.num_frames
            if cfg.resize_length is None:  # resizing derives fps from the duration: consistent by construction
                check_feature_length(
                    len(feats),
                    duration,
                    fps,
                    stride,
                    num_frames,
                    f"{self._feature_files[video_id]} (video {video_id!r})",
                )
            if cfg.resize_length is not None:
                fps = resized_feature_geometry(len(feats), cfg.resize_length, fps, stride, num_frames, duration)
                feats, stride, num_frames = resize_features(feats, cfg.resize_length), 1, 1
            row.update(fps=float(fps), feature_stride=stride, num_frames=num_frames, features=feats)
        if cfg.videos_dir is not None:
            row["video"] = {"path": str(self._video_files[video_id]), "bytes": None}
        return row


class TemporalLocalizationBuilder(_MomentZooBuilder):
    """Base of the action-localization builders: one row per video with `segments` and `labels`.

    Subclasses implement `_read_annotations() -> {split: [VideoAnnotation]}` and `_class_names()`,
    and may list extra columns in `_extra_features()` (values taken from `VideoAnnotation.extra`;
    segment-valued extras named in `EXTRA_SEGMENT_COLUMNS` are validated like `segments`).
    """

    TASK_CATEGORIES = ("video-classification",)  # the Hub has no temporal-localization category
    TAGS = ("temporal-action-localization",)
    EXTRA_SEGMENT_COLUMNS: tuple[str, ...] = ()
    EXTRA_LABEL_COLUMNS: tuple[str, ...] = ()

    @abc.abstractmethod
    def _read_annotations(self) -> dict[str, list[VideoAnnotation]]:
        """{split: [VideoAnnotation]} parsed from the dataset's raw files."""

    @abc.abstractmethod
    def _class_names(self) -> list[str]:
        """The dataset's class names, in label-id order."""

    def _extra_features(self) -> dict:
        return {}

    def _extra_segment_columns(self) -> tuple[str, ...]:
        return self.EXTRA_SEGMENT_COLUMNS

    @cached_property
    def _annotations(self) -> dict[str, list[VideoAnnotation]]:
        self.config.validate()
        return self._read_annotations()

    def _info(self) -> datasets.DatasetInfo:
        self.config.validate()
        label = datasets.ClassLabel(names=self._class_names())
        features = {"video_id": datasets.Value("string"), "duration": datasets.Value("float64")}
        features.update(self._media_features())
        features.update(segments=SEGMENTS, labels=datasets.List(label))
        for name in self._extra_segment_columns():
            features[name] = SEGMENTS
        for name in self.EXTRA_LABEL_COLUMNS:
            features[name] = datasets.List(label)
        features.update(self._extra_features())
        return self._dataset_info(features)

    @cached_property
    def _validated(self) -> dict[str, list[dict]]:
        """Every split's rows (without media), after all checks; raises once with every problem."""
        names = self._class_names()
        index = {n: i for i, n in enumerate(names)}
        policy = self.config.invalid_segments
        reports: dict[str, SegmentCheck] = {}
        label_errors, other_errors = defaultdict(list), []
        out = {}
        for split, records in self._annotations.items():
            seen, rows = set(), []
            for rec in records:
                name = f"video {rec.video_id!r}" + (f" ({rec.where})" if rec.where else "")
                if rec.video_id in seen:
                    other_errors.append(f"{rec.source}: {name} appears twice in split {split!r}")
                    continue
                seen.add(rec.video_id)
                if self._bad_duration(rec.duration):
                    other_errors.append(
                        f"{rec.source}: {name}: duration must be a positive number, got {rec.duration!r}"
                    )
                    continue
                if (
                    self._has_features()
                    and self.config.fps is None
                    and rec.fps is not None
                    and self._bad_duration(rec.fps)
                ):
                    other_errors.append(f"{rec.source}: {name}: fps must be a positive finite number, got {rec.fps!r}")
                    continue
                if len(rec.segments) != len(rec.labels):
                    other_errors.append(
                        f"{rec.source}: {name}: {len(rec.segments)} segments but {len(rec.labels)} labels"
                    )
                    continue
                report = reports.setdefault(rec.source, SegmentCheck(rec.source))
                kept = check_segments(rec.segments, rec.duration, rec.video_id, report, policy, rec.where)
                label_ids = [self._label_id(rec.labels[i], index, label_errors[rec.source], name) for i, _ in kept]
                row = {
                    "video_id": rec.video_id,
                    "duration": float(rec.duration),
                    "segments": [seg for _, seg in kept],
                    "labels": label_ids,
                    "_fps": rec.fps,
                }
                for col in self._extra_segment_columns():
                    extra = check_segments(
                        rec.extra.get(col, []),
                        rec.duration,
                        rec.video_id,
                        report,
                        policy,
                        f"{rec.where + ', ' if rec.where else ''}{col}",
                    )
                    row[col] = [seg for _, seg in extra]
                for col in self.EXTRA_LABEL_COLUMNS:
                    row[col] = [
                        self._label_id(v, index, label_errors[rec.source], name) for v in rec.extra.get(col, [])
                    ]
                for col in self._extra_features():
                    row[col] = rec.extra[col]
                rows.append(row)
            out[split] = rows
        problems = other_errors + [p for src, errs in label_errors.items() for p in (f"{src}: {e}" for e in errs)]
        if problems:
            raise ValueError(f"{len(problems)} problem(s) in the annotations:\n{format_problems(problems)}")
        for report in reports.values():
            report.raise_or_warn(policy)
        return out

    @staticmethod
    def _label_id(label, index: dict[str, int], errors: list[str], name: str) -> int:
        if isinstance(label, str):
            if label in index:
                return index[label]
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < len(index):
            return int(label)
        known = list(index) if len(index) <= 30 else f"{len(index)} classes"
        errors.append(f"{name}: unknown label {label!r} (known: {known})")
        return -1

    def _records(self) -> list[VideoAnnotation]:
        return [r for records in self._annotations.values() for r in records]


class TemporalGroundingBuilder(_MomentZooBuilder):
    """Base of the grounding builders: one row per query with `qid`, `video_id`, `duration`, `query`,
    `windows` (seconds). Subclasses implement `_read_queries() -> {split: [QueryAnnotation]}` and may add
    columns via `_extra_features()` (values from `QueryAnnotation.extra`)."""

    ROW_KEY = "qid"
    TASK_CATEGORIES = ("video-text-to-text",)
    TAGS = ("temporal-video-grounding", "moment-retrieval")

    @abc.abstractmethod
    def _read_queries(self) -> dict[str, list[QueryAnnotation]]:
        """{split: [QueryAnnotation]} parsed from the dataset's raw files."""

    def _extra_features(self) -> dict:
        return {}

    @cached_property
    def _queries(self) -> dict[str, list[QueryAnnotation]]:
        self.config.validate()
        return self._read_queries()

    def _info(self) -> datasets.DatasetInfo:
        self.config.validate()
        features = {
            "qid": datasets.Value("string"),
            "video_id": datasets.Value("string"),
            "duration": datasets.Value("float64"),
            "query": datasets.Value("string"),
            "windows": SEGMENTS,
        }
        features.update(self._media_features())
        features.update(self._extra_features())
        return self._dataset_info(features)

    @cached_property
    def _validated(self) -> dict[str, list[dict]]:
        policy = self.config.invalid_segments
        reports: dict[str, SegmentCheck] = {}
        errors, emptied = [], []
        out = {}
        for split, queries in self._queries.items():
            seen, rows = set(), []
            for q in queries:
                name = f"query {q.qid!r} of video {q.video_id!r}" + (f" ({q.where})" if q.where else "")
                if q.qid in seen:
                    errors.append(f"{q.source}: {name}: qid appears twice in split {split!r}")
                    continue
                seen.add(q.qid)
                if self._bad_duration(q.duration):
                    errors.append(f"{q.source}: {name}: duration must be a positive number, got {q.duration!r}")
                    continue
                if not isinstance(q.query, str) or not q.query.strip():
                    errors.append(f"{q.source}: {name}: empty or missing query text")
                    continue
                windows = []
                if q.windows is not None:
                    if len(q.windows) == 0:
                        errors.append(f"{q.source}: {name}: no windows")
                        continue
                    report = reports.setdefault(q.source, SegmentCheck(q.source))
                    windows = [w for _, w in check_segments(q.windows, q.duration, q.video_id, report, policy, q.where)]
                    if not windows:
                        emptied.append(f"{q.source}: {name}")
                        continue
                rows.append(
                    {
                        "qid": q.qid,
                        "video_id": q.video_id,
                        "duration": float(q.duration),
                        "query": q.query,
                        "windows": windows,
                        **{k: q.extra[k] for k in self._extra_features()},
                    }
                )
            out[split] = rows
        if errors:
            raise ValueError(f"{len(errors)} problem(s) in the annotations:\n{format_problems(errors)}")
        for report in reports.values():
            report.raise_or_warn(policy)
        if emptied:
            warnings.warn(
                f"left out {len(emptied)} query(ies) whose every window was dropped (invalid_segments='drop'):\n"
                f"{format_problems(emptied)}",
                MomentZooDataWarning,
                stacklevel=2,
            )
        return out

    def _records(self) -> list[QueryAnnotation]:
        return [q for queries in self._queries.values() for q in queries]
