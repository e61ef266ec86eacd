"""examples/train_actionformer.py: YAML + command-line arguments, training, final tal_map evaluation and outputs, and
2-process DDP (gloo, CPU) taking exactly the step of one process with the global batch."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import torch
import yaml
from hub_server import TOKEN, HubServer
from safetensors.torch import load_file

from momentzoo.training.tal_script import example_parser

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_actionformer.py"

TINY = {
    "dataset": "synthetic",
    # equal lengths, max_seq_len = video length and no crop_ratio: no random truncation, no padding
    "dataset_kwargs": {
        "num_classes": 3,
        "num_confusable_pairs": 1,
        "feature_dim": 12,
        "min_length": 64,
        "max_length": 64,
        "min_action_length": 4,
        "max_action_length": 24,
        "num_videos": {"train": 4, "test": 2},
        "seed": 3,
    },
    "train_split": "train",
    "eval_split": "test",
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
        "loss_normalizer_init": 10.0,
    },
    "ema_decay": 0.5,  # the official weight EMA (0.999) with a decay that lets two steps show
    "max_steps": 2,
    "optim": "sgd",
    "learning_rate": 0.5,
    "weight_decay": 0.0,
    "lr_scheduler_type": "constant",
    "max_grad_norm": 1.0e6,
    "logging_steps": 1,
    "save_strategy": "no",
    "report_to": "none",
    "use_cpu": True,
    "disable_tqdm": True,
    "per_device_eval_batch_size": 2,
    "seed": 0,
}


def _env():
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command, timeout=300):
    result = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{' '.join(map(str, command))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    return result


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def _script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import train_actionformer
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return train_actionformer


def test_yaml_defaults_and_command_line_overrides(config_file, tmp_path):
    script = _script()
    from momentzoo.training.trainer import TemporalLocalizationTrainingArguments

    model_args, data_args, training_args = example_parser(
        (script.ModelArguments, script.DataArguments, TemporalLocalizationTrainingArguments)
    ).parse_args_and_config(["--config", str(config_file), "--learning_rate", "0.01", "--output_dir", str(tmp_path)])
    assert data_args.dataset_kwargs["num_videos"] == {"train": 4, "test": 2}
    assert model_args.model_config["hidden_size"] == 16 and data_args.max_seq_len == 64
    assert training_args.learning_rate == 0.01 and training_args.max_steps == 2  # CLI wins, YAML fills the rest
    assert training_args.optim.value == "sgd" and training_args.output_dir == str(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("num_train_epoch: 3\n")
    with pytest.raises(ValueError, match=r"Unknown arguments from config file.*num_train_epoch"):
        example_parser(
            (script.ModelArguments, script.DataArguments, TemporalLocalizationTrainingArguments)
        ).parse_args_and_config(["--config", str(bad)])


def test_ddp_two_processes_batch_one_equal_one_process_batch_two(config_file, tmp_path, monkeypatch):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    # one process, batch 2 (in this process: the script's main), pushed to a local Hub at the end
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the launched processes (OMP_NUM_THREADS=1): tiny tensors, busy cores
    try:
        with HubServer() as hub:
            monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
            monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)
            monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", hub.url)
            import transformers.utils.hub  # its shared HfApi keeps the endpoint of its first use

            monkeypatch.setattr(transformers.utils.hub, "_hf_api", None)
            _script().main(
                [
                    "--config",
                    str(config_file),
                    "--per_device_train_batch_size",
                    "2",
                    "--output_dir",
                    str(single),
                    "--push_to_hub",
                    "--hub_model_id",
                    "tester/actionformer-tiny",
                    "--hub_token",
                    TOKEN,
                ]
            )
            api = huggingface_hub.HfApi(endpoint=hub.url, token=TOKEN)
            files = set(api.list_repo_files("tester/actionformer-tiny"))
            assert {"config.json", "model.safetensors", "README.md", "eval_results.json", "predictions.json"} <= files
    finally:
        torch.set_num_threads(threads)
    # the uploaded card (re-rendered in the folder before the upload) names the repo and carries the results
    card = (single / "README.md").read_text()
    assert "# tester/actionformer-tiny" in card and "average_mAP" in card
    _run(
        [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            "2",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "--main_process_port",
            str(_free_port()),
            str(SCRIPT),
            "--config",
            str(config_file),
            "--per_device_train_batch_size",
            "1",
            "--output_dir",
            str(ddp),
        ]
    )

    one, two = load_file(single / "model.safetensors"), load_file(ddp / "model.safetensors")
    assert one.keys() == two.keys()
    # the same EMA of the (global) positive count, and the same two SGD steps on every parameter
    torch.testing.assert_close(two["loss_normalizer"], one["loss_normalizer"], rtol=1e-6, atol=0)
    assert float(one["loss_normalizer"]) != 10.0
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-5, atol=1e-6, msg=name)

    # both wrote the evaluation outputs (main process only), in the formats `momentzoo evaluate` reads
    for folder in (single, ddp):
        metrics = json.loads((folder / "eval_results.json").read_text())
        assert set(metrics) >= {"mAP@0.3", "mAP@0.7", "average_mAP", "per_class_AP"}
        predictions = json.loads((folder / "predictions.json").read_text())["results"]
        truth = json.loads((folder / "ground_truth.json").read_text())["database"]
        assert sorted(predictions) == sorted(truth) == ["synthetic_test_00000", "synthetic_test_00001"]
        card = (folder / "README.md").read_text()
        assert "ActionFormer" in card and "average_mAP" in card and "82.1 / 77.8 / 71.0 / 59.4 / 43.9" in card
        assert "examples/train_actionformer.py" in card  # training details
    scores = [json.loads((folder / "eval_results.json").read_text()) for folder in (single, ddp)]
    summary = [{k: v for k, v in s.items() if k != "per_class_AP"} for s in scores]
    assert summary[0] == pytest.approx(summary[1], abs=1e-4)


def _load_script(name):
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(SCRIPT.parent))


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "examples" / "configs").glob("action*.yaml")))
def test_example_configs_parse_and_their_model_configs_are_valid(config, tmp_path):

    from momentzoo.models.actionformer import ActionFormerConfig
    from momentzoo.models.actionvlm import ActionVLMConfig
    from momentzoo.training.actionvlm import LanguageAdvantageTrainingArguments
    from momentzoo.training.trainer import TemporalLocalizationTrainingArguments

    script = _load_script("train_actionvlm" if config.startswith("actionvlm") else "train_actionformer")
    arguments = (
        LanguageAdvantageTrainingArguments if config.startswith("actionvlm") else TemporalLocalizationTrainingArguments
    )
    model_args, data_args, training_args = example_parser(
        (script.ModelArguments, script.DataArguments, arguments)
    ).parse_args_and_config(
        [
            "--config",
            str(ROOT / "examples" / "configs" / config),
            "--output_dir",
            str(tmp_path),
            "--use_cpu",
            "true",
            "--bf16",
            "false",
        ]
    )
    model_config = dict(model_args.model_config or {})
    model_config.setdefault("input_dim", 64)  # from the dataset at run time
    (ActionVLMConfig if config.startswith("actionvlm") else ActionFormerConfig)(**model_config)  # validates
    assert data_args.train_split != data_args.eval_split
    # the training crop is the model's window
    assert data_args.max_seq_len == model_config.get("max_seq_len", 2304)


def test_thumos14_config_builds_its_dataset_with_the_builder(tmp_path):
    import numpy as np

    from momentzoo.training.tal_script import load_tal_dataset

    values = yaml.safe_load((ROOT / "examples" / "configs" / "actionformer_thumos14_i3d.yaml").read_text())
    mini = ROOT / "tests" / "fixtures" / "data" / "thumos14" / "thumos14_mini.json"
    features = tmp_path / "i3d_features"
    features.mkdir()
    for video_id, video in json.loads(mini.read_text())["database"].items():  # the builder's geometry: 30 fps / 4
        steps = round(video["duration"] * video["fps"] / 4)
        np.save(features / f"{video_id}.npy", np.zeros((steps, 8), dtype=np.float32))
    kwargs = dict(values["dataset_kwargs"], annotation_file=str(mini), features_dir=str(features))
    data = load_tal_dataset(values["dataset"], kwargs, cache_dir=str(tmp_path / "cache"))
    assert {values["train_split"], values["eval_split"]} <= set(data)
    assert data[values["train_split"]].features["features"].shape == (None, 8)
