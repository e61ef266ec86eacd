"""Bad input to the dataset builders: every problem is an error naming file and video (all at once), or
a counted warning; nothing is dropped silently."""

import json
import os

import numpy as np
import pytest
import torch
from data_builder_helpers import CHARADES, QVH, THUMOS_MINI, build, steps, write_features, write_weak_layout

from momentzoo.data import MomentZooDataWarning
from momentzoo.data.annotations import safe_join
from momentzoo.data.builders import (
    ActivityNetBuilder,
    CharadesSTABuilder,
    QVHighlightsBuilder,
    Thumos14Builder,
    Thumos14WeakBuilder,
)
from momentzoo.data.feature_files import load_feature_file
from momentzoo.data.safe_numpy import load_npy_restricted


def _anet(tmp_path, database, classes=("Archery", "Long jump"), name="anet.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"classes": list(classes), "database": database}))
    return str(path)


def _video(subset="training", duration=60.0, fps=30.0, annotations=()):
    return {
        "subset": subset,
        "duration": duration,
        "fps": fps,
        "annotations": [{"segment": list(s), "label": lab} for s, lab in annotations],
    }


def _db(**videos):
    db = {"ok_val": _video("validation", annotations=[((1, 2), "Archery")])}
    db.update(videos)
    return db


def test_end_before_start_names_file_and_video(tmp_path):
    path = _anet(
        tmp_path,
        _db(
            bad_vid=_video(annotations=[((5, 5), "Archery"), ((9, 3), "Archery")]),
            other=_video(annotations=[((1, 2), "Long jump")]),
        ),
    )
    with pytest.raises(ValueError) as err:
        build(ActivityNetBuilder, tmp_path, annotation_file=path)
    message = str(err.value)
    assert "anet.json" in message and "2 invalid segment(s)" in message
    assert (
        "'bad_vid', segment 0: end <= start in [5.0, 5.0]" in message
        and "segment 1: end <= start in [9.0, 3.0]" in message
    )


def test_start_after_end_of_video_is_an_error_or_dropped_with_a_warning(tmp_path):
    db = _db(
        late=_video(duration=10.0, annotations=[((1, 2), "Archery"), ((10, 12), "Long jump"), ((11, 13), "Archery")])
    )
    path = _anet(tmp_path, db)
    with pytest.raises(
        ValueError, match=r"(?s)anet\.json: 2 invalid.*'late', segment 1: \[10.0, 12.0\] starts at or after"
    ):
        build(ActivityNetBuilder, tmp_path, annotation_file=path)
    with pytest.warns(MomentZooDataWarning, match=r"(?s)dropped 2 segment\(s\).*'late', segment 2") as record:
        ds = build(ActivityNetBuilder, tmp_path / "b", annotation_file=path, invalid_segments="drop")
    assert len(record) == 1
    row = ds["training"][0]
    assert row["video_id"] == "late" and row["segments"] == [[1.0, 2.0]] and row["labels"] == [0]


def test_segments_past_the_end_are_clipped_and_counted_in_one_warning(tmp_path):
    db = _db(
        a=_video(duration=10.0, annotations=[((8, 12), "Archery"), ((9, 10.5), "Long jump")]),
        b=_video(duration=20.0, annotations=[((19, 25), "Archery")]),
    )
    with pytest.warns(MomentZooDataWarning, match=r"clipped 3 segment\(s\)") as record:
        ds = build(ActivityNetBuilder, tmp_path, annotation_file=_anet(tmp_path, db))
    assert len(record) == 1
    rows = {r["video_id"]: r for r in ds["training"]}
    assert rows["a"]["segments"] == [[8.0, 10.0], [9.0, 10.0]] and rows["b"]["segments"] == [[19.0, 20.0]]


def test_negative_or_non_finite_segments_are_errors(tmp_path):
    db = _db(a=_video(annotations=[((-1, 2), "Archery")]), b=_video(annotations=[((1, "NaN"), "Archery")]))
    path = tmp_path / "anet.json"
    path.write_text(json.dumps({"classes": ["Archery"], "database": db}).replace('"NaN"', "NaN"))
    with pytest.raises(ValueError, match=r"(?s)negative start.*'b', segment 0: non-finite"):
        build(ActivityNetBuilder, tmp_path, annotation_file=str(path))


def test_unknown_labels_are_errors_naming_them(tmp_path):
    db = _db(a=_video(annotations=[((1, 2), "Archery"), ((3, 4), "Curling")]), b=_video(annotations=[((1, 2), "Polo")]))
    with pytest.raises(ValueError, match=r"(?s)2 problem.*'a'.*unknown label 'Curling'.*'b'.*unknown label 'Polo'"):
        build(ActivityNetBuilder, tmp_path, annotation_file=_anet(tmp_path, db))


def test_duplicate_ids_and_bad_durations_are_errors(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [
        {"qid": 1, "query": "x", "duration": 10, "vid": "A", "relevant_windows": [[1, 2]]},
        {"qid": 1, "query": "y", "duration": 10, "vid": "A", "relevant_windows": [[1, 2]]},
        {"qid": 2, "query": "z", "duration": -3, "vid": "B", "relevant_windows": [[1, 2]]},
        {"qid": 3, "query": " ", "duration": 10, "vid": "B", "relevant_windows": [[1, 2]]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(
        ValueError, match=r"(?s)3 problem.*line 2.*qid appears twice.*line 3.*positive number.*line 4.*empty"
    ):
        build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)})


def test_missing_feature_files_are_listed_at_once_or_skipped_with_a_report(tmp_path):
    db = _db(a=_video(annotations=[((1, 2), "Archery")]), b=_video(), c=_video())
    path = _anet(tmp_path, db)
    write_features(tmp_path / "f", {"ok_val": steps(60.0, 30.0, 16), "b": steps(60.0, 30.0, 16)}, dim=2)
    with pytest.raises(ValueError, match=r"(?s)2 video\(s\) have no feature file.*- a\n  - c\n.*skip_missing=True"):
        build(ActivityNetBuilder, tmp_path, annotation_file=path, features_dir=str(tmp_path / "f"))
    with pytest.warns(MomentZooDataWarning, match=r"(?s)left out 2 video\(s\).*- a\n  - c"):
        ds = build(
            ActivityNetBuilder,
            tmp_path / "b",
            annotation_file=path,
            features_dir=str(tmp_path / "f"),
            skip_missing=True,
        )
    assert ds["training"]["video_id"] == ["b"] and ds["validation"]["video_id"] == ["ok_val"]


def test_a_split_left_empty_by_skip_missing_is_an_error(tmp_path):
    write_features(tmp_path / "f", {"ok_val": 3}, dim=2)
    with pytest.raises(ValueError, match=r"\['training'\] have no row left"), pytest.warns(MomentZooDataWarning):
        build(
            ActivityNetBuilder,
            tmp_path,
            annotation_file=_anet(tmp_path, _db(a=_video())),
            features_dir=str(tmp_path / "f"),
            skip_missing=True,
        )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_features_are_errors_naming_the_file(tmp_path, bad):
    feats = write_features(tmp_path / "f", {"ok_val": 4, "a": 5}, dim=3)
    feats["a"][3, 1] = bad
    np.save(tmp_path / "f" / "a.npy", feats["a"])
    with pytest.raises(ValueError, match=r"a\.npy: 1 NaN/Inf value\(s\) in 1 feature step\(s\), first at step 3"):
        build(
            ActivityNetBuilder,
            tmp_path,
            annotation_file=_anet(tmp_path, _db(a=_video())),
            features_dir=str(tmp_path / "f"),
        )


def test_bad_feature_files_are_named(tmp_path):
    (tmp_path / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match="corrupt.npy: cannot read feature file"):
        load_feature_file(tmp_path / "corrupt.npy")
    np.save(tmp_path / "rank3.npy", np.zeros((2, 3, 4), dtype=np.float32))
    with pytest.raises(
        ValueError, match=r"rank3.npy: expected a non-empty \(T, D\) feature array, got shape \(2, 3, 4\)"
    ):
        load_feature_file(tmp_path / "rank3.npy")
    np.savez(tmp_path / "nokey.npz", other=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"nokey.npz: .npz feature file has no key 'feats'"):
        load_feature_file(tmp_path / "nokey.npz")
    np.save(tmp_path / "dims_a.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="dims_a.npy: feature dimension 3 differs from the dataset's 4"):
        load_feature_file(tmp_path / "dims_a.npy", feature_dim=4)


class _NotATensor:
    pass


def test_pt_features_load_with_weights_only(tmp_path):
    torch.save({"feats": _NotATensor()}, tmp_path / "evil.pt")  # arbitrary objects need weights_only=False
    with pytest.raises(ValueError, match="evil.pt: cannot read feature file .*UnpicklingError"):
        load_feature_file(tmp_path / "evil.pt")


@pytest.mark.parametrize("video_id", ["../outside", "sub/../../outside", "/etc/passwd"])
def test_video_ids_cannot_escape_the_data_root(tmp_path, video_id):
    (tmp_path / "outside.npy").write_bytes(b"")
    write_features(tmp_path / "root" / "f", {"ok_val": 3}, dim=2)
    path = _anet(tmp_path, _db(**{video_id: _video()}))
    with pytest.raises(ValueError, match="escapes the data root"):
        build(ActivityNetBuilder, tmp_path, annotation_file=path, features_dir=str(tmp_path / "root" / "f"))
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"qid": 1, "query": "x", "duration": 10, "vid": video_id, "relevant_windows": [[1, 2]]}))
    with pytest.raises(ValueError, match="escapes the data root"):
        build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)}, videos_dir=str(tmp_path / "root"))


def test_safe_join(tmp_path):
    assert safe_join(tmp_path, "a/b.npy") == tmp_path / "a" / "b.npy"
    assert safe_join(tmp_path, "a/../b.npy") == tmp_path / "b.npy"  # stays inside
    for name in ("..", "../x", "/abs", "", "a\x00b", "."):
        with pytest.raises(ValueError):
            safe_join(tmp_path, name)


def test_restricted_npy_loader_refuses_code(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    arr = np.empty(1, dtype=object)
    arr[0] = Evil()
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    with pytest.raises(ValueError, match=r"evil.npy: refusing to unpickle (posix|nt)\.system"):
        load_npy_restricted(tmp_path / "evil.npy")
    assert not marker.exists()
    ok = np.empty(2, dtype=object)
    ok[0], ok[1] = [[1.0, 2.0]], ["Diving"]
    np.save(tmp_path / "ok.npy", ok, allow_pickle=True)
    assert list(load_npy_restricted(tmp_path / "ok.npy")) == [[[1.0, 2.0]], ["Diving"]]


def test_weak_layout_rejects_malformed_entries(tmp_path):
    videos = {"video_validation_0000001": (b"validation", 40.0, [[1.0, "x"]], ["Diving"], ["Diving"])}
    layout = write_weak_layout(tmp_path / "layout", videos)
    with (
        pytest.raises(ValueError, match=r"'video_validation_0000001' \(index 0\): segments.npy entry is not a list"),
        pytest.warns(MomentZooDataWarning, match=r"(?s)skipped 1 ambiguous segment.*video_test_0000001"),
    ):
        build(Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout))
    layout = write_weak_layout(tmp_path / "layout2")
    np.save(layout / "duration.npy", np.array([[1.0]]))
    with pytest.raises(ValueError, match="numpy arrays disagree in length"):
        build(Thumos14WeakBuilder, tmp_path, annotation_dir=str(layout))


def test_charades_txt_problems_name_lines(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("OHOFG 1.0 7.5##ok\nOHOFG 1.0 7.5 no separator\nZZZZZ 1 2##unknown video\nOHOFG a b##bad\n")
    with pytest.raises(
        ValueError, match=r"(?s)bad.txt: 3 problem.*line 2.*line 3: video 'ZZZZZ' has no duration.*line 4"
    ):
        build(
            CharadesSTABuilder,
            tmp_path,
            config_name="txt",
            data_files={"test": str(path)},
            durations_file=str(CHARADES / "Charades_v1_mini.csv"),
        )
    with pytest.raises(ValueError, match="the txt format needs durations_file"):
        build(CharadesSTABuilder, tmp_path, config_name="txt", data_files={"test": str(path)})


def test_jsonl_problems_name_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"qid": 1}\nnot json\n[1, 2]\n')
    with pytest.raises(
        ValueError, match=r"(?s)bad.jsonl: 2 malformed line\(s\).*line 2: invalid JSON.*line 3: expected a JSON object"
    ):
        build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)})


def test_grounding_query_losing_every_window_is_reported(tmp_path):
    path = tmp_path / "q.jsonl"
    rows = [
        {"qid": 1, "query": "x", "duration": 10, "vid": "A", "relevant_windows": [[11, 12]]},
        {"qid": 2, "query": "y", "duration": 10, "vid": "A", "relevant_windows": [[1, 2]]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.warns(MomentZooDataWarning) as record:
        ds = build(CharadesSTABuilder, tmp_path, data_files={"train": str(path)}, invalid_segments="drop")
    messages = [str(w.message) for w in record]
    assert len(messages) == 2 and "dropped 1 segment(s)" in messages[0]
    assert "left out 1 query(ies)" in messages[1] and "query '1' of video 'A'" in messages[1]
    assert ds["train"]["qid"] == ["2"]


def test_qvhighlights_inconsistent_labels_are_errors(tmp_path):
    lines = [json.loads(line) for line in (QVH / "highlight_val_mini.jsonl").read_text().splitlines()]
    partial = [lines[0], {k: lines[1][k] for k in ("qid", "query", "duration", "vid")}]
    (tmp_path / "partial.jsonl").write_text("\n".join(json.dumps(x) for x in partial))
    with pytest.raises(ValueError, match=r"(?s)1 line\(s\) lack.*line 2"):
        build(QVHighlightsBuilder, tmp_path, data_files={"val": str(tmp_path / "partial.jsonl")})
    bad = dict(lines[0], relevant_clip_ids=[75] + lines[0]["relevant_clip_ids"][1:])
    (tmp_path / "bad.jsonl").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"line 1: clip id\(s\) \[75\] outside 0..74"):
        build(QVHighlightsBuilder, tmp_path, data_files={"val": str(tmp_path / "bad.jsonl")})


def test_config_fields_are_validated(tmp_path):
    with pytest.raises(ValueError, match="invalid_segments must be one of"):
        Thumos14Builder(annotation_file=str(THUMOS_MINI), invalid_segments="ignore", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="feature_stride must be a positive int"):
        Thumos14Builder(annotation_file=str(THUMOS_MINI), feature_stride=0, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="annotation_file 'nope.json' is not a file"):
        Thumos14Builder(annotation_file="nope.json", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"no videos with subset \['train'\]; subsets in the file: \['test', 'val'\]"):
        Thumos14Builder(annotation_file=str(THUMOS_MINI), splits=("train",), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="needs data_files"):
        CharadesSTABuilder(cache_dir=str(tmp_path)).download_and_prepare()
