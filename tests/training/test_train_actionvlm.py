"""examples/train_actionvlm.py on a tiny synthetic set with a tiny LM: alternating epochs, evaluation outputs with
the language weights, model card."""

import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "configs" / "actionvlm_synthetic.yaml"


def _script():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_actionvlm
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return train_actionvlm


def test_train_actionvlm_alternates_epochs_and_reports_language_weights(tmp_path):
    data = {
        "num_classes": 4,
        "num_confusable_pairs": 1,
        "feature_dim": 16,
        "min_length": 48,
        "max_length": 64,
        "min_action_length": 4,
        "max_action_length": 24,
        "num_videos": {"train": 8, "test": 3},
        "seed": 0,
    }
    head = {
        "max_seq_len": 64,
        "hidden_size": 16,
        "head_hidden_size": 16,
        "num_attention_heads": 2,
        "attention_window_size": 5,
        "num_stem_layers": 1,
        "num_downsample_layers": 3,
        "regression_ranges": [[0, 4], [4, 8], [8, 16], [16, 10000]],
        "hidden_dropout": 0.0,
        "drop_path_rate": 0.0,
        "language_tuning": "full",
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = _script().main(
            [
                "--config",
                str(CONFIG),
                "--output_dir",
                str(tmp_path),
                "--dataset_kwargs",
                json.dumps(data),
                "--model_config",
                json.dumps(head),
                "--max_seq_len",
                "64",
                "--tiny_language_model_hidden_size",
                "16",
                "--tiny_language_model_layers",
                "1",
                "--num_train_epochs",
                "2",
                "--disable_tqdm",
                "true",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert summary["schedule"] == ["vision", "vision-language"]
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert 0.0 <= results["average_mAP"] <= 1.0
    assert set(results["mLA"]) == {"open door", "close door", "throw ball", "pour water"}
    assert all(0.0 <= v < 1.0 for v in results["mLA"].values()) and 0.0 <= results["mLA_overall"] < 1.0
    predictions = json.loads((tmp_path / "predictions.json").read_text())["results"]
    assert sorted(predictions) == [f"synthetic_test_{i:05d}" for i in range(3)]
    card = (tmp_path / "README.md").read_text()
    assert "ActionVLM" in card and "average_mAP" in card
    # the checkpoint holds the tokenizer (needed for L_tg when training resumes) and the class descriptions
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["class_descriptions"][0].startswith("starts with")
    assert (tmp_path / "tokenizer.json").is_file()


def test_train_actionvlm_end_to_end_from_raw_video(tmp_path):
    """The synthetic mp4s, a tiny VideoMAE with temporal adapters: trained from pixel batches, the test videos
    encoded once by the trained encoder and scored; the checkpoint reloads as an end-to-end model."""
    import momentzoo

    data = {
        "output_dir": str(tmp_path / "videos"),
        "num_videos": {"train": 4, "test": 2},
        "size": 32,
        "fps": 8,
        "min_duration": 8,
        "max_duration": 9,
        "seed": 0,
    }
    out = tmp_path / "model"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        summary = _script().main(
            [
                "--config",
                str(ROOT / "examples" / "configs" / "actionvlm_synthetic_video.yaml"),
                "--output_dir",
                str(out),
                "--dataset_kwargs",
                json.dumps(data),
                "--num_train_epochs",
                "2",
                "--tiny_language_model_hidden_size",
                "16",
                "--tiny_language_model_layers",
                "1",
                "--disable_tqdm",
                "true",
            ]
        )
    finally:
        torch.set_num_threads(threads)
    assert summary["schedule"] == ["vision", "vision-language"]
    results = json.loads((out / "eval_results.json").read_text())
    assert 0.0 <= results["average_mAP"] <= 1.0 and set(results["mLA"]) <= {
        "square_moves_right",
        "square_moves_left",
        "square_grows",
        "square_shrinks",
    }
    predictions = json.loads((out / "predictions.json").read_text())["results"]
    assert sorted(predictions) == ["synthetic_video_000", "synthetic_video_001"]
    model = momentzoo.AutoModelForTemporalLocalization.from_pretrained(out)
    assert model.vision_model is not None and model.config.vision_tuning == "adapter"
    assert model.video_feature_geometry() == {"feature_stride": 2, "num_frames": 2}
    # the adapters were trained from the pixels (they start at zero)
    assert any(p.abs().sum() > 0 for n, p in model.temporal_adapters.named_parameters() if "up" in n)


def test_a_video_dataset_needs_an_encoder_and_a_frame_rate(tmp_path):
    data = {
        "output_dir": str(tmp_path / "videos"),
        "num_videos": {"train": 1, "test": 1},
        "size": 32,
        "fps": 8,
        "min_duration": 8,
        "max_duration": 9,
    }
    config = str(ROOT / "examples" / "configs" / "actionvlm_synthetic_video.yaml")
    with pytest.raises(ValueError, match="needs --video_fps and a model with a video encoder"):
        _script().main(
            [
                "--config",
                config,
                "--output_dir",
                str(tmp_path / "m"),
                "--dataset_kwargs",
                json.dumps(data),
                "--vision_model",
                "",
                "--disable_tqdm",
                "true",
            ]
        )
