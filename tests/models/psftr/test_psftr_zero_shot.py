"""The zero-shot protocol around PSFTR: class splits of any dataset, the synthetic set in a shared text space, the
unseen-class evaluation and its table, and a short training run that transfers to unseen classes."""

import logging

import numpy as np
import pytest
import torch

from momentzoo.data import TemporalLocalizationCollator, make_synthetic_tal_dataset, sliding_windows
from momentzoo.data.class_splits import random_class_split, select_classes
from momentzoo.data.synthetic_zero_shot import make_synthetic_zero_shot_dataset
from momentzoo.models.psftr import PSFTRModel
from momentzoo.testing import tiny_clip
from momentzoo.training.tal import (
    ZERO_SHOT_IOU_THRESHOLDS,
    evaluate_zero_shot,
    format_zero_shot_table,
    zero_shot_classes,
    zero_shot_data,
)

SMALL = dict(
    hidden_size=32,
    num_attention_heads=4,
    ffn_dim=64,
    dropout=0.0,
    num_encoder_layers=1,
    num_decoder_layers=2,
    num_queries=6,
    encoder_num_points=2,
    decoder_num_points=2,
    roi_size=4,
)
DATA = dict(
    num_classes=12,
    num_confusable_pairs=0,
    min_length=32,
    max_length=48,
    min_action_length=6,
    max_action_length=14,
    max_actions_per_video=2,
    signal_strength=1.0,
    distractor_rate=0.0,
    background_drift=0.0,
    seed=0,
)


@pytest.fixture(autouse=True)
def _quiet_filters(caplog):
    caplog.set_level(logging.ERROR, logger="momentzoo.data.zero_shot")  # the split filter logs its counts


def test_random_class_split_is_a_seeded_partition():
    names = [f"class {i}" for i in range(12)]
    split = random_class_split(names, 0.25, index=3, seed=0)
    assert len(split["unseen"]) == 3 and sorted(split["seen"] + split["unseen"]) == sorted(names)
    assert split["seen"] == [n for n in names if n in split["seen"]]  # input order kept
    assert random_class_split(names, 0.25, index=3, seed=0) == split
    assert len({tuple(random_class_split(names, 0.5, index=k)["unseen"]) for k in range(10)}) > 1
    with pytest.raises(ValueError, match="at least 2 distinct"):
        random_class_split(["a", "a"])
    with pytest.raises(ValueError, match="unseen_fraction"):
        random_class_split(names, 1.0)
    # the shipped lists for the standard benchmarks
    assert len(zero_shot_classes("THUMOS14", None, "75_25", 0)["unseen"]) == 5


def test_select_classes_keeps_exactly_the_segments_of_its_classes():
    data = make_synthetic_tal_dataset(
        num_classes=6,
        num_confusable_pairs=1,
        feature_dim=8,
        num_videos={"train": 20},
        min_length=40,
        max_length=60,
        max_action_length=20,
    )
    rows = data["train"]
    names = rows.features["labels"].feature.names
    keep = [names[4], names[1]]
    out = select_classes(rows, keep)
    assert out.features["labels"].feature.names == keep
    expected = {
        (r["video_id"], tuple(s), names[l])
        for r in rows
        for s, l in zip(r["segments"], r["labels"])
        if names[l] in keep
    }
    got = {(r["video_id"], tuple(s), keep[l]) for r in out for s, l in zip(r["segments"], r["labels"])}
    assert got == expected and all(len(r["labels"]) for r in out)
    with pytest.raises(ValueError, match=r"\['jump'\] are not classes of the dataset"):
        select_classes(rows, ["jump"])


def test_synthetic_zero_shot_features_carry_their_class_text_embedding():
    config = dict(DATA, num_classes=4, num_videos={"train": 6})
    embeddings = np.random.default_rng(0).standard_normal((4, 16))
    plain = make_synthetic_tal_dataset(feature_dim=16, **config)["train"].with_format("numpy")
    shifted = make_synthetic_zero_shot_dataset(embeddings, semantic_strength=0.5, **config)["train"]
    shifted = shifted.with_format("numpy")
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True) * np.sqrt(16) * 0.5
    for a, b in zip(plain, shifted):
        expected = a["features"].copy()
        for (start, end), label in zip(a["segments"], a["labels"]):
            first, last = (np.array([start, end]) * a["fps"] - a["num_frames"] / 2) / a["feature_stride"] + 0.5
            expected[int(round(first)) : int(round(last))] += unit[label]
        np.testing.assert_allclose(b["features"], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"class_embeddings must be \(4, D\)"):
        make_synthetic_zero_shot_dataset(embeddings[:3], **config)


def test_zero_shot_table_layout():
    metrics = {k: {"mAP@0.3": 0.5, "mAP@0.7": 0.1, "average_mAP": 0.3 + 0.1 * k} for k in range(2)}
    table = format_zero_shot_table(metrics, [0.3, 0.7], title="THUMOS14 75/25")
    lines = table.splitlines()
    assert lines[0] == "**THUMOS14 75/25**" and lines[2] == "| split | 0.3 | 0.7 | Avg |"
    assert lines[4] == "| 0 | 50.00 | 10.00 | 30.00 |"
    assert lines[-1] == "| mean (2 splits) | 50.00 | 10.00 | 35.00 |"
    assert ZERO_SHOT_IOU_THRESHOLDS["ActivityNet"] == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def test_short_training_on_seen_classes_transfers_to_unseen_ones():
    """Train a small PSFTR on 9 seen synthetic classes for 60 steps: the loss falls and the mAP on the 3 unseen
    classes (scored by name only) beats the untrained model's, because the text embeddings of the class names
    connect them to their features (the synthetic set's shared text space)."""
    torch.manual_seed(0)
    clip, tokenizer = tiny_clip()
    names = (
        make_synthetic_tal_dataset(num_videos={"x": 0}, feature_dim=16, **DATA)["x"].features["labels"].feature.names
    )
    classes = random_class_split(names, 0.25, index=0)
    torch.manual_seed(0)
    model = PSFTRModel.from_backbones(clip, tokenizer=tokenizer, id2label=dict(enumerate(classes["seen"])), **SMALL)
    with torch.no_grad():
        data = make_synthetic_zero_shot_dataset(model.embed_class_names, num_videos={"train": 96, "test": 48}, **DATA)
    train, test, split = zero_shot_data(data, "synthetic", "75_25", 0)
    assert split == classes and len(test) > 5

    def unseen_map():
        return evaluate_zero_shot(model, test, classes["unseen"], window_size=32, batch_size=64)[0]["average_mAP"]

    untrained = unseen_map()
    windows = sliding_windows(train.with_format("numpy"), 32, 0.75)
    collator = TemporalLocalizationCollator(max_seq_len=32, training=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3, weight_decay=1e-4)
    order = torch.Generator().manual_seed(0)
    model.train()
    losses = []
    for _ in range(60):
        batch = collator([windows[i] for i in torch.randint(len(windows), (8,), generator=order).tolist()])
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:10])
    trained = unseen_map()
    print(f"unseen-class average mAP: untrained {untrained:.3f}, trained {trained:.3f}")
    assert trained > untrained + 0.03, (untrained, trained)


def test_the_zero_shot_example_trains_evaluates_and_reevaluates_its_checkpoints(tmp_path, monkeypatch):
    """examples/eval_zero_shot.py on the synthetic config, shrunk: two splits trained for a few steps, the table
    written, and the saved checkpoints re-evaluated to the same figures."""
    import importlib
    import json
    from pathlib import Path

    examples = Path(__file__).resolve().parents[3] / "examples"
    monkeypatch.syspath_prepend(str(examples))
    eval_zero_shot = importlib.import_module("eval_zero_shot")
    config = str(examples / "configs" / "psftr_synthetic.yaml")
    small = [
        "--config",
        config,
        "--splits",
        "0,4",
        "--max_steps",
        "3",
        "--disable_tqdm",
        "true",
        "--dataset_kwargs",
        json.dumps(dict(DATA, num_videos={"train": 16, "test": 24})),
    ]
    trained = eval_zero_shot.main(small + ["--output_dir", str(tmp_path / "run")])
    assert list(trained["75_25"]) == [0, 4]
    table = (tmp_path / "run" / "zero_shot_results.md").read_text()
    assert "| mean (2 splits) |" in table and "| split | 0.3 | 0.4 | 0.5 | 0.6 | 0.7 | Avg |" in table
    saved = json.loads((tmp_path / "run" / "75_25" / "split_4" / "eval_results.json").read_text())
    assert saved["unseen"]["average_mAP"] == trained["75_25"][4]["average_mAP"]
    assert len(saved["seen_classes"]) == 9 and len(saved["unseen_classes"]) == 3
    again = eval_zero_shot.main(
        small + ["--output_dir", str(tmp_path / "eval"), "--checkpoints_dir", str(tmp_path / "run")]
    )
    for k in (0, 4):
        assert again["75_25"][k]["average_mAP"] == pytest.approx(trained["75_25"][k]["average_mAP"], abs=1e-9)


@pytest.mark.real_data
@pytest.mark.parametrize("ratio", ["75_25", "50_50"])
def test_zero_shot_data_on_real_thumos14_and_the_shipped_lists(real_data, tmp_path, ratio):
    """The protocol's data on the real THUMOS14 annotations: for every split, training keeps all and only the
    seen-class segments of the val videos, evaluation all and only the unseen-class segments of the test videos."""
    import warnings

    from momentzoo.data import Thumos14Builder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        builder = Thumos14Builder(
            annotation_file=str(real_data / "thumos14/thumos14_annotations.json"),
            invalid_segments="drop",
            cache_dir=str(tmp_path),
        )
        builder.download_and_prepare()
    data = builder.as_dataset()
    names = data["val"].features["labels"].feature.names

    def segments(rows, labels):
        return {(r["video_id"], tuple(s), labels[k]) for r in rows for s, k in zip(r["segments"], r["labels"])}

    every = {split: segments(data[split], names) for split in ("val", "test")}
    for index in range(10):
        train, test, classes = zero_shot_data(data, "THUMOS14", ratio, index, train_split="val", eval_split="test")
        assert not set(classes["seen"]) & set(classes["unseen"]) and len(classes["seen"] + classes["unseen"]) == 20
        assert segments(train, classes["seen"]) == {x for x in every["val"] if x[2] in classes["seen"]}
        assert segments(test, classes["unseen"]) == {x for x in every["test"] if x[2] in classes["unseen"]}
        assert all(len(r["labels"]) for r in test)  # no video without an unseen action is evaluated


@pytest.mark.parametrize("name", ["psftr_thumos14.yaml", "psftr_activitynet.yaml", "psftr_synthetic.yaml"])
def test_psftr_example_configs_parse_and_hold_valid_model_configs(name, monkeypatch):
    import importlib
    from pathlib import Path

    from transformers import TrainingArguments

    from momentzoo.models.psftr import PSFTRConfig
    from momentzoo.training.tal_script import as_dict, example_parser

    examples = Path(__file__).resolve().parents[3] / "examples"
    monkeypatch.syspath_prepend(str(examples))
    train_psftr = importlib.import_module("train_psftr")
    model_args, data_args, training_args = example_parser(
        (train_psftr.ModelArguments, train_psftr.ZeroShotDataArguments, TrainingArguments)
    ).parse_args_and_config(["--config", str(examples / "configs" / name)])
    config = PSFTRConfig(**as_dict(model_args.model_config, "model_config"))
    assert data_args.benchmark in ZERO_SHOT_IOU_THRESHOLDS and data_args.split_ratio in ("75_25", "50_50")
    assert list(data_args.iou_thresholds) == list(ZERO_SHOT_IOU_THRESHOLDS[data_args.benchmark])
    if name == "psftr_activitynet.yaml":  # the paper's ActivityNet differences
        assert (config.num_decoder_layers, config.num_queries, config.saliency_loss_coefficient) == (2, 30, 2.0)
        assert training_args.learning_rate == 5e-5 and training_args.num_train_epochs == 20
    if name == "psftr_thumos14.yaml":
        assert (config.num_decoder_layers, config.num_queries) == (5, 40)
        assert training_args.learning_rate == 1e-4 and training_args.num_train_epochs == 30
        assert training_args.per_device_train_batch_size == 16 and training_args.weight_decay == 1e-4
