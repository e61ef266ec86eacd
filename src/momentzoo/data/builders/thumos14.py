"""THUMOS14 action localization from an ActivityNet-style JSON (20 sports classes).

As in every TAL paper, the 200 `val` videos are the training split and the 213 `test` videos the
evaluation split. Segments labelled `Ambiguous` are not actions of any class: they are kept apart in
`ambiguous_segments` (the official evaluation ignores detections on them) rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from .activitynet import ActivityNetBuilder, ActivityNetConfig

__all__ = ["Thumos14Config", "Thumos14Builder"]


@dataclass
class Thumos14Config(ActivityNetConfig):
    """THUMOS14 defaults: subsets `val` and `test`, `Ambiguous` kept apart, and ActionFormer's I3D
    geometry (16-frame clips every 4 frames; fps from the JSON unless `fps` is given)."""

    splits: tuple[str, ...] = ("val", "test")
    ambiguous_label: str | None = "Ambiguous"
    feature_stride: int = 4
    num_frames: int = 16


class Thumos14Builder(ActivityNetBuilder):
    """THUMOS14: 20 sports classes, densely annotated untrimmed videos; `val` trains, `test` evaluates.

    `Thumos14Builder(annotation_file="thumos14.json", features_dir="i3d_features/", cache_dir=...)`;
    the real annotation file has 30 segments that start after their video's end (e.g.
    `video_test_0000270`): pass `invalid_segments="drop"` to drop them with a warning that lists them."""

    BUILDER_CONFIG_CLASS = Thumos14Config
    BUILDER_CONFIGS = [Thumos14Config(name="default", version=datasets.Version("1.0.0"))]
    DEFAULT_CONFIG_NAME = "default"
    HOMEPAGE = "https://www.crcv.ucf.edu/THUMOS14/"
    CITATION = (
        "@misc{THUMOS14, author={Jiang, Y.-G. and Liu, J. and Roshan Zamir, A. and Toderici, G. and Laptev, I. "
        "and Shah, M. and Sukthankar, R.}, title={{THUMOS} Challenge: Action Recognition with a Large Number of "
        "Classes}, howpublished={\\url{http://crcv.ucf.edu/THUMOS14/}}, year={2014}}"
    )
