"""Dataset builders on small fixture files: schemas, split names, values, feature geometry, caching."""

import json
import warnings

import datasets
import numpy as np
import pytest
import torch
from data_builder_helpers import (
    ANET_MINI,
    CHARADES,
    EPIC,
    QVH,
    THUMOS_MINI,
    WEAK_VIDEOS,
    build,
    steps,
    write_features,
    write_weak_layout,
)

from momentzoo.data import MomentZooDataWarning
from momentzoo.data.builders import (
    ActivityNetBuilder,
    CharadesSTABuilder,
    EpicKitchensBuilder,
    QVHighlightsBuilder,
    Thumos14Builder,
    Thumos14WeakBuilder,
)
from momentzoo.data.feature_files import load_feature_file, resize_features
from momentzoo.segments import seconds_to_feature_grid

THUMOS_JSON = json.loads(THUMOS_MINI.read_text())["database"]


def _close(a, b):
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), atol=1e-4)


# --- THUMOS14 ---------------------------------------------------------------------------------------------------
def test_thumos14_annotation_only_rows(tmp_path):
    with pytest.warns(MomentZooDataWarning, match=r"clipped 1 segment\(s\)") as record:
        ds = build(Thumos14Builder, tmp_path, annotation_file=str(THUMOS_MINI))
    assert "video_validation_0000318" in str(record[0].message)
    assert list(ds) == ["val", "test"] and ds["val"].num_rows == 2 and ds["test"].num_rows == 2
    assert ds["val"].column_names == ["video_id", "duration", "segments", "labels", "ambiguous_segments"]
    names = ds["val"].features["labels"].feature.names
    assert len(names) == 20 and names[0] == "BaseballPitch"
    for split in ds:
        for row in ds[split]:
            src = THUMOS_JSON[row["video_id"]]
            actions = [a for a in src["annotations"] if a["label"] != "Ambiguous"]
            ambiguous = [a["segment"] for a in src["annotations"] if a["label"] == "Ambiguous"]
            assert [names[i] for i in row["labels"]] == [a["label"] for a in actions]
            expected = [[s, min(e, src["duration"])] for s, e in (a["segment"] for a in actions)]
            assert _close(row["segments"], expected)
            assert _close(row["ambiguous_segments"], ambiguous) if ambiguous else row["ambiguous_segments"] == []
    test_278 = ds["test"].filter(lambda r: r["video_id"] == "video_test_0000278")[0]
    assert (
        len(test_278["ambiguous_segments"])
        == sum(a["label"] == "Ambiguous" for a in THUMOS_JSON["video_test_0000278"]["annotations"])
        > 0
    )


def test_thumos14_with_features_records_geometry(tmp_path):
    lengths = {vid: steps(v["duration"], 30.0, 4) + i for i, (vid, v) in enumerate(THUMOS_JSON.items())}
    written = write_features(tmp_path / "feats", lengths, dim=6)
    with pytest.warns(MomentZooDataWarning):
        ds = build(Thumos14Builder, tmp_path, annotation_file=str(THUMOS_MINI), features_dir=str(tmp_path / "feats"))
    features = ds["val"].features
    assert features["features"] == datasets.Array2D(shape=(None, 6), dtype="float32")
    row = ds["val"].with_format("torch")[0]
    assert row["features"].shape == (lengths[row["video_id"]], 6) and row["features"].dtype == torch.float32
    assert torch.equal(row["features"], torch.from_numpy(written[row["video_id"]]))
    assert (row["fps"].item(), row["feature_stride"].item(), row["num_frames"].item()) == (30.0, 4, 16)
    # fps can be overridden for every video
    with pytest.warns(MomentZooDataWarning):
        ds = build(
            Thumos14Builder,
            tmp_path / "b",
            annotation_file=str(THUMOS_MINI),
            features_dir=str(tmp_path / "feats"),
            fps=15.0,
            feature_stride=2,
            num_frames=8,
        )  # the same steps per second as 30 / 4
    assert set(ds["test"]["fps"]) == {15.0} and set(ds["test"]["feature_stride"]) == {2}


@pytest.mark.parametrize("ext", [".npy", ".npz", ".pt"])
def test_feature_file_formats(tmp_path, ext):
    written = write_features(tmp_path, {"v": 7}, dim=3, ext=ext)
    assert np.array_equal(load_feature_file(tmp_path / f"v{ext}"), written["v"])


def test_pt_dict_with_feats_key(tmp_path):
    x = torch.randn(4, 2)
    torch.save({"feats": x}, tmp_path / "v.pt")
    assert np.allclose(load_feature_file(tmp_path / "v.pt"), x.numpy())


# --- ActivityNet ------------------------------------------------------------------------------------------------
def test_activitynet_taxonomy_classes_and_subsets(tmp_path):
    with pytest.warns(MomentZooDataWarning, match=r"(?s)clipped 1 segment.*vid_c"):
        ds = build(ActivityNetBuilder, tmp_path, annotation_file=str(ANET_MINI))
    assert list(ds) == ["training", "validation"]  # 'testing' not asked for
    assert ds["training"].features["labels"].feature.names == ["Archery", "Cleaning windows", "Long jump"]
    a = ds["training"].filter(lambda r: r["video_id"] == "vid_a")[0]
    assert a["labels"] == [0, 2] and _close(a["segments"], [[3.5, 20.0], [30.0, 41.25]])
    assert "ambiguous_segments" not in ds["training"].column_names
    assert _close(ds["validation"][0]["segments"], [[0.0, 45.0], [50.0, 90.0]])


def test_activitynet_needs_fps_for_features_unless_resized(tmp_path):
    write_features(tmp_path / "f", {"vid_a": 10, "vid_b": 12, "vid_c": 9}, dim=4, prefix="v_")
    with pytest.raises(ValueError, match=r"(?s)no fps.*vid_a"):
        build(
            ActivityNetBuilder,
            tmp_path,
            annotation_file=str(ANET_MINI),
            features_dir=str(tmp_path / "f"),
            feature_prefix="v_",
        )


def test_activitynet_resize_geometry_maps_seconds_like_actionformer(tmp_path):
    written = write_features(tmp_path / "f", {"vid_a": 10, "vid_b": 12, "vid_c": 9}, dim=4, prefix="v_")
    with pytest.warns(MomentZooDataWarning):
        ds = build(
            ActivityNetBuilder,
            tmp_path,
            annotation_file=str(ANET_MINI),
            features_dir=str(tmp_path / "f"),
            feature_prefix="v_",
            fps=15.0,
            resize_length=16,
        )
    row = ds["training"].with_format("numpy").filter(lambda r: r["video_id"] == "vid_a")[0]
    assert row["features"].shape == (16, 4) and (row["feature_stride"], row["num_frames"]) == (1, 1)
    # ActionFormer (force_upsampling): stride' = ((T-1)*stride + num_frames) / L, num_frames' = stride',
    # t -> (t * fps - 0.5 * stride') / stride'
    stride_af = ((10 - 1) * 16 + 16) / 16
    t = torch.tensor([0.0, 3.5, 20.0, 41.25])
    ours = seconds_to_feature_grid(t, float(row["fps"]), int(row["feature_stride"]), int(row["num_frames"]))
    assert torch.allclose(ours, (t * 15.0 - 0.5 * stride_af) / stride_af, atol=1e-4)
    assert np.allclose(row["features"], resize_features(written["vid_a"], 16), atol=1e-6)
    # without a known fps, resized features are taken to span the whole video
    with pytest.warns(MomentZooDataWarning):
        ds = build(
            ActivityNetBuilder,
            tmp_path / "b",
            annotation_file=str(ANET_MINI),
            features_dir=str(tmp_path / "f"),
            feature_prefix="v_",
            resize_length=16,
        )
    row = ds["training"].filter(lambda r: r["video_id"] == "vid_b")[0]
    assert row["fps"] == pytest.approx(16 / 120.0)


def test_resize_features_is_linear_interpolation():
    ramp = np.stack([np.arange(5, dtype=np.float32), 10 * np.arange(5, dtype=np.float32)], axis=1)
    out = resize_features(ramp, 8)
    # align_corners=False: output step j samples input position (j + 0.5) * 5 / 8 - 0.5, clamped to [0, 4]
    pos = np.clip((np.arange(8) + 0.5) * 5 / 8 - 0.5, 0, 4)
    assert np.allclose(out[:, 0], pos, atol=1e-6) and np.allclose(out[:, 1], 10 * pos, atol=1e-5)


# --- EPIC-Kitchens-100 ------------------------------------------------------------------------------------------
def _epic_kwargs(tmp_path, task):
    n = 97 if task == "verb" else 300
    classes = tmp_path / f"{task}_classes.csv"
    classes.write_text("id,key,instances,category\n" + "".join(f"{i},{task}{i},[],c\n" for i in range(n)))
    return dict(
        config_name=task,
        data_files={
            "train": str(EPIC / "EPIC_100_train_mini.csv"),
            "validation": str(EPIC / "EPIC_100_validation_mini.csv"),
        },
        video_info_file=str(EPIC / "EPIC_100_video_info_mini.csv"),
        classes_file=str(classes),
    )


@pytest.mark.parametrize("task,labels,num", [("verb", [3, 6, 4], 97), ("noun", [3, 114, 3], 300)])
def test_epic_kitchens_verb_and_noun(tmp_path, task, labels, num):
    ds = build(EpicKitchensBuilder, tmp_path, **_epic_kwargs(tmp_path, task))
    assert list(ds) == ["train", "validation"] and ds["train"].num_rows == 2
    names = ds["train"].features["labels"].feature.names
    assert len(names) == num and names[labels[1]] == f"{task}{labels[1]}"
    row = ds["train"][0]
    assert row["video_id"] == "P01_01" and row["labels"] == labels
    assert _close(row["segments"], [[0.14, 3.37], [4.37, 6.17], [62.5, 65.0]])
    assert row["duration"] == pytest.approx(329.48)


def test_epic_kitchens_needs_a_task_and_names_classes_by_id_without_file(tmp_path):
    kwargs = _epic_kwargs(tmp_path, "verb")
    with pytest.raises(ValueError, match="config_name='verb' or config_name='noun'"):
        EpicKitchensBuilder(cache_dir=str(tmp_path), **{k: v for k, v in kwargs.items() if k != "config_name"})
    kwargs.pop("classes_file")
    write_features(
        tmp_path / "f",
        {"P01_01": steps(329.48, 59.94, 16), "P01_02": steps(47.0, 59.94, 16), "P02_09": steps(61.2, 50.0, 16)},
        dim=4,
        ext=".npz",
    )
    ds = build(EpicKitchensBuilder, tmp_path, features_dir=str(tmp_path / "f"), **kwargs)
    assert ds["train"].features["labels"].feature.names[:3] == ["0", "1", "2"]
    row = ds["validation"][0]
    assert (row["fps"], row["feature_stride"], row["num_frames"]) == (50.0, 16, 32)


# --- Charades-STA -----------------------------------------------------------------------------------------------
def test_charades_sta_jsonl_and_txt_agree(tmp_path):
    files = {
        "train": str(CHARADES / "charades_sta_train_mini.jsonl"),
        "test": str(CHARADES / "charades_sta_test_mini.jsonl"),
    }
    js = build(CharadesSTABuilder, tmp_path / "a", data_files=files)
    txt = build(
        CharadesSTABuilder,
        tmp_path / "b",
        config_name="txt",
        data_files={k: v.replace(".jsonl", ".txt") for k, v in files.items()},
        durations_file=str(CHARADES / "Charades_v1_mini.csv"),
    )
    assert js["test"].column_names == ["qid", "video_id", "duration", "query", "windows"]
    assert (js["train"].num_rows, js["test"].num_rows) == (4, 8)
    for split in js:
        for a, b in zip(js[split], txt[split]):
            assert (a["video_id"], a["query"]) == (b["video_id"], b["query"])
            assert a["duration"] == pytest.approx(b["duration"]) and _close(a["windows"], b["windows"])
    assert js["test"][0]["qid"] == "14068" and txt["test"]["qid"][:3] == ["0", "1", "2"]


def test_charades_sta_with_videos_and_features(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid in ("OHOFG", "3MSZA"):
        (videos / f"charades_{vid}.mp4").write_bytes(b"not decoded here")
    write_features(tmp_path / "f", {"OHOFG": steps(35.04, 24.0, 4), "3MSZA": steps(30.96, 24.0, 4)}, dim=5)
    ds = build(
        CharadesSTABuilder,
        tmp_path,
        data_files={"test": str(CHARADES / "charades_sta_test_mini.jsonl")},
        videos_dir=str(videos),
        video_prefix="charades_",
        features_dir=str(tmp_path / "f"),
        fps=24.0,
    )
    row = ds["test"][0]
    assert row["video"]["path"].endswith("charades_OHOFG.mp4") and row["fps"] == 24.0
    assert np.asarray(row["features"]).shape == (steps(35.04, 24.0, 4), 5)
    assert ds["test"].features["video"] == datasets.Video(decode=False)


def test_grounding_features_need_fps(tmp_path):
    write_features(tmp_path / "f", {"OHOFG": 9, "3MSZA": 4}, dim=5)
    with pytest.raises(ValueError, match="pass fps="):
        build(
            CharadesSTABuilder,
            tmp_path,
            data_files={"test": str(CHARADES / "charades_sta_test_mini.jsonl")},
            features_dir=str(tmp_path / "f"),
        )


# --- QVHighlights -----------------------------------------------------------------------------------------------
def test_qvhighlights_labelled_and_unlabelled_splits(tmp_path):
    ds = build(
        QVHighlightsBuilder,
        tmp_path,
        data_files={"val": str(QVH / "highlight_val_mini.jsonl"), "test": str(QVH / "highlight_test_mini.jsonl")},
    )
    src = [json.loads(line) for line in (QVH / "highlight_val_mini.jsonl").read_text().splitlines()]
    for row, obj in zip(ds["val"], src):
        assert row["qid"] == str(obj["qid"]) and row["relevant_clip_ids"] == obj["relevant_clip_ids"]
        assert row["saliency_scores"] == obj["saliency_scores"] and _close(row["windows"], obj["relevant_windows"])
    assert ds["test"].num_rows == 3 and ds["test"][0]["windows"] == [] and ds["test"][0]["saliency_scores"] == []


def test_qvhighlights_default_geometry_is_one_step_per_clip(tmp_path):
    src = [json.loads(line) for line in (QVH / "highlight_val_mini.jsonl").read_text().splitlines()]
    write_features(tmp_path / "f", {o["vid"]: 75 for o in src}, dim=4)
    ds = build(
        QVHighlightsBuilder,
        tmp_path,
        data_files={"val": str(QVH / "highlight_val_mini.jsonl")},
        features_dir=str(tmp_path / "f"),
    )
    row = ds["val"][0]
    # clip i covers [2i, 2i+2] s: its middle maps to step i exactly
    steps = seconds_to_feature_grid(torch.tensor([1.0, 83.0]), row["fps"], row["feature_stride"], row["num_frames"])
    assert torch.allclose(steps, torch.tensor([0.0, 41.0]))


# --- THUMOS14, weak supervision ---------------------------------------------------------------------------------
def test_thumos14_weak_layout(tmp_path):
    layout = write_weak_layout(tmp_path / "layout")
    with pytest.warns(MomentZooDataWarning, match="clipped 1"):
        ds = build(Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout))
    assert list(ds) == ["val", "test"] and (ds["val"].num_rows, ds["test"].num_rows) == (2, 1)
    names = ds["val"].features["video_labels"].feature.names
    assert names == ["Diving", "HighJump", "LongJump"]
    v2 = ds["val"][1]
    assert [names[i] for i in v2["video_labels"]] == ["HighJump", "LongJump"]  # labels_all, not the segment labels
    assert [names[i] for i in v2["labels"]] == ["HighJump"]
    t = ds["test"][0]
    assert _close(t["segments"], [[0.5, 3.0], [20.0, 50.0]]) and _close(t["ambiguous_segments"], [[30.0, 31.5]])
    assert ds["val"][0]["ambiguous_segments"] == []


def test_thumos14_weak_features_file_and_geometry(tmp_path):
    layout = write_weak_layout(tmp_path / "layout")
    feats = [np.full((steps(v[1], 25.0, 16) + i, 4), i, dtype=np.float32) for i, v in enumerate(WEAK_VIDEOS.values())]
    combined = np.empty(len(feats), dtype=object)
    for i, f in enumerate(feats):
        combined[i] = f
    np.save(tmp_path / "features.npy", combined, allow_pickle=True)
    with pytest.warns(MomentZooDataWarning):
        ds = build(
            Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout), features_file=str(tmp_path / "features.npy")
        )
    row = ds["test"].with_format("numpy")[0]
    assert np.array_equal(row["features"], feats[2])
    assert (row["fps"], row["feature_stride"], row["num_frames"]) == (25.0, 16, 16)


# --- caching ----------------------------------------------------------------------------------------------------
def test_edited_annotation_file_is_rebuilt_not_served_stale(tmp_path):
    path = tmp_path / "train.jsonl"
    line = {
        "qid": 1,
        "query": "a person opens a door.",
        "duration": 10.0,
        "vid": "AAAAA",
        "relevant_windows": [[1.0, 2.0]],
    }
    path.write_text(json.dumps(line) + "\n")
    first = build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)})
    assert _close(first["train"][0]["windows"], [[1.0, 2.0]])
    line["relevant_windows"] = [[3.0, 4.0]]
    path.write_text(json.dumps(line) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        second = build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)})
    assert _close(second["train"][0]["windows"], [[3.0, 4.0]])
