"""dataset_scripts/*.py: raw files -> Parquet folder + card that `datasets.load_dataset(folder)` restores,
and `--push_to_hub` against the local Hub server."""

import importlib.util
import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import yaml
from data_builder_helpers import ANET_MINI, CHARADES, EPIC, QVH, THUMOS_MINI, steps, write_features, write_weak_layout

from momentzoo.data import MomentZooDataWarning, save_dataset_folder

SCRIPTS = Path(__file__).resolve().parents[2] / "dataset_scripts"


def _script(name):
    spec = importlib.util.spec_from_file_location(f"dataset_script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name, argv, tmp_path, expect_warning=False):
    out = tmp_path / "out"
    argv = [str(out) if a == "OUT" else a for a in argv] + ["--cache_dir", str(tmp_path / "cache")]
    if expect_warning:
        with pytest.warns(MomentZooDataWarning):
            built = _script(name).main(argv)
    else:
        built = _script(name).main(argv)
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "load_cache"))
    assert list(loaded) == list(built)
    for split in built:
        assert loaded[split].features == built[split].features, split
        # video paths become embedded bytes: compared in their own test
        columns = [c for c in built[split].column_names if c != "video"]
        assert loaded[split].select_columns(columns).to_list() == built[split].select_columns(columns).to_list(), split
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in meta["configs"]] == ["default"]
    # what the Hub shows and filters by
    assert meta["license"] and meta["language"] == ["en"]
    task = "temporal-video-grounding" if "windows" in built[split].features else "temporal-action-localization"
    assert meta["task_categories"] and task in meta["tags"]
    for column in ("duration", "segments", "windows"):  # seconds in float64
        if column in built[split].features:
            assert "float64" in repr(loaded[split].features[column]), column
    return out, loaded, card


def _names(features):
    return features["labels"].feature.names


def test_thumos14_script(tmp_path):
    durations = {v: e["duration"] for v, e in json.loads(THUMOS_MINI.read_text())["database"].items()}
    write_features(tmp_path / "f", {v: steps(d, 30.0, 4) for v, d in durations.items()}, dim=3)
    out, loaded, card = _run(
        "thumos14", [str(THUMOS_MINI), "OUT", "--features_dir", str(tmp_path / "f")], tmp_path, True
    )
    assert list(loaded) == ["val", "test"] and len(_names(loaded["val"].features)) == 20
    assert loaded["val"].features["features"] == datasets.Array2D(shape=(None, 3), dtype="float32")
    assert "| val | 2 |" in card and "--features_dir" in card  # the command that built it
    assert sorted(p.name for p in (out / "data").iterdir()) == [
        "test-00000-of-00001.parquet",
        "val-00000-of-00001.parquet",
    ]


def test_activitynet_script(tmp_path):
    write_features(tmp_path / "f", {"vid_a": 10, "vid_b": 12, "vid_c": 9}, dim=4, prefix="v_")
    _, loaded, _ = _run(
        "activitynet",
        [
            str(ANET_MINI),
            "OUT",
            "--features_dir",
            str(tmp_path / "f"),
            "--feature_prefix",
            "v_",
            "--resize_length",
            "8",
        ],
        tmp_path,
        True,
    )
    assert np.asarray(loaded["training"][0]["features"]).shape == (8, 4)


def test_epic_kitchens_script(tmp_path):
    _, loaded, _ = _run(
        "epic_kitchens",
        [
            "noun",
            "OUT",
            "--train",
            str(EPIC / "EPIC_100_train_mini.csv"),
            "--video_info",
            str(EPIC / "EPIC_100_video_info_mini.csv"),
        ],
        tmp_path,
    )
    assert list(loaded) == ["train"] and loaded["train"][0]["labels"] == [3, 114, 3]
    assert len(_names(loaded["train"].features)) == 300


@pytest.mark.parametrize("fmt", ["jsonl", "txt"])
def test_charades_sta_script(tmp_path, fmt):
    argv = [
        "OUT",
        "--train",
        str(CHARADES / f"charades_sta_train_mini.{fmt}"),
        "--test",
        str(CHARADES / f"charades_sta_test_mini.{fmt}"),
    ]
    if fmt == "txt":
        argv += ["--durations", str(CHARADES / "Charades_v1_mini.csv")]
    _, loaded, _ = _run("charades_sta", argv, tmp_path)
    assert (loaded["train"].num_rows, loaded["test"].num_rows) == (4, 8)


def test_charades_sta_script_embeds_videos(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    content = {vid: np.random.default_rng(i).bytes(2**20) for i, vid in enumerate(("OHOFG", "3MSZA"))}
    for vid, data in content.items():
        (videos / f"{vid}.mp4").write_bytes(data)
    out, loaded, card = _run(
        "charades_sta",
        ["OUT", "--test", str(CHARADES / "charades_sta_test_mini.jsonl"), "--videos_dir", str(videos)],
        tmp_path,
    )
    test = loaded["test"]
    assert test.features["video"] == datasets.Video(decode=False)
    assert all(row["video"]["bytes"] == content[row["video_id"]] for row in test)
    # 8 queries of 2 videos: each 1 MiB video is stored once in the Parquet file, not once per query
    assert test.num_rows == 8
    assert (out / "data" / "test-00000-of-00001.parquet").stat().st_size < 2.1 * 2**20
    assert "license: other" in card


def test_qvhighlights_script(tmp_path):
    _, loaded, card = _run(
        "qvhighlights",
        ["OUT", "--val", str(QVH / "highlight_val_mini.jsonl"), "--test", str(QVH / "highlight_test_mini.jsonl")],
        tmp_path,
    )
    assert loaded["val"].features["saliency_scores"] == datasets.List(datasets.List(datasets.Value("int32"), length=3))
    assert "license: cc-by-nc-sa-4.0" in card


def test_thumos14_weak_script(tmp_path):
    layout = write_weak_layout(tmp_path / "layout")
    _, loaded, _ = _run("thumos14_weak", [str(layout), "OUT"], tmp_path, True)
    assert loaded["val"].features["video_labels"] == loaded["val"].features["labels"]


def test_save_refuses_to_overwrite_and_cleans_up(tmp_path):
    ds = datasets.Dataset.from_dict({"x": [1, 2]})
    save_dataset_folder(ds, tmp_path / "out", pretty_name="x")
    with pytest.raises(ValueError, match="exists and is not empty"):
        save_dataset_folder(ds, tmp_path / "out", pretty_name="x")
    save_dataset_folder(datasets.Dataset.from_dict({"x": [3]}), tmp_path / "out", pretty_name="x", overwrite=True)
    assert datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "c"))["train"]["x"] == [3]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-")] == []
    bad = datasets.DatasetDict({"a": ds, "b": datasets.Dataset.from_dict({"y": [1]})})
    with pytest.raises(ValueError, match="split 'b' has features"):
        save_dataset_folder(bad, tmp_path / "out2", pretty_name="x")


def test_push_to_hub_uploads_the_folder(tmp_path, monkeypatch):
    import huggingface_hub
    from hub_server import TOKEN, HubServer

    with HubServer() as hub:
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
        monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        out = tmp_path / "out"
        _script("qvhighlights").main(
            [
                "--val",
                str(QVH / "highlight_val_mini.jsonl"),
                str(out),
                "--cache_dir",
                str(tmp_path / "cache"),
                "--push_to_hub",
                "tester/qvh-mini",
            ]
        )
        assert hub.read_file("dataset", "tester/qvh-mini", "README.md") == (out / "README.md").read_bytes()
        parquet = "data/val-00000-of-00001.parquet"
        assert hub.read_file("dataset", "tester/qvh-mini", parquet) == (out / parquet).read_bytes()
