"""QVHighlights moment retrieval and highlight detection: one row per query with its windows, the ids
of the relevant 2-second clips and their saliency scores (three annotators, 0-4).

Source: the release jsonl files (`highlight_{train,val,test}_release.jsonl`) as
`data_files={"train": ..., "val": ...}`. The test release has no annotations: a split whose lines
all lack `relevant_windows` builds with empty `windows`, `relevant_clip_ids` and `saliency_scores`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import datasets

from ..annotations import format_problems
from .base import MomentZooBuilderConfig, QueryAnnotation, TemporalGroundingBuilder
from .charades_sta import query_from_json, read_jsonl

__all__ = ["QVHighlightsConfig", "QVHighlightsBuilder"]

_REQUIRED = ("qid", "query", "duration", "vid")
_LABELS = ("relevant_windows", "relevant_clip_ids", "saliency_scores")


@dataclass
class QVHighlightsConfig(MomentZooBuilderConfig):
    """`clip_length`: seconds per clip (2). Feature geometry defaults to one feature step per clip
    (`fps = 1 / clip_length`, `feature_stride = num_frames = 1`: step i is centred on clip i's middle),
    as the SlowFast+CLIP features of Moment-DETR are."""

    clip_length: float = 2.0
    fps: float | None = 0.5
    feature_stride: int = 1
    num_frames: int = 1

    def validate(self) -> None:
        super().validate()
        if not (isinstance(self.clip_length, (int, float)) and self.clip_length > 0):
            raise ValueError(f"clip_length must be a positive number, got {self.clip_length!r}")


class QVHighlightsBuilder(TemporalGroundingBuilder):
    """QVHighlights: queries over 150-second YouTube clips with windows and per-clip saliency scores."""

    BUILDER_CONFIG_CLASS = QVHighlightsConfig
    BUILDER_CONFIGS = [QVHighlightsConfig(name="default", version=datasets.Version("1.0.0"))]
    DEFAULT_CONFIG_NAME = "default"
    HOMEPAGE = "https://github.com/jayleicn/moment_detr"
    LICENSE = "cc-by-nc-sa-4.0"  # the annotations' license (moment_detr README)
    CITATION = (
        "@inproceedings{lei2021detecting, title={QVHighlights: Detecting Moments and Highlights in Videos via "
        "Natural Language Queries}, author={Lei, Jie and Berg, Tamara L and Bansal, Mohit}, booktitle={NeurIPS}, "
        "year={2021}}"
    )

    def _extra_features(self) -> dict:
        return {
            "relevant_clip_ids": datasets.List(datasets.Value("int32")),
            "saliency_scores": datasets.List(datasets.List(datasets.Value("int32"), length=3)),
        }

    def _check_clips(self, obj: dict, duration: float, errors: list[str], lineno: int) -> tuple[list, list] | None:
        ids, scores = obj["relevant_clip_ids"], obj["saliency_scores"]
        num_clips = math.ceil(duration / self.config.clip_length)
        if not isinstance(ids, list) or not isinstance(scores, list) or len(ids) != len(scores):
            errors.append(f"line {lineno}: relevant_clip_ids and saliency_scores must be lists of equal length")
            return None
        bad_ids = [i for i in ids if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < num_clips]
        if bad_ids:
            errors.append(
                f"line {lineno}: clip id(s) {bad_ids} outside 0..{num_clips - 1} ({duration} s of {self.config.clip_length} s clips)"
            )
            return None
        if not all(
            isinstance(s, list) and len(s) == 3 and all(isinstance(v, int) and 0 <= v <= 4 for v in s) for s in scores
        ):
            errors.append(f"line {lineno}: saliency_scores must be [a, b, c] integers in 0..4 per clip")
            return None
        return ids, scores

    def _read_queries(self) -> dict[str, list[QueryAnnotation]]:
        out = {}
        for split, files in self._split_files().items():
            queries = []
            for path in files:
                lines = read_jsonl(path)
                labelled = [all(k in obj for k in _LABELS) for _, obj in lines]
                if any(labelled) and not all(labelled):
                    partial = [f"line {n}" for (n, _), has in zip(lines, labelled) if not has]
                    raise ValueError(
                        f"{path}: {len(partial)} line(s) lack {list(_LABELS)} while others have them:\n"
                        f"{format_problems(partial)}"
                    )
                errors = []
                for lineno, obj in lines:
                    q = query_from_json(path, lineno, obj, _REQUIRED, errors)
                    if q is None:
                        continue
                    clips = ([], [])
                    if all(labelled):
                        if not isinstance(q.duration, (int, float)):
                            errors.append(f"line {lineno}: duration must be a number")
                            continue
                        clips = self._check_clips(obj, q.duration, errors, lineno)
                        if clips is None:
                            continue
                    q.extra = {"relevant_clip_ids": clips[0], "saliency_scores": clips[1]}
                    queries.append(q)
                if errors:
                    raise ValueError(f"{path}: {len(errors)} problem(s):\n{format_problems(errors)}")
            out[split] = queries
        return out
