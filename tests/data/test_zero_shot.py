"""The shipped zero-shot class splits and `apply_zero_shot_split`."""

import json
import logging
from pathlib import Path

import datasets
import pytest
from data_builder_helpers import THUMOS_MINI, build, write_weak_layout

from momentzoo.data import MomentZooDataWarning, Thumos14WeakBuilder, apply_zero_shot_split, load_zero_shot_classes
from momentzoo.data.zero_shot import NUM_ZERO_SHOT_SPLITS

THUMOS_CLASSES = json.loads(THUMOS_MINI.read_text())["classes"]


@pytest.mark.parametrize("benchmark,total", [("THUMOS14", 20), ("ActivityNet", 200)])
@pytest.mark.parametrize("ratio,seen_share", [("75_25", 0.75), ("50_50", 0.5)])
def test_shipped_splits_partition_the_classes(benchmark, total, ratio, seen_share):
    unions = set()
    unseen_sets = set()
    for k in range(NUM_ZERO_SHOT_SPLITS):
        split = load_zero_shot_classes(benchmark, ratio, k)
        seen, unseen = split["seen"], split["unseen"]
        assert len(seen) == total * seen_share and len(unseen) == total - len(seen)
        assert not set(seen) & set(unseen) and len(set(seen)) == len(seen)
        unions.add(frozenset(seen + unseen))
        unseen_sets.add(frozenset(unseen))
    assert len(unions) == 1 and len(next(iter(unions))) == total  # the same classes in every split
    assert len(unseen_sets) == NUM_ZERO_SHOT_SPLITS  # ten different random splits
    if benchmark == "THUMOS14":
        assert next(iter(unions)) == set(THUMOS_CLASSES)


def test_assets_are_declared_as_package_data():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parents[2] / "setup.cfg")
    assert "data/assets/**/*" in cfg["options.package_data"]["momentzoo"].split()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="benchmark must be one of"):
        load_zero_shot_classes("Kinetics")
    with pytest.raises(ValueError, match="split_ratio must be one of"):
        load_zero_shot_classes("THUMOS14", "80_20")
    with pytest.raises(ValueError, match="index must be an int in 0..9"):
        load_zero_shot_classes("THUMOS14", "75_25", 10)


@pytest.fixture
def thumos_mini(tmp_path):
    from momentzoo.data import Thumos14Builder

    with pytest.warns(MomentZooDataWarning):
        return build(Thumos14Builder, tmp_path, annotation_file=str(THUMOS_MINI))


@pytest.mark.parametrize("part", ["seen", "unseen"])
def test_filter_keeps_exactly_the_part_classes_and_remaps_ids(thumos_mini, part, caplog):
    k = 0
    classes = load_zero_shot_classes("THUMOS14", "75_25", k)[part]
    with caplog.at_level(logging.WARNING, logger="momentzoo.data.zero_shot"):
        out = apply_zero_shot_split(thumos_mini, "THUMOS14", "75_25", k, part=part)
    assert out["val"].features["labels"].feature.names == classes
    old_names = thumos_mini["val"].features["labels"].feature.names
    for split in thumos_mini:
        kept_rows = {r["video_id"]: r for r in out[split]}
        expected_dropped_videos = 0
        for row in thumos_mini[split]:
            expected = [
                (seg, old_names[lab]) for seg, lab in zip(row["segments"], row["labels"]) if old_names[lab] in classes
            ]
            if not expected:
                assert row["video_id"] not in kept_rows
                expected_dropped_videos += 1
                continue
            new = kept_rows[row["video_id"]]
            assert [(seg, classes[lab]) for seg, lab in zip(new["segments"], new["labels"])] == expected
            assert new["ambiguous_segments"] == row["ambiguous_segments"] and new["duration"] == row["duration"]
        assert out[split].column_names == thumos_mini[split].column_names
        assert f"{expected_dropped_videos} video(s) left with no {part}-class segment" in caplog.text


def test_drop_empty_false_keeps_every_video(thumos_mini):
    out = apply_zero_shot_split(thumos_mini["test"], "THUMOS14", "50_50", 3, part="unseen", drop_empty=False)
    assert out.num_rows == thumos_mini["test"].num_rows
    assert isinstance(out, datasets.Dataset)


def test_class_name_mismatch_is_an_error_naming_the_names(thumos_mini):
    names = list(thumos_mini["val"].features["labels"].feature.names)
    names[names.index("Diving")] = "diving"
    features = thumos_mini["val"].features.copy()
    features["labels"] = datasets.List(datasets.ClassLabel(names=names))
    renamed = thumos_mini["val"].cast(features)
    with pytest.raises(
        ValueError, match=r"but not the dataset: \['Diving'\]; in the dataset but not the split lists: \['diving'\]"
    ):
        apply_zero_shot_split(renamed, "THUMOS14", "75_25", 0)
    with pytest.raises(ValueError, match="in the split lists but not the dataset"):
        apply_zero_shot_split(thumos_mini, "ActivityNet", "75_25", 0)


def test_video_level_labels_follow(tmp_path):
    # A weak-supervision dataset over THUMOS's 20 classes: video_labels are filtered and remapped too.
    videos = {
        "video_validation_0000001": (b"validation", 40.0, [[1.0, 5.0]], ["Diving"], ["Diving", "HighJump"]),
        "video_test_0000001": (b"test", 50.0, [[0.5, 3.0]], ["LongJump"], ["LongJump"]),
    }
    layout = write_weak_layout(tmp_path / "layout", videos, classes=[c.encode() for c in THUMOS_CLASSES])
    (layout / "Ambiguous_test.txt").write_text("")
    ds = build(Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout))
    split = next(
        k
        for k in range(10)
        if {"Diving"} <= set(load_zero_shot_classes("THUMOS14", "50_50", k)["seen"])
        and "HighJump" not in load_zero_shot_classes("THUMOS14", "50_50", k)["seen"]
    )
    seen = load_zero_shot_classes("THUMOS14", "50_50", split)["seen"]
    out = apply_zero_shot_split(ds["val"], "THUMOS14", "50_50", split, part="seen")
    assert out.features["video_labels"].feature.names == seen
    assert [seen[i] for i in out[0]["video_labels"]] == ["Diving"]
