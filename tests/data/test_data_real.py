"""Builders on the real annotation files in ../shared/data (skipped when absent)."""

import collections
import json
import logging

import pytest

from momentzoo.data import (
    CharadesSTABuilder,
    MomentZooDataWarning,
    QVHighlightsBuilder,
    Thumos14Builder,
    Thumos14WeakBuilder,
    apply_zero_shot_split,
    load_zero_shot_classes,
)

pytestmark = pytest.mark.real_data

# Segments per class in thumos14_annotations.json once the 30 segments that start after their video's
# end are dropped (val: 2 SoccerPenalty, 2 HighJump; test: 22 HammerThrow, 3 ThrowDiscus, 1 Diving).
THUMOS_COUNTS = {
    "val": {
        "BaseballPitch": 30,
        "BasketballDunk": 303,
        "Billiards": 81,
        "CleanAndJerk": 42,
        "CliffDiving": 143,
        "CricketBowling": 178,
        "CricketShot": 181,
        "Diving": 499,
        "FrisbeeCatch": 103,
        "GolfSwing": 31,
        "HammerThrow": 199,
        "HighJump": 269,
        "JavelinThrow": 192,
        "LongJump": 163,
        "PoleVault": 120,
        "Shotput": 70,
        "SoccerPenalty": 64,
        "TennisSwing": 69,
        "ThrowDiscus": 120,
        "VolleyballSpiking": 146,
    },
    "test": {
        "BaseballPitch": 41,
        "BasketballDunk": 488,
        "Billiards": 106,
        "CleanAndJerk": 98,
        "CliffDiving": 217,
        "CricketBowling": 138,
        "CricketShot": 170,
        "Diving": 387,
        "FrisbeeCatch": 48,
        "GolfSwing": 36,
        "HammerThrow": 220,
        "HighJump": 135,
        "JavelinThrow": 169,
        "LongJump": 142,
        "PoleVault": 399,
        "Shotput": 144,
        "SoccerPenalty": 48,
        "TennisSwing": 141,
        "ThrowDiscus": 85,
        "VolleyballSpiking": 120,
    },
}


@pytest.fixture(scope="module")
def root(real_data):
    return real_data


@pytest.fixture(scope="module")
def thumos(root, tmp_path_factory):
    cache = tmp_path_factory.mktemp("thumos")
    with pytest.warns(MomentZooDataWarning) as record:
        builder = Thumos14Builder(
            annotation_file=str(root / "thumos14/thumos14_annotations.json"),
            invalid_segments="drop",
            cache_dir=str(cache),
        )
        builder.download_and_prepare()
    messages = [str(w.message) for w in record]
    assert any("dropped 30 segment(s)" in m and "video_test_0000270" in m for m in messages)
    assert any("clipped 1 segment(s)" in m and "video_validation_0000318" in m for m in messages)
    return builder.as_dataset()


def test_thumos14_json_split_sizes_and_class_counts(thumos):
    assert (thumos["val"].num_rows, thumos["test"].num_rows) == (200, 213)
    names = thumos["val"].features["labels"].feature.names
    for split, expected in THUMOS_COUNTS.items():
        counts = collections.Counter(names[i] for labels in thumos[split]["labels"] for i in labels)
        assert dict(counts) == expected, split
    assert sum(len(a) for a in thumos["val"]["ambiguous_segments"]) == 89
    assert sum(len(a) for a in thumos["test"]["ambiguous_segments"]) == 99


def test_thumos14_json_by_default_refuses_segments_after_the_end(root, tmp_path):
    with pytest.raises(
        ValueError, match=r"(?s)thumos14_annotations.json: 30 invalid segment.*video_validation_0000856"
    ):
        Thumos14Builder(
            annotation_file=str(root / "thumos14/thumos14_annotations.json"), cache_dir=str(tmp_path)
        ).download_and_prepare()


def test_charades_sta_jsonl_and_the_real_video(root, tmp_path):
    files = {
        "train": str(root / "charades_sta/charades_sta_train.jsonl"),
        "test": str(root / "charades_sta/charades_sta_test.jsonl"),
    }
    builder = CharadesSTABuilder(data_files=files, cache_dir=str(tmp_path / "a"))
    builder.download_and_prepare()
    ds = builder.as_dataset()
    assert (ds["train"].num_rows, ds["test"].num_rows) == (12404, 3720)
    with pytest.warns(MomentZooDataWarning, match=r"left out 1333 video\(s\) with no video file"):
        builder = CharadesSTABuilder(
            data_files={"test": files["test"]},
            videos_dir=str(root / "videos"),
            video_prefix="charades_",
            skip_missing=True,
            cache_dir=str(tmp_path / "b"),
        )
        builder.download_and_prepare()
    with_video = builder.as_dataset()["test"]
    assert with_video["qid"] == [str(q) for q in range(14068, 14074)]
    assert {v["path"] for v in with_video["video"]} == {str(root / "videos/charades_OHOFG.mp4")}
    assert with_video[0]["duration"] == pytest.approx(35.04, abs=1e-4)


def test_qvhighlights_val(root, tmp_path):
    builder = QVHighlightsBuilder(
        data_files={"val": str(root / "qvhighlights/highlight_val_release.jsonl")}, cache_dir=str(tmp_path)
    )
    builder.download_and_prepare()
    val = builder.as_dataset()["val"]
    assert val.num_rows == 1550
    first = json.loads((root / "qvhighlights/highlight_val_release.jsonl").read_text().splitlines()[0])
    assert (
        val[0]["relevant_clip_ids"] == first["relevant_clip_ids"]
        and val[0]["saliency_scores"] == first["saliency_scores"]
    )


def test_weak_layout_agrees_with_the_json(root, thumos, tmp_path):
    with pytest.warns(MomentZooDataWarning):
        builder = Thumos14WeakBuilder(
            annotation_dir=str(root / "thumos14_reduced"), invalid_segments="drop", cache_dir=str(tmp_path)
        )
        builder.download_and_prepare()
    weak = builder.as_dataset()
    assert (weak["val"].num_rows, weak["test"].num_rows) == (200, 212)
    assert weak["val"].features["labels"] == thumos["val"].features["labels"]
    shared = 0
    for split in ("val", "test"):
        reference = {r["video_id"]: r for r in thumos[split]}
        for row in weak[split]:
            ref = reference[row["video_id"]]
            # The two files' durations differ by up to ~0.2 s, so a segment may be clipped in one only.
            end = min(row["duration"], ref["duration"])

            def key(r, end=end):
                return sorted(
                    (round(s, 3), round(min(e, end), 3), lab) for (s, e), lab in zip(r["segments"], r["labels"])
                )

            assert key(row) == key(ref), row["video_id"]
            assert (
                sorted(map(tuple, row["ambiguous_segments"])) == sorted(map(tuple, ref["ambiguous_segments"]))
                or split == "val"
            )
            assert abs(row["duration"] - ref["duration"]) < 0.5
            shared += 1
    assert shared == 412  # every weak video is in the JSON (which also has video_test_0001292: ambiguous only)


@pytest.mark.parametrize("ratio", ["75_25", "50_50"])
def test_zero_shot_filter_on_the_real_split_lists(thumos, ratio, caplog):
    names = thumos["val"].features["labels"].feature.names
    segments = {
        split: {
            (r["video_id"], tuple(s), names[lab]) for r in thumos[split] for s, lab in zip(r["segments"], r["labels"])
        }
        for split in thumos
    }
    for k in range(10):
        for part in ("seen", "unseen"):
            classes = load_zero_shot_classes("THUMOS14", ratio, k)[part]
            with caplog.at_level(logging.WARNING):
                out = apply_zero_shot_split(thumos, "THUMOS14", ratio, k, part=part)
            for split in thumos:
                got = {
                    (r["video_id"], tuple(s), classes[lab])
                    for r in out[split]
                    for s, lab in zip(r["segments"], r["labels"])
                }
                assert got == {x for x in segments[split] if x[2] in classes}  # none lost, none of a dropped class
