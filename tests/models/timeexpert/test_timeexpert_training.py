"""examples/train_timeexpert.py on the synthetic grounding set: a tiny TimeExpert learns to write the query's window
as time tokens (R1@0.5 well above the untrained model's), through Trainer, with the expert lifecycle on."""

import json
import sys
from pathlib import Path

import pytest
from common_model_tests import one_thread  # noqa: F401

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "examples" / "configs" / "timeexpert_synthetic.yaml"


def _script():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_timeexpert
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return train_timeexpert


@pytest.mark.slow
def test_tiny_timeexpert_learns_to_ground_synthetic_queries(tmp_path):
    script = _script()
    untrained = script.main(
        [
            "--config",
            str(CONFIG),
            "--output_dir",
            str(tmp_path / "untrained"),
            "--max_steps",
            "1",
            "--learning_rate",
            "1e-12",
        ]
    )
    trained = script.main(["--config", str(CONFIG), "--output_dir", str(tmp_path / "trained")])
    assert untrained["R1@0.5"] <= 0.1
    assert trained["R1@0.5"] >= untrained["R1@0.5"] + 0.25, json.dumps(trained)
    assert trained["mIoU"] > 0.3
    assert (tmp_path / "trained" / "model.safetensors").is_file()
    assert (tmp_path / "trained" / "tokenizer_config.json").is_file()


def test_stage_selects_what_trains_and_bad_arguments_fail(tmp_path):
    from momentzoo.testing.timeexpert import tiny_timeexpert
    from momentzoo.training.timeexpert import set_stage_trainable

    model, _ = tiny_timeexpert()
    counts = {stage: set_stage_trainable(model, stage)["trainable"] for stage in ("task_modules", "moe", "sft")}
    assert counts["task_modules"] < counts["moe"] < counts["sft"]
    set_stage_trainable(model, "task_modules")
    assert not model.language_model.get_input_embeddings().weight.requires_grad
    assert model.time_head.weight.requires_grad and model.projector.linear_1.weight.requires_grad
    set_stage_trainable(model, "moe")
    assert model.moe_layers[0].gate.threshold.requires_grad
    assert not model.language_model.get_decoder().layers[0].self_attn.q_proj.weight.requires_grad
    with pytest.raises(ValueError, match="unknown TimeExpert stage"):
        set_stage_trainable(model, "pretrain")
    with pytest.raises(ValueError, match="unknown TimeExpert task type"):
        _script().main(
            ["--config", str(CONFIG), "--output_dir", str(tmp_path), "--task", "grounding", "--max_steps", "1"]
        )


def test_resume_from_a_checkpoint_keeps_the_grown_or_pruned_expert_set(tmp_path):
    """A checkpoint saved after the lifecycle changed the experts resumes (model rebuilt from its config, optimizer
    state matching) and ends where the uninterrupted run ends."""
    import torch
    from safetensors.torch import load_file

    script = _script()
    common = [
        "--config",
        str(CONFIG),
        "--max_steps",
        "4",
        "--save_steps",
        "2",
        "--save_strategy",
        "steps",
        "--eval_split",
        "",
        "--model_config",
        '{"hidden_size": 32, "vision_feature_dim": 16, "expert_update_interval": 2, "min_activation_rate": 0.9}',
        "--dataset_kwargs",
        (
            '{"num_classes": 2, "num_confusable_pairs": 0, "feature_dim": 16, "num_videos": {"train": 16}, '
            '"min_length": 40, "max_length": 48, "min_action_length": 12, "max_action_length": 24}'
        ),
    ]
    straight = script.main([*common, "--output_dir", str(tmp_path / "a")])
    assert straight["experts_per_layer"] != [4, 4]  # the lifecycle changed the expert set
    script.main([*common, "--output_dir", str(tmp_path / "b"), "--max_steps", "2"])
    resumed = script.main(
        [*common, "--output_dir", str(tmp_path / "b"), "--resume_from_checkpoint", str(tmp_path / "b" / "checkpoint-2")]
    )
    assert resumed["experts_per_layer"] == straight["experts_per_layer"]
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5, msg=key)
