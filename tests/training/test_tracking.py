"""Experiment tracking in the examples: `report_to` defaults to trackio (local-first, `momentzoo[tracking]`) when it
is installed and to none otherwise; a config or the command line still chooses."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from transformers import TrainingArguments

from momentzoo.training import tal_script
from momentzoo.training.tal_script import default_report_to, example_parser

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "configs" / "actionformer_synthetic.yaml"


def test_report_to_defaults_to_trackio_when_installed(monkeypatch, tmp_path):
    pytest.importorskip("trackio")
    assert default_report_to() == "trackio"
    (args,) = example_parser((TrainingArguments,)).parse_args_and_config(["--output_dir", str(tmp_path)])
    assert args.report_to == ["trackio"]
    (args,) = example_parser((TrainingArguments,)).parse_args_and_config(
        ["--output_dir", str(tmp_path), "--report_to", "none"]
    )
    assert args.report_to == []
    monkeypatch.setattr(tal_script.importlib.util, "find_spec", lambda name: None)  # trackio not installed
    assert default_report_to() == "none"
    (args,) = example_parser((TrainingArguments,)).parse_args_and_config(["--output_dir", str(tmp_path)])
    assert args.report_to == []


def test_the_example_logs_its_training_to_trackio(tmp_path):
    pytest.importorskip("trackio")
    config = yaml.safe_load(CONFIG.read_text())
    assert "report_to" not in config  # the example configs leave the tracker to the default
    tiny = tmp_path / "tiny.yaml"
    config.update(max_steps=2, logging_steps=1, output_dir=str(tmp_path / "out"), max_eval_videos=2, disable_tqdm=True)
    config["dataset_kwargs"]["num_videos"] = {"train": 4, "test": 2}
    tiny.write_text(yaml.safe_dump(config))
    env = dict(
        os.environ,
        TRACKIO_DIR=str(tmp_path / "trackio"),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "train_actionformer.py"), "--config", str(tiny)],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    databases = list((tmp_path / "trackio").glob("*.db"))
    assert databases, "trackio wrote no project database"
    with sqlite3.connect(databases[0]) as db:
        logged = [json.loads(row[0]) for row in db.execute("SELECT metrics FROM metrics")]
    assert [m["train/global_step"] for m in logged if "train/loss" in m] == [1, 2]
