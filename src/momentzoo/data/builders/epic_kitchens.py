"""EPIC-Kitchens-100 action localization, as two tasks (configs): `verb` (97 classes) and `noun` (300).

Sources: the action CSVs (`EPIC_100_train.csv`, `EPIC_100_validation.csv`; columns `video_id`,
`start_timestamp`, `stop_timestamp` as `HH:MM:SS.ff`, `verb_class`, `noun_class`, ...) given as
`data_files={"train": ..., "validation": ...}`, the video durations (`EPIC_100_video_info.csv`:
`video_id, duration, fps, ...`) as `video_info_file`, and optionally the class names
(`EPIC_100_verb_classes.csv` / `EPIC_100_noun_classes.csv`: `id, key, ...`) as `classes_file`;
without it the classes are named by their ids.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import datasets

from ..annotations import format_problems
from .base import MomentZooBuilderConfig, TemporalLocalizationBuilder, VideoAnnotation

__all__ = ["EpicKitchensConfig", "EpicKitchensBuilder", "parse_timestamp"]


@dataclass
class EpicKitchensConfig(MomentZooBuilderConfig):
    """`label_column`: `verb_class` or `noun_class`; `num_classes`: the task's class count. Geometry
    defaults follow ActionFormer's SlowFast features: 32-frame clips every 16 frames (fps from the
    video info unless `fps` is given; ActionFormer uses 30)."""

    label_column: str = "verb_class"
    num_classes: int = 97
    video_info_file: str | None = None
    classes_file: str | None = None
    feature_stride: int = 16
    num_frames: int = 32

    def validate(self) -> None:
        super().validate()
        if self.label_column not in ("verb_class", "noun_class"):
            raise ValueError(f"label_column must be 'verb_class' or 'noun_class', got {self.label_column!r}")
        if not self.video_info_file or not Path(self.video_info_file).is_file():
            raise ValueError(
                f"video_info_file must be EPIC_100_video_info.csv (video durations), got {self.video_info_file!r}"
            )
        if self.classes_file is not None and not Path(self.classes_file).is_file():
            raise ValueError(f"classes_file {self.classes_file!r} is not a file")


def parse_timestamp(value: str) -> float:
    """`HH:MM:SS.ff` (EPIC-Kitchens) or plain seconds -> seconds."""
    parts = value.strip().split(":")
    if len(parts) > 3:
        raise ValueError(f"not a timestamp: {value!r}")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def _read_csv(path: str, required: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
            rows = list(reader)
    except OSError as err:
        raise ValueError(f"{path}: cannot read CSV ({err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    # DictReader fills a short row with None and files a long row's extra cells under None: both are errors.
    bad = [
        f"line {line}: {sum(v is not None for k, v in row.items() if k is not None)} cell(s) for "
        f"{len(reader.fieldnames)} columns"
        for line, row in enumerate(rows, start=2)
        if None in row or any(v is None for v in row.values())
    ]
    if bad:
        raise ValueError(f"{path}: {len(bad)} row(s) with the wrong number of cells:\n{format_problems(bad)}")
    return rows


class EpicKitchensBuilder(TemporalLocalizationBuilder):
    """EPIC-Kitchens-100 actions in egocentric kitchen videos; configs `verb` and `noun`, splits as given."""

    BUILDER_CONFIG_CLASS = EpicKitchensConfig
    BUILDER_CONFIGS = [
        EpicKitchensConfig(name="verb", label_column="verb_class", num_classes=97, version=datasets.Version("1.0.0")),
        EpicKitchensConfig(name="noun", label_column="noun_class", num_classes=300, version=datasets.Version("1.0.0")),
    ]
    HOMEPAGE = "https://epic-kitchens.github.io/"
    LICENSE = "cc-by-nc-4.0"
    CITATION = (
        "@article{damen2022rescaling, title={Rescaling Egocentric Vision: Collection, Pipeline and Challenges "
        "for EPIC-KITCHENS-100}, author={Damen, Dima and others}, journal={IJCV}, year={2022}}"
    )

    def __init__(self, *args, config_name: str | None = None, **kwargs):
        if config_name is None:
            raise ValueError("EpicKitchensBuilder needs config_name='verb' or config_name='noun'")
        super().__init__(*args, config_name=config_name, **kwargs)

    @cached_property
    def _video_info(self) -> dict[str, tuple[float, float | None]]:
        path = self.config.video_info_file
        out, errors = {}, []
        for i, row in enumerate(_read_csv(path, ("video_id", "duration")), start=2):
            try:
                fps = float(row["fps"]) if row.get("fps") not in (None, "") else None
                out[row["video_id"]] = (float(row["duration"]), fps)
            except ValueError:
                errors.append(f"line {i}: bad duration/fps in {row}")
        if errors:
            raise ValueError(f"{path}: {len(errors)} problem(s):\n{format_problems(errors)}")
        return out

    def _class_names(self) -> list[str]:
        cfg = self.config
        cfg.validate()
        if cfg.classes_file is None:
            return [str(i) for i in range(cfg.num_classes)]
        rows = _read_csv(cfg.classes_file, ("id", "key"))
        try:
            names = {int(r["id"]): r["key"] for r in rows}
        except ValueError as err:
            raise ValueError(f"{cfg.classes_file}: non-integer class id ({err})") from err
        if sorted(names) != list(range(len(names))):
            raise ValueError(f"{cfg.classes_file}: class ids must be 0..{len(names) - 1} without gaps")
        if len(names) != cfg.num_classes:
            raise ValueError(
                f"{cfg.classes_file}: {len(names)} classes, but the {cfg.name!r} task has num_classes={cfg.num_classes}"
            )
        return [names[i] for i in range(len(names))]

    def _read_annotations(self) -> dict[str, list[VideoAnnotation]]:
        info = self._video_info
        column = self.config.label_column
        out = {}
        for split, files in self._split_files().items():
            videos: dict[str, VideoAnnotation] = {}
            errors = []
            for path in files:
                for line, row in enumerate(
                    _read_csv(path, ("video_id", "start_timestamp", "stop_timestamp", column)), start=2
                ):
                    vid = row["video_id"]
                    where = f"line {line}" + (f", {row['narration_id']}" if row.get("narration_id") else "")
                    if vid not in info:
                        errors.append(f"{path}: {where}: video {vid!r} is not in the video info file")
                        continue
                    try:
                        segment = [parse_timestamp(row["start_timestamp"]), parse_timestamp(row["stop_timestamp"])]
                        label = int(row[column])
                    except ValueError:
                        errors.append(f"{path}: {where}: bad timestamp or {column} in {row}")
                        continue
                    if vid not in videos:
                        duration, fps = info[vid]
                        videos[vid] = VideoAnnotation(vid, duration, [], [], path, fps=fps)
                    videos[vid].segments.append(segment)
                    videos[vid].labels.append(label)
            if errors:
                raise ValueError(f"{len(errors)} problem(s) in the EPIC-Kitchens CSVs:\n{format_problems(errors)}")
            out[split] = list(videos.values())
        return out
