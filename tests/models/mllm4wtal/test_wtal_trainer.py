"""`WTALTrainer.evaluate` is DELU's protocol through `Trainer.evaluate`: the same numbers as `evaluate_wtal`, with
THUMOS14-style ambiguous segments dropped, and MLLM4WTAL evaluated without descriptions."""

import torch
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)

from momentzoo.models.delu import DELUModel
from momentzoo.testing.delu import tiny_delu_config
from momentzoo.testing.mllm4wtal import tiny_mllm4wtal
from momentzoo.training.mllm4wtal import (
    WTAL_IOU_THRESHOLDS,
    WTALTrainer,
    WTALTrainingArguments,
    evaluate_wtal,
    make_synthetic_wtal_dataset,
)


def _data():
    data = make_synthetic_wtal_dataset(
        num_classes=4, num_confusable_pairs=1, feature_dim=32, num_videos={"test": 6}, min_length=64, max_length=96,
        max_action_length=32, seed=3,
    )["test"]  # fmt: skip
    # an ambiguous span over the first action of every video: detections touching it are not scored
    ambiguous = [[list(row["segments"][0])] for row in data]
    return data.add_column("ambiguous_segments", ambiguous)


def _config(data):
    names = data.features["labels"].feature.names
    return tiny_delu_config(input_dim=32, rgb_dim=16, id2label=dict(enumerate(names)), max_seq_len=128)


def _trainer(model, tmp_path):
    args = WTALTrainingArguments(str(tmp_path), per_device_eval_batch_size=4, use_cpu=True, report_to=[])
    return WTALTrainer(model=model, args=args)


def test_trainer_evaluate_matches_evaluate_wtal_and_drops_ambiguous_segments(tmp_path):
    data = _data()
    torch.manual_seed(0)
    model = DELUModel(_config(data)).eval()
    trainer = _trainer(model, tmp_path)
    metrics = trainer.evaluate(data)
    expected, predictions = evaluate_wtal(model, data)
    for key in [f"mAP@{t}" for t in WTAL_IOU_THRESHOLDS] + ["average_mAP@0.1:0.5", "average_mAP@0.1:0.7"]:
        assert metrics[f"eval_{key}"] == expected[key], key
    got = trainer.last_eval_predictions  # the same detections (scores to float precision: batches pad differently)
    assert {v: [(d["label"], d["segment"]) for d in ds] for v, ds in got.items()} == {
        v: [(d["label"], d["segment"]) for d in ds] for v, ds in predictions.items()
    }
    assert "eval_loss" in metrics  # DELU's loss on the windows' segment-derived video labels
    kept = evaluate_wtal(model, data, ambiguous_column=None)[1]
    assert sum(map(len, predictions.values())) < sum(map(len, kept.values()))


def test_mllm4wtal_evaluates_without_descriptions(tmp_path):
    data = _data()
    torch.manual_seed(0)
    model, _ = tiny_mllm4wtal(base_config=_config(data))
    metrics = _trainer(model.eval(), tmp_path).evaluate(data)
    assert metrics["eval_average_mAP@0.1:0.7"] == evaluate_wtal(model, data)[0]["average_mAP@0.1:0.7"]
    assert "eval_loss" not in metrics
