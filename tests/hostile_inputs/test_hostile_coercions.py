"""Hostile inputs that used to be coerced into a silently wrong dataset or batch: each is now an error naming the
file, row or field. Builders (ActivityNet JSON, Charades-STA jsonl) and the collators are covered."""

import json
import math
import re

import numpy as np
import pytest
import torch
from data_builder_helpers import build, write_features

from momentzoo.data import TemporalGroundingCollator, TemporalLocalizationCollator
from momentzoo.data.builders import ActivityNetBuilder, CharadesSTABuilder
from momentzoo.data.feature_files import check_feature_array

_OK_VAL = {
    "subset": "validation",
    "duration": 60.0,
    "fps": 30.0,
    "annotations": [{"segment": [1, 2], "label": "Archery"}],
}


def _anet(tmp_path, database, classes=("Archery", "Long jump")):
    path = tmp_path / "anet.json"
    path.write_text(_anet_text({"classes": list(classes), "database": database}))
    return str(path)


def _anet_text(data):
    """ActivityNet JSON with a validation video (both default splits exist); "NaN"/"Infinity" as JSON constants."""
    data["database"] = {**data["database"], "ok_val": _OK_VAL}
    return json.dumps(data).replace('"NaN"', "NaN").replace('"Infinity"', "Infinity")


def _video(segment, label="Archery", duration=60.0, fps=30.0):
    return {
        "subset": "training",
        "duration": duration,
        "fps": fps,
        "annotations": [{"segment": segment, "label": label}],
    }


@pytest.mark.parametrize(
    "segment, shown",
    [
        ("12", "'12'"),  # a string used to become [1.0, 2.0]
        ([True, 5], "[True, 5]"),
        ({"start": 1, "end": 2}, "{'start': 1, 'end': 2}"),
        ([1, 2, 3, 4, 5, 6], "[1, 2, 3, 4, 5, 6]"),  # a flat row of three segments
        (["1", "2"], "['1', '2']"),
    ],
)
def test_builder_segments_that_are_not_two_numbers(tmp_path, segment, shown):
    path = _anet(tmp_path, {"v": _video(segment)})
    with pytest.raises(
        ValueError,
        match=r"(?s)anet.json: 1 invalid segment.*'v', segment 0: expected \[start, end\] "
        r"seconds, got " + re.escape(shown),
    ):
        build(ActivityNetBuilder, tmp_path, annotation_file=path)


@pytest.mark.parametrize("label", [1.7, True, ["Archery"]])
def test_builder_labels_that_are_not_a_class(tmp_path, label):
    path = _anet(tmp_path, {"v": _video([1, 2], label=label)})
    with pytest.raises(
        ValueError, match=r"'v'.*(unknown label|label must be a class name or id, got) " + re.escape(repr(label))
    ):
        build(ActivityNetBuilder, tmp_path, annotation_file=path)


@pytest.mark.parametrize("fps", [0, -30.0, "NaN", "Infinity", "30"])
def test_builder_fps_that_is_not_a_positive_number(tmp_path, fps):
    db = {"v": _video([1, 2], fps=fps)}
    path = tmp_path / "anet.json"
    path.write_text(_anet_text({"classes": ["Archery"], "database": db}))
    write_features(tmp_path / "feats", {"v": 112, "ok_val": 112})
    with pytest.raises(ValueError, match=r"'v'.*fps must be a positive finite number"):
        build(ActivityNetBuilder, tmp_path, annotation_file=str(path), features_dir=str(tmp_path / "feats"))


@pytest.mark.parametrize("duration", ["Infinity", "60"])
def test_builder_duration_that_is_not_a_finite_number(tmp_path, duration):
    path = tmp_path / "anet.json"
    path.write_text(_anet_text({"classes": ["Archery"], "database": {"v": _video([1, 2], duration=duration)}}))
    with pytest.raises(ValueError, match=r"'v'.*duration must be a positive number"):
        build(ActivityNetBuilder, tmp_path, annotation_file=str(path))


def test_complex_features_are_refused():
    with pytest.raises(ValueError, match="f.npy: feature array has non-real dtype complex64"):
        check_feature_array(np.ones((4, 2), dtype=np.complex64), "f.npy")


def test_grounding_vid_null_is_not_the_video_none(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"qid": 1, "query": "x", "duration": 10, "vid": None, "relevant_windows": [[1, 2]]}))
    with pytest.raises(ValueError, match=r"(?s)q.jsonl.*line 1: 'vid' must be a string or an integer, got None"):
        build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)})


# --- collators: rows a user builds by hand ----------------------------------------------------------------------
def _tal_row(**overrides):
    row = {
        "video_id": "v",
        "duration": 10.0,
        "fps": 4.0,
        "feature_stride": 1,
        "num_frames": 1,
        "features": np.ones((40, 3), np.float32),
        "segments": [[1.0, 2.0]],
        "labels": [0],
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    "segments", [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [["1", "2"]], [[True, 5]], "12", [{"start": 1, "end": 2}]]
)
def test_collator_segments_are_pairs_of_numbers(segments):
    labels = [0] * 3 if len(segments) == 6 else [0]
    with pytest.raises(ValueError, match=r"video 'v' \(batch row 0\): 'segments' must be a list of \[start, end\]"):
        TemporalLocalizationCollator()([_tal_row(segments=segments, labels=labels)])


@pytest.mark.parametrize("labels", [[1.7], [True], ["0"]])
def test_collator_labels_are_integers(labels):
    with pytest.raises(ValueError, match=r"video 'v' \(batch row 0\): 'labels' \(label 0: expected an integer"):
        TemporalLocalizationCollator()([_tal_row(labels=labels)])
    assert TemporalLocalizationCollator()([_tal_row(labels=[1.0])])["labels"][0]["class_labels"].tolist() == [1]


def test_collator_complex_features_are_refused():
    with pytest.raises(ValueError, match=r"video 'v' \(batch row 0\): 'features' must be real numbers"):
        TemporalLocalizationCollator()([_tal_row(features=torch.ones(40, 3, dtype=torch.complex64))])
    with pytest.raises(ValueError, match="'features' must be real numbers"):
        TemporalLocalizationCollator()([_tal_row(features=np.ones((40, 3), np.complex64))])


def test_collator_feature_length_must_match_the_geometry():
    with pytest.raises(ValueError, match=r"video 'v' \(batch row 0\): 4 feature steps but duration 10 s"):
        TemporalLocalizationCollator()([_tal_row(features=np.ones((4, 3), np.float32))])


def test_grounding_windows_past_the_video_are_refused():
    row = {
        "qid": "q",
        "duration": 10.0,
        "fps": 4.0,
        "feature_stride": 1,
        "num_frames": 1,
        "features": np.ones((40, 3), np.float32),
        "windows": [[8.0, 25.0]],
        "query": "x",
    }
    with pytest.raises(ValueError, match=r"video 'q' \(batch row 0\): windows\[0\] = \[8.0, 25.0\] lies outside"):
        TemporalGroundingCollator()([row])
    row["windows"] = [[8.0, 10.0]]
    assert TemporalGroundingCollator()([row])["labels"][0]["windows"].shape == (1, 2)
    assert math.isfinite(row["duration"])


def test_builder_feature_length_inconsistent_with_duration(tmp_path):
    from data_builder_helpers import steps

    # 60 s at 30 fps, stride 16 (ActivityNet's default): about 112 steps; 11 are features of a ten times shorter video.
    write_features(tmp_path / "feats", {"v": 11, "ok_val": steps(60.0, 30.0, 16)})
    with pytest.raises(ValueError, match=r"v.npy \(video 'v'\): 11 feature steps but duration 60 s at fps 30 / "):
        build(
            ActivityNetBuilder,
            tmp_path,
            annotation_file=_anet(tmp_path, {"v": _video([1, 2])}),
            features_dir=str(tmp_path / "feats"),
        )
    write_features(tmp_path / "ok", {"v": 105, "ok_val": 112})  # within the tolerance (a quarter plus one clip)
    ds = build(
        ActivityNetBuilder,
        tmp_path / "b",
        annotation_file=_anet(tmp_path, {"v": _video([1, 2])}),
        features_dir=str(tmp_path / "ok"),
    )
    assert len(ds["training"]) == 1
