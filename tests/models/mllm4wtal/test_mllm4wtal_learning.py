"""The demonstration on a synthetic weakly-labelled set (order-confusable classes, told apart only by their complete
extent; synthetic MLLM descriptions), MLLM4WTAL and DELU alone trained from the same initial base weights, data and
steps, the new heads seeded too. What it shows, and what it does not:

* seed 0, where DELU alone trains well (average mAP 0.1:0.7 of 0.114, 3x its untrained value): MLLM4WTAL is
  level with it (0.114), NOT better. The paper's gain where the base trains well is not reproduced here.
* seed 1, where DELU alone collapses (0.000): MLLM4WTAL still learns (0.060). The guidance keeps the tiny base from
  collapsing. Seeds 2-3 and a shuffled-description control, measured by hand, are in the model card; they do not
  settle whether the descriptions' content or the extra losses do the work.
"""

import logging

import pytest
import torch
from common_model_tests import one_thread  # noqa: F401 (autouse fixture)
from transformers import TrainingArguments

from momentzoo.models.delu import DELUModel
from momentzoo.testing.delu import tiny_delu_config
from momentzoo.testing.mllm4wtal import tiny_mllm4wtal
from momentzoo.training.mllm4wtal import WeakTALCollator, WTALTrainer, evaluate_wtal, make_synthetic_wtal_dataset

SEEDS, STEPS = (0, 1), 150


def make_data(seed):
    return make_synthetic_wtal_dataset(
        num_classes=4,
        num_confusable_pairs=1,
        feature_dim=32,
        num_videos={"train": 64, "test": 24},
        min_length=64,
        max_length=128,
        min_action_length=6,
        max_action_length=32,
        max_actions_per_video=3,
        seed=seed,
    )


def base_config(data):
    names = data["train"].features["labels"].feature.names
    return tiny_delu_config(
        input_dim=32,
        rgb_dim=16,
        attention_hidden_size=32,
        classifier_hidden_size=32,
        id2label=dict(enumerate(names)),
        fps=30.0,
        feature_stride=4,
        num_frames=16,
        max_seq_len=128,
    )


def initial_delu(data, seed) -> DELUModel:
    torch.manual_seed(seed)
    return DELUModel(base_config(data))


def train(model, tokenizer, data, tmp_path, seed):
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=STEPS,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        weight_decay=1e-3,
        lr_scheduler_type="constant",
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        remove_unused_columns=False,
        disable_tqdm=True,
        seed=seed,
        dataloader_drop_last=True,
    )
    collator = WeakTALCollator(num_classes=4, max_seq_len=128, tokenizer=tokenizer, seed=seed)
    logging.disable(logging.WARNING)
    try:
        WTALTrainer(
            model=model, args=args, train_dataset=data["train"], data_collator=collator, label_column="video_labels"
        ).train()
    finally:
        logging.disable(logging.NOTSET)
    metrics, _ = evaluate_wtal(model, data["test"])
    return metrics


KEY = "average_mAP@0.1:0.7"


@pytest.fixture(scope="module")
def delu_runs(tmp_path_factory):
    """Per seed: (data, untrained DELU metrics, trained DELU metrics)."""
    runs = {}
    for seed in SEEDS:
        data = make_data(seed)
        untrained, _ = evaluate_wtal(initial_delu(data, seed), data["test"])
        runs[seed] = data, untrained, train(initial_delu(data, seed), None, data, tmp_path_factory.mktemp("d"), seed)
    return runs


@pytest.mark.slow
def test_delu_learns_above_chance_from_video_labels(delu_runs):
    _, untrained, delu = delu_runs[0]
    assert delu[KEY] > 0.08 and delu[KEY] > 3 * untrained[KEY], (delu[KEY], untrained[KEY])


@pytest.fixture(scope="module")
def guided_runs(delu_runs, tmp_path_factory):
    """Per seed: (DELU alone, MLLM4WTAL) average mAP 0.1:0.7."""
    runs = {}
    for seed, (data, _, delu) in delu_runs.items():
        torch.manual_seed(seed)  # the new heads' initial weights, independent of what ran before in the process
        model, tokenizer = tiny_mllm4wtal(base_config=base_config(data))
        model.base.load_state_dict(initial_delu(data, seed).state_dict())  # the same starting base as DELU alone
        runs[seed] = delu[KEY], train(model, tokenizer, data, tmp_path_factory.mktemp("g"), seed)[KEY]
    print(f"\naverage mAP 0.1:0.7 per seed (DELU alone, MLLM4WTAL): {runs}")
    return runs


@pytest.mark.slow
def test_mllm4wtal_is_level_with_a_base_that_trains_well(guided_runs):
    alone, guided = guided_runs[0]
    assert alone > 0.08, alone  # the premise: DELU alone trains well on this seed
    assert guided >= 0.9 * alone, (guided, alone)  # no loss from the guidance; no gain either (see the docstring)


@pytest.mark.slow
def test_mllm4wtal_keeps_a_collapsing_base_learning(guided_runs):
    alone, guided = guided_runs[1]
    assert alone < 0.01, alone  # the premise: DELU alone collapses on this seed
    assert guided > 0.04, guided
