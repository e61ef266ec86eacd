"""ActivityNet-1.3 action localization, and the ActivityNet-style JSON that THUMOS14 shares.

The JSON: `{"database": {video_id: {"subset", "duration", "fps"?, "annotations": [{"segment": [s, e],
"label"}]}}, "classes"?: [...], "taxonomy"?: [...]}` with seconds. Class names come from
`class_names` if given, else the file's `classes`, else the leaves of its `taxonomy` (the official
ActivityNet-1.3 file), else the sorted labels found in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import datasets

from ...strict_json import load_json_strict
from .base import MomentZooBuilderConfig, TemporalLocalizationBuilder, VideoAnnotation

__all__ = ["ActivityNetConfig", "ActivityNetBuilder", "read_activitynet_json"]


@dataclass
class ActivityNetConfig(MomentZooBuilderConfig):
    """`annotation_file`: the ActivityNet-style JSON. `splits`: the `subset` values to build, each a
    split of that name. `class_names`: overrides the class list. `ambiguous_label`: a label whose
    segments go to the `ambiguous_segments` column instead of `segments` (THUMOS14's `Ambiguous`).

    ActivityNet defaults follow ActionFormer's TSP features: 16-frame clips every 16 frames; set
    `resize_length` (128 or 192 are common) to resize every video to a fixed number of steps."""

    annotation_file: str | None = None
    splits: tuple[str, ...] = ("training", "validation")
    class_names: tuple[str, ...] | None = None
    ambiguous_label: str | None = None
    feature_stride: int = 16
    num_frames: int = 16

    def validate(self) -> None:
        super().validate()
        if not self.annotation_file:
            raise ValueError("annotation_file is required (the ActivityNet-style JSON)")
        if not Path(self.annotation_file).is_file():
            raise ValueError(f"annotation_file {self.annotation_file!r} is not a file")
        if isinstance(self.splits, str) or not self.splits:
            raise ValueError(f"splits must be a non-empty tuple of subset names, got {self.splits!r}")


def _taxonomy_leaves(taxonomy: list) -> list[str]:
    parents = {node.get("parentName") for node in taxonomy}
    return sorted(node["nodeName"] for node in taxonomy if node.get("nodeName") not in parents)


def read_activitynet_json(
    path: str, splits: tuple[str, ...], ambiguous_label: str | None = None
) -> tuple[dict[str, list[VideoAnnotation]], list[str]]:
    """Parse the JSON into `{split: [VideoAnnotation]}` (splits in the order asked) and the class list
    the file declares (`classes`, taxonomy leaves, or the sorted labels it uses)."""
    source = str(path)
    data = load_json_strict(path)  # a video listed twice is an error naming it, not a silently lost entry
    if not isinstance(data, dict) or not isinstance(data.get("database"), dict):
        raise ValueError(f"{path}: expected a JSON object with a 'database' mapping of video ids")
    out = {split: [] for split in splits}
    errors, subsets, labels_seen = [], set(), set()
    for vid, entry in data["database"].items():
        if not isinstance(entry, dict) or "subset" not in entry:
            errors.append(f"video {vid!r}: missing 'subset'")
            continue
        if not isinstance(entry["subset"], str):
            errors.append(f"video {vid!r}: 'subset' must be a string, got {entry['subset']!r}")
            continue
        subsets.add(entry["subset"])
        if entry["subset"] not in out:
            continue  # a subset not asked for (e.g. ActivityNet 'testing')
        if "duration" not in entry:
            errors.append(f"video {vid!r}: missing 'duration'")
            continue
        segments, labels, ambiguous = [], [], []
        for i, ann in enumerate(entry.get("annotations", [])):
            if not isinstance(ann, dict) or "segment" not in ann or "label" not in ann:
                errors.append(f"video {vid!r}, annotation {i}: needs 'segment' and 'label', got {ann!r}")
                continue
            if not isinstance(ann["label"], (str, int)) or isinstance(ann["label"], bool):
                if not isinstance(ann["label"], float):  # a float is reported as an unknown label by the builder
                    errors.append(
                        f"video {vid!r}, annotation {i}: label must be a class name or id, got {ann['label']!r}"
                    )
                    continue
            if ambiguous_label is not None and ann["label"] == ambiguous_label:
                ambiguous.append(ann["segment"])
                continue
            segments.append(ann["segment"])
            labels.append(ann["label"])
            labels_seen.add(ann["label"])
        fps = entry.get("fps")
        extra = {"ambiguous_segments": ambiguous} if ambiguous_label is not None else {}
        out[entry["subset"]].append(
            VideoAnnotation(vid, entry["duration"], segments, labels, source, fps=fps, extra=extra)
        )
    if errors:
        raise ValueError(f"{path}: {len(errors)} malformed entr(ies):\n" + "\n".join(f"  - {e}" for e in errors[:200]))
    empty = [split for split, records in out.items() if not records]
    if empty:
        raise ValueError(f"{path}: no videos with subset {empty}; subsets in the file: {sorted(subsets)}")
    if isinstance(data.get("classes"), list):
        classes = [str(c) for c in data["classes"]]
    elif isinstance(data.get("taxonomy"), list):
        classes = _taxonomy_leaves(data["taxonomy"])
    else:
        classes = sorted(labels_seen)
    return out, classes


class ActivityNetBuilder(TemporalLocalizationBuilder):
    """ActivityNet-1.3: 200 activity classes in untrimmed YouTube videos, splits `training` and `validation`.

    `ActivityNetBuilder(annotation_file=..., features_dir=..., resize_length=192)` gives rows of the
    momentzoo TAL contract; without `features_dir` rows hold the annotations only (for metrics)."""

    BUILDER_CONFIG_CLASS = ActivityNetConfig
    BUILDER_CONFIGS = [ActivityNetConfig(name="default", version=datasets.Version("1.3.0"))]
    DEFAULT_CONFIG_NAME = "default"
    HOMEPAGE = "http://activity-net.org/"
    LICENSE = "other"  # annotations for research use; the videos are YouTube's
    CITATION = (
        "@inproceedings{caba2015activitynet, title={ActivityNet: A Large-Scale Video Benchmark for Human "
        "Activity Understanding}, author={Caba Heilbron, Fabian and Escorcia, Victor and Ghanem, Bernard and "
        "Niebles, Juan Carlos}, booktitle={CVPR}, year={2015}}"
    )

    @cached_property
    def _parsed(self):
        self.config.validate()
        return read_activitynet_json(
            self.config.annotation_file, tuple(self.config.splits), self.config.ambiguous_label
        )

    def _extra_segment_columns(self) -> tuple[str, ...]:
        return ("ambiguous_segments",) if self.config.ambiguous_label is not None else ()

    def _read_annotations(self):
        return self._parsed[0]

    def _class_names(self) -> list[str]:
        if self.config.class_names is not None:
            return list(self.config.class_names)
        return self._parsed[1]
