"""The example scripts' command line as a transformers user meets it: TrlParser configs, `--help` with one flag style
and each default once, mAP in the training loop's logs and `trainer_state.json`, and `--resume_from_checkpoint
true` resuming from the last checkpoint."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from momentzoo.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ["train_actionformer.py", "train_actionvlm.py", "train_psftr.py", "train_invert4tvg.py", "eval_zero_shot.py"]
TINY = {
    "dataset": "synthetic",
    "dataset_kwargs": {
        "num_classes": 3,
        "num_confusable_pairs": 1,
        "feature_dim": 12,
        "min_length": 64,
        "max_length": 96,
        "min_action_length": 4,
        "max_action_length": 24,
        "num_videos": {"train": 4, "test": 3},
        "seed": 3,
    },
    "max_seq_len": 64,
    "model_config": {
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
    },
    "per_device_train_batch_size": 2,
    "per_device_eval_batch_size": 2,
    "learning_rate": 0.05,
    "optim": "sgd",
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "use_cpu": True,
    "disable_tqdm": True,
    "seed": 0,
    "report_to": "none",
    "eval_strategy": "steps",
    "eval_steps": 2,
    "save_strategy": "steps",
    "save_steps": 2,
    "metric_for_best_model": "average_mAP",
}


def _check_help(text: str, where: str):
    options = re.findall(r"^\s{2}(--\w[\w-]*)", text, flags=re.M)
    assert options, where
    assert not [o for o in options if "-" in o[2:]], f"{where}: kebab-case flags {options}"
    for block in re.split(r"\n(?=\s{2}-)", text):
        assert block.lower().count("default:") <= 1, f"{where}: a default shown twice:\n{block}"


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_help_shows_snake_case_flags_and_each_default_once(script):
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), "--help"],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    _check_help(result.stdout, script)


def test_momentzoo_command_help_shows_snake_case_flags_and_each_default_once():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        _check_help(command.format_help(), f"momentzoo {name}")


def _script():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import train_actionformer
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return train_actionformer


def test_map_during_training_and_resume_from_the_last_checkpoint(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _script().main(["--config", str(config), "--output_dir", str(out), "--max_steps", "4"])
        state = json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())
        evaluations = [entry for entry in state["log_history"] if "eval_average_mAP" in entry]
        assert [entry["step"] for entry in evaluations] == [2, 4]  # mAP in the training loop, every eval_steps
        assert state["best_metric"] == max(entry["eval_average_mAP"] for entry in evaluations)
        # the user asks for more steps and resumes: training continues from checkpoint-4, not from scratch
        summary = _script().main(
            ["--config", str(config), "--output_dir", str(out), "--max_steps", "6", "--resume_from_checkpoint", "true"]
        )
    finally:
        torch.set_num_threads(threads)
    state = json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())
    steps = [entry["step"] for entry in state["log_history"] if "loss" in entry]
    assert steps == [1, 2, 3, 4, 5, 6]  # the history of the first run, then steps 5 and 6 only
    assert summary["train"]["train_runtime"] >= 0 and "average_mAP" in summary["eval"]
    results = json.loads((out / "eval_results.json").read_text())
    assert results["average_mAP"] == summary["eval"]["average_mAP"]
