"""examples/train_mllm4wtal.py: both configs parse into valid model configs, and a short synthetic run of each model
type trains, saves the model with its card (and MLLM4WTAL's tokenizer) and writes the DELU-protocol results."""

import json
import sys
from pathlib import Path

import pytest
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)

from momentzoo.models.delu import DELUConfig
from momentzoo.models.mllm4wtal import MLLM4WTALConfig
from momentzoo.training.tal_script import as_dict, example_parser

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = ROOT / "examples" / "configs"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        yield __import__("train_mllm4wtal")
    finally:
        sys.path.remove(str(ROOT / "examples"))


@pytest.mark.parametrize("config", ["mllm4wtal_synthetic.yaml", "mllm4wtal_thumos14.yaml"])
def test_example_configs_parse_into_valid_model_configs(script, config, tmp_path):
    from transformers import TrainingArguments

    model_args, data_args, _ = example_parser(
        (script.ModelArguments, script.DataArguments, TrainingArguments)
    ).parse_args_and_config(["--config", str(CONFIGS / config), "--output_dir", str(tmp_path), "--use_cpu", "true"])
    base = DELUConfig(**as_dict(model_args.base_config, "base_config"))
    MLLM4WTALConfig(base_config=base, **as_dict(model_args.model_config, "model_config"))
    assert data_args.train_split != data_args.eval_split and data_args.label_column == "video_labels"


@pytest.mark.parametrize("model_type", ["mllm4wtal", "delu"])
def test_a_short_synthetic_run_writes_model_card_and_results(script, model_type, tmp_path):
    kwargs = json.dumps(
        {
            "num_classes": 4,
            "num_confusable_pairs": 1,
            "feature_dim": 32,
            "num_videos": {"train": 16, "test": 4},
            "min_length": 64,
            "max_length": 96,
            "max_action_length": 24,
        }
    )
    result = script.main(
        [
            "--config",
            str(CONFIGS / "mllm4wtal_synthetic.yaml"),
            "--output_dir",
            str(tmp_path),
            "--max_steps",
            "2",
            "--model_type",
            model_type,
            "--dataset_kwargs",
            kwargs,
            "--disable_tqdm",
            "true",
            "--logging_steps",
            "1",
        ]
    )
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert {"mAP@0.1", "mAP@0.7", "average_mAP@0.1:0.5", "average_mAP@0.3:0.7", "average_mAP@0.1:0.7"} <= set(results)
    assert result["eval"]["average_mAP@0.1:0.7"] == results["average_mAP@0.1:0.7"]
    card = (tmp_path / "README.md").read_text()
    assert "examples/train_mllm4wtal.py" in card and (tmp_path / "model.safetensors").is_file()
    assert (tmp_path / "tokenizer.json").is_file() == (model_type == "mllm4wtal")
