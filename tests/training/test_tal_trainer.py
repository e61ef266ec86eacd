"""`TemporalLocalizationTrainer.evaluate` reports tal_map's mAP through `Trainer.evaluate`, so the training loop's
eval_strategy, metric_for_best_model="average_mAP", load_best_model_at_end and trainer_state.json all see it;
one process and two data-parallel processes (gloo, CPU) give the same metrics."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from momentzoo.data import TemporalLocalizationCollator
from momentzoo.data.synthetic import make_synthetic_tal_dataset
from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
from momentzoo.testing import tiny_actionformer_config
from momentzoo.training.tal import evaluate_tal
from momentzoo.training.trainer import (
    TemporalLocalizationTrainer,
    TemporalLocalizationTrainingArguments,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = dict(
    num_classes=3,
    num_confusable_pairs=1,
    feature_dim=12,
    min_length=70,
    max_length=150,
    num_videos={"train": 6, "test": 5},
    seed=1,
)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_tal_dataset(**DATA)


def _model(data):
    torch.manual_seed(0)
    names = data["train"].features["labels"].feature.names
    return ActionFormerForTemporalLocalization(tiny_actionformer_config(id2label=dict(enumerate(names))))


def _trainer(data, output_dir, eval_dataset=None, **overrides) -> TemporalLocalizationTrainer:
    """SGD on the tiny ActionFormer, CPU, no reporting; `overrides` are training arguments."""
    args = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=2,
        learning_rate=0.05,
        optim="sgd",
        lr_scheduler_type="constant",
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        seed=0,
    )
    return TemporalLocalizationTrainer(
        model=_model(data),
        args=TemporalLocalizationTrainingArguments(**{**args, **overrides}),
        train_dataset=data["train"],
        eval_dataset=eval_dataset,
        data_collator=TemporalLocalizationCollator(max_seq_len=64),
    )


def test_evaluate_reports_map_and_the_training_loop_keeps_the_best(data, tmp_path):
    trainer = _trainer(
        data,
        tmp_path,
        data["test"],
        max_steps=6,
        per_device_eval_batch_size=3,
        logging_steps=1,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        metric_for_best_model="average_mAP",
        eval_window_size=64,
        load_best_model_at_end=True,
    )
    assert trainer.args.greater_is_better  # a metric other than the loss: higher is better
    trainer.train()
    history = [entry for entry in trainer.state.log_history if "eval_average_mAP" in entry]
    assert [entry["step"] for entry in history] == [2, 4, 6]
    assert all({"eval_mAP@0.5", "eval_loss", "eval_runtime"} <= set(entry) for entry in history)
    best = max(history, key=lambda entry: entry["eval_average_mAP"])
    assert trainer.state.best_metric == pytest.approx(best["eval_average_mAP"])
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best['step']}")
    saved = json.loads((Path(trainer.state.best_model_checkpoint) / "trainer_state.json").read_text())
    assert any("eval_average_mAP" in entry for entry in saved["log_history"])

    # the loaded best model scores what it scored then, and evaluate() is the single-process evaluate_tal
    metrics = trainer.evaluate()
    assert metrics["eval_average_mAP"] == pytest.approx(best["eval_average_mAP"])
    reference, _ = evaluate_tal(trainer.model, data["test"], window_size=64, window_overlap=0.25, batch_size=3)
    for key in ("average_mAP", "mAP@0.3", "mAP@0.7"):
        assert metrics[f"eval_{key}"] == pytest.approx(reference[key], abs=1e-9)
    assert set(trainer.last_eval_predictions) == set(data["test"]["video_id"])


EVALUATE_SCRIPT = textwrap.dedent("""
    import json, sys
    import torch
    from momentzoo.data.synthetic import make_synthetic_tal_dataset
    from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
    from momentzoo.training.trainer import TemporalLocalizationTrainer, TemporalLocalizationTrainingArguments

    torch.set_num_threads(1)
    data = make_synthetic_tal_dataset(**json.loads(sys.argv[2]))
    model = ActionFormerForTemporalLocalization.from_pretrained(sys.argv[1])
    args = TemporalLocalizationTrainingArguments(output_dir=sys.argv[3], per_device_eval_batch_size=5, eval_window_size=64,
                                                 report_to="none", disable_tqdm=True)
    metrics = TemporalLocalizationTrainer(model=model, args=args, eval_dataset=data["test"]).evaluate()
    if args.process_index == 0:
        json.dump(metrics, open(sys.argv[4], "w"))
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_evaluate_as_one(data, tmp_path):
    # 12 windows of 64 steps in batches of 5 per process: the second step of each process repeats windows to even
    # out the last batch, and those must not count twice
    trainer = _trainer(data, tmp_path / "train", max_steps=30, save_strategy="no")
    trainer.train()
    trainer.model.save_pretrained(tmp_path / "model")
    script = tmp_path / "score.py"  # not evaluate.py: it would shadow the evaluate package
    script.write_text(EVALUATE_SCRIPT)
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    )
    results = {}
    for processes in (1, 2):
        out = tmp_path / f"metrics{processes}.json"
        launcher = [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--num_processes",
            str(processes),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
        ]
        launcher += ["--multi_gpu", "--main_process_port", str(_free_port())] if processes > 1 else ["--cpu"]
        result = subprocess.run(
            [*launcher, str(script), str(tmp_path / "model"), json.dumps(DATA), str(tmp_path / "out"), str(out)],
            check=False,
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=ROOT,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        results[processes] = json.loads(out.read_text())
    assert results[1]["eval_average_mAP"] > 0.01  # a trained model: the comparison is not between zeros
    for key in ("eval_average_mAP", "eval_mAP@0.3", "eval_mAP@0.5", "eval_mAP@0.7"):
        assert results[2][key] == pytest.approx(results[1][key], abs=1e-9), key
