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
