"""Hostile inputs that used to give a silently wrong result with exit status 0: duplicated JSON keys, --overwrite
deleting inputs, labels that match no class, broken checkpoints, truncated features on resume, a checkpoint that
cannot resume the same run."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from data_builder_helpers import THUMOS_MINI
from safetensors.torch import load_file, save_file
from tiny_models import TinyDetectorConfig, TinyDetectorForTemporalLocalization, register_tiny_models

from momentzoo.commands.evaluate import EXAMPLE_DIR, evaluate_files
from momentzoo.data.builders import ActivityNetBuilder, CharadesSTABuilder
from momentzoo.metrics.tal_map import compute_tal_map
from momentzoo.strict_json import DuplicateKeyError, load_json_strict

REPO = Path(__file__).resolve().parents[2]


# --- duplicate JSON keys ----------------------------------------------------------------------------------------
def _duplicate_first_video(text: str, key: str) -> str:
    """The JSON text with the first video of `key` listed twice (the copy first, holding nothing)."""
    data = json.loads(text)
    first = next(iter(data[key]))
    empty = "[]" if key == "results" else json.dumps({**data[key][first], "annotations": []})
    return text.replace(f'"{first}": ', f'"{first}": {empty}, "{first}": ', 1)


def test_predictions_with_a_video_twice_are_an_error_not_a_lower_map(tmp_path):
    predictions = tmp_path / "predictions.json"
    text = json.dumps(json.loads((EXAMPLE_DIR / "predictions.json").read_text()))
    predictions.write_text(_duplicate_first_video(text, "results"))
    with pytest.raises(DuplicateKeyError, match=r"predictions.json: duplicate key 'video_test_\d+'"):
        evaluate_files(EXAMPLE_DIR / "ground_truth.json", predictions, "test", ignore_labels=["Ambiguous"])


def test_ground_truth_with_a_video_twice_is_an_error(tmp_path):
    references = tmp_path / "gt.json"
    text = json.dumps(json.loads((EXAMPLE_DIR / "ground_truth.json").read_text()))
    references.write_text(_duplicate_first_video(text, "database"))
    with pytest.raises(DuplicateKeyError, match=r"gt.json: duplicate key 'video_test_\d+'"):
        evaluate_files(references, EXAMPLE_DIR / "predictions.json", "test")


def test_builders_refuse_a_duplicated_database_entry(tmp_path):
    text = json.dumps(json.loads(THUMOS_MINI.read_text()))
    (tmp_path / "anet.json").write_text(_duplicate_first_video(text, "database"))
    with pytest.raises(DuplicateKeyError, match="anet.json: duplicate key 'video_"):
        ActivityNetBuilder(
            cache_dir=str(tmp_path / "cache"), annotation_file=str(tmp_path / "anet.json"), splits=("val", "test")
        ).download_and_prepare()


def test_jsonl_line_with_a_key_twice_is_an_error_naming_the_line(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"qid": 1, "query": "x", "duration": 10, "vid": "A", "vid": "B", "relevant_windows": [[1, 2]]}\n')
    with pytest.raises(ValueError, match=r"(?s)q.jsonl: 1 malformed line.*line 1: duplicate key 'vid'"):
        CharadesSTABuilder(cache_dir=str(tmp_path / "c"), data_files={"train": str(path)}).download_and_prepare()


def test_deeply_nested_or_non_utf8_json_names_the_file(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="deep.json: JSON nested too deeply"):
        load_json_strict(tmp_path / "deep.json")
    (tmp_path / "latin1.json").write_bytes('{"vid": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(ValueError, match="latin1.json: not UTF-8 text"):
        load_json_strict(tmp_path / "latin1.json")


# --- dataset_scripts --overwrite ---------------------------------------------------------------------------------
def _thumos_script(*args):
    """Run dataset_scripts/thumos14.py as its `__main__` does (in this process: a subprocess costs seconds)."""
    import contextlib
    import io
    import runpy

    from momentzoo.data.export import script_main

    main = runpy.run_path(str(REPO / "dataset_scripts" / "thumos14.py"))["main"]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        returncode = script_main(main, [str(a) for a in args])
    return subprocess.CompletedProcess(args, returncode, "", stderr.getvalue())


def test_overwrite_refuses_when_the_inputs_live_in_the_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    annotations = out / "thumos14.json"
    annotations.write_text(THUMOS_MINI.read_text())
    result = _thumos_script(annotations, out, "--overwrite", "--cache_dir", tmp_path / "cache")
    assert result.returncode == 1 and annotations.is_file()
    assert "live inside output_dir" in result.stderr and "Traceback" not in result.stderr


def test_overwrite_deletes_only_what_a_dataset_export_wrote(tmp_path):
    out = tmp_path / "out"
    assert _thumos_script(THUMOS_MINI, out, "--cache_dir", tmp_path / "cache").returncode == 0
    assert _thumos_script(THUMOS_MINI, out, "--overwrite", "--cache_dir", tmp_path / "cache").returncode == 0
    (out / "notes.txt").write_text("mine")
    result = _thumos_script(THUMOS_MINI, out, "--overwrite", "--cache_dir", tmp_path / "cache")
    assert result.returncode == 1 and "holds files a dataset export does not write (notes.txt)" in result.stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "README.md").is_file()


# --- tal_map: labels that match no class --------------------------------------------------------------------------
def test_tal_map_warns_about_prediction_labels_matching_no_class():
    refs = [[{"segment": [1.0, 5.0], "label": "Diving"}]]
    preds = [[{"segment": [1.0, 5.0], "score": 0.9, "label": "diving"}]]
    with pytest.warns(UserWarning, match=r"1 prediction label\(s\) match no ground-truth class .*'diving'"):
        assert compute_tal_map(preds, refs)["average_mAP"] == 0.0


# --- checkpoints loaded through momentzoo -----------------------------------------------------------------------
@pytest.fixture
def saved_detector(tmp_path):
    register_tiny_models()
    TinyDetectorForTemporalLocalization(TinyDetectorConfig()).save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt"


def _edit_weights(folder, edit):
    weights = load_file(folder / "model.safetensors")
    edit(weights)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})


def test_checkpoint_missing_weights_is_an_error(saved_detector):
    from momentzoo import AutoModelForTemporalLocalization

    _edit_weights(saved_detector, lambda w: w.pop("classifier.weight"))
    with pytest.raises(ValueError, match=r"ckpt: the checkpoint lacks 1 weight\(s\) .*\['classifier.weight'\]"):
        AutoModelForTemporalLocalization.from_pretrained(saved_detector)


def test_checkpoint_with_integer_weights_is_an_error(saved_detector):
    _edit_weights(saved_detector, lambda w: w.update({"encoder.weight": w["encoder.weight"].to(torch.int64)}))
    with pytest.raises(ValueError, match=r"non-floating dtype: \['encoder.weight \(I64\)'\]"):
        TinyDetectorForTemporalLocalization.from_pretrained(saved_detector)


def test_checkpoint_with_nan_weights_is_an_error_not_an_empty_result(saved_detector):
    _edit_weights(saved_detector, lambda w: w["regressor.bias"].fill_(float("nan")))
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 weight\(s\): \['regressor.bias'\]"):
        TinyDetectorForTemporalLocalization.from_pretrained(saved_detector)


def test_sound_checkpoint_loads_and_can_report_loading_info(tmp_path):
    register_tiny_models()
    model = TinyDetectorForTemporalLocalization(TinyDetectorConfig())
    model.save_pretrained(tmp_path / "ok")
    loaded, info = TinyDetectorForTemporalLocalization.from_pretrained(tmp_path / "ok", output_loading_info=True)
    assert info["missing_keys"] == set() or not info["missing_keys"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


# --- resuming ---------------------------------------------------------------------------------------------------
def test_extract_features_resume_redoes_a_truncated_output(tmp_path):
    from test_hostile_security import _write_mkv

    from momentzoo.data.feature_extraction import VideoFeatureExtractor, extract_features_to_folder
    from momentzoo.testing import tiny_clip

    videos = tmp_path / "videos"
    videos.mkdir()
    _write_mkv(videos / "a.mkv")
    _write_mkv(videos / "b.mkv")
    model, _ = tiny_clip(image_size=16)
    model.save_pretrained(tmp_path / "clip")
    extractor = VideoFeatureExtractor.from_pretrained(
        str(tmp_path / "clip"), pooling="projection", fps=10.0, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    out = tmp_path / "out"
    first = extract_features_to_folder(extractor, videos, out, progress=False)
    assert sorted(first.processed) == ["a", "b"]
    expected = np.load(out / "a.npy")
    (out / "a.npy").write_bytes((out / "a.npy").read_bytes()[:-8])  # a full disk cut the file short
    again = extract_features_to_folder(extractor, videos, out, progress=False)
    assert again.processed == ["a"] and again.skipped == ["b"]
    np.testing.assert_array_equal(np.load(out / "a.npy"), expected)


def test_resume_without_scheduler_pt_is_refused(tmp_path):
    from momentzoo.training.resume import resolve_resume_checkpoint

    checkpoint = tmp_path / "run" / "checkpoint-10"
    checkpoint.mkdir(parents=True)
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt"):
        (checkpoint / name).write_text("{}")
    assert resolve_resume_checkpoint(True, tmp_path / "run") == str(checkpoint)
    assert resolve_resume_checkpoint(None, tmp_path / "run") is None
    (checkpoint / "scheduler.pt").unlink()
    with pytest.raises(ValueError, match=r"checkpoint-10: cannot resume, scheduler.pt missing"):
        resolve_resume_checkpoint(str(checkpoint))
    with pytest.raises(ValueError, match="holds no checkpoint-"):
        resolve_resume_checkpoint("true", tmp_path)
