import sys

import datasets
import numpy as np
import pytest
import torch

from momentzoo.data.collators import TemporalGroundingCollator, TemporalLocalizationCollator, random_truncation
from momentzoo.data.memory import release_mapped_pages
from momentzoo.data.synthetic import make_synthetic_grounding_dataset, make_synthetic_tal_dataset
from momentzoo.data.windows import (
    TemporalFeatureDataset,
    feature_lengths,
    merge_window_predictions,
    sliding_windows,
    window_starts,
)
from momentzoo.segments import feature_grid_to_seconds, seconds_to_feature_grid

GEOMETRY = {"fps": 30.0, "feature_stride": 4, "num_frames": 16}


def _row(video_id, length, dim=4, segments=(), labels=(), seed=0):
    feats = np.random.default_rng(seed).standard_normal((length, dim)).astype(np.float32)
    return {
        "video_id": video_id,
        "duration": ((length - 1) * 4 + 16) / 30.0,
        **GEOMETRY,
        "features": feats,
        "segments": [list(s) for s in segments],
        "labels": list(labels),
    }


def _grid(seconds):
    return seconds_to_feature_grid(np.asarray(seconds, dtype=np.float64), 30.0, 4, 16)


def _seconds(grid):
    return feature_grid_to_seconds(np.asarray(grid, dtype=np.float64), 30.0, 4, 16)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_tal_dataset(
        num_videos={"train": 6},
        feature_dim=8,
        min_length=150,
        max_length=300,
        max_action_length=32,
        max_actions_per_video=6,
    )["train"]


def test_padding_attention_mask_and_grid_units():
    rows = [_row("a", 10, segments=[(0.5, 1.0)], labels=[2]), _row("b", 25, seed=1), _row("c", 17, seed=2)]
    rows[1]["features"] = torch.from_numpy(rows[1]["features"])  # torch-formatted row
    rows[2]["features"] = rows[2]["features"].tolist()  # python-formatted row
    collator = TemporalLocalizationCollator(
        max_seq_len=None, training=False, pad_to_multiple_of=8, return_metadata=True
    )
    batch = collator(rows)
    assert set(batch) == {"input_features", "attention_mask", "labels", "metadata"}
    assert batch["input_features"].shape == (3, 32, 4) and batch["input_features"].dtype == torch.float32
    assert batch["attention_mask"].dtype == torch.long
    assert batch["attention_mask"].sum(1).tolist() == [10, 25, 17]
    for b, n in enumerate([10, 25, 17]):
        np.testing.assert_array_equal(batch["input_features"][b, :n].numpy(), np.asarray(rows[b]["features"]))
        assert (batch["input_features"][b, n:] == 0).all() and (batch["attention_mask"][b, n:] == 0).all()
    assert batch["labels"][0]["class_labels"].tolist() == [2]
    torch.testing.assert_close(batch["labels"][0]["segments"], torch.tensor([[1.75, 5.5]]))  # (t*30 - 8) / 4
    assert batch["labels"][1]["segments"].shape == (0, 2) and batch["labels"][1]["class_labels"].dtype == torch.long
    assert batch["metadata"][0] == {
        "video_id": "a",
        "duration": rows[0]["duration"],
        **GEOMETRY,
        "window_start": 0,
        "segments_clipped": 0,
        "segments_dropped": 0,
    }

    fixed = TemporalLocalizationCollator(max_seq_len=40, training=False, padding="max_length")(rows)
    assert fixed["input_features"].shape == (3, 40, 4) and "metadata" not in fixed
    unlabeled = [{k: v for k, v in r.items() if k not in ("segments", "labels")} for r in rows]
    assert "labels" not in TemporalLocalizationCollator(training=False)(unlabeled)


def test_training_truncation_keeps_ground_truth_consistent(synthetic):
    max_len, thresh = 64, 0.5
    rows = synthetic.with_format("numpy")
    collator = TemporalLocalizationCollator(
        max_seq_len=max_len, trunc_thresh=thresh, return_metadata=True, generator=torch.Generator().manual_seed(0)
    )
    for _ in range(5):
        for row in rows:
            batch = collator([row])
            start = batch["metadata"][0]["window_start"]
            T = row["features"].shape[0]
            assert 0 <= start <= T - max_len and batch["attention_mask"].sum() == max_len
            np.testing.assert_array_equal(batch["input_features"][0].numpy(), row["features"][start : start + max_len])
            # every kept segment, mapped back to seconds, is an original segment cut to the window
            original = _grid(row["segments"])
            lo, hi = np.maximum(original[:, 0], start), np.minimum(original[:, 1], start + max_len)
            coverage = np.clip(hi - lo, 0, None) / (original[:, 1] - original[:, 0])
            kept = coverage >= thresh
            expected = _seconds(np.stack([lo, hi], 1)[kept])
            got = _seconds(batch["labels"][0]["segments"].numpy() + start)
            np.testing.assert_allclose(got, expected, atol=1e-4)
            assert batch["labels"][0]["class_labels"].tolist() == row["labels"][kept].tolist()
            assert (batch["labels"][0]["segments"] >= 0).all() and (batch["labels"][0]["segments"] <= max_len).all()
            assert kept.any()  # some crop of these videos always keeps an action
            assert batch["metadata"][0]["segments_dropped"] == int((~kept).sum())
    assert collator.stats["segments_dropped"] > 0 and collator.stats["segments_clipped"] > 0
    assert collator.stats["windows"] == 5 * len(rows)


def test_random_truncation_rule_and_crop_ratio():
    gen = torch.Generator().manual_seed(0)
    segments = torch.tensor([[900.0, 940.0]])  # the only action, near the end of a 1,000-step video
    for _ in range(20):
        start, length = random_truncation(1000, 100, segments, trunc_thresh=0.9, generator=gen)
        assert length == 100 and start + length >= 936 and start <= 904  # covers >= 90% of the action
    assert random_truncation(50, 100, segments[:0], generator=gen) == (0, 50)  # short video: untouched
    lengths = {random_truncation(50, 100, segments[:0], crop_ratio=(0.8, 1.0), generator=gen)[1] for _ in range(50)}
    assert min(lengths) >= 40 and max(lengths) <= 50 and len(lengths) > 3
    # no start can keep it: the last draw is used, as ActionFormer does
    start, length = random_truncation(1000, 100, torch.tensor([[0.0, 500.0]]), trunc_thresh=0.9, generator=gen)
    assert length == 100 and 0 <= start <= 900
    a = random_truncation(1000, 100, segments, generator=torch.Generator().manual_seed(3))
    assert a == random_truncation(1000, 100, segments, generator=torch.Generator().manual_seed(3))


def test_sliding_windows_cover_the_video_and_merge_back_to_seconds(synthetic):
    window, overlap = 64, 0.5
    windows = sliding_windows(synthetic, window, overlap)
    lengths = feature_lengths(synthetic)
    assert lengths.tolist() == [len(f) for f in synthetic.with_format("numpy")["features"]]
    for v, T in enumerate(lengths):
        spans = [(s, s + n) for r, s, n in windows.windows if r == v]
        covered = np.zeros(T, dtype=bool)
        for s, e in spans:
            assert e - s == window and e <= T
            covered[s:e] = True
        assert covered.all() and spans[0][0] == 0 and spans[-1][1] == T
        assert all(b[0] - a[0] <= window * (1 - overlap) for a, b in zip(spans, spans[1:]))
    assert window_starts(50, 64, 32) == [0] and window_starts(100, 64, 32) == [0, 32, 36]

    collator = TemporalLocalizationCollator(max_seq_len=window, training=False, return_metadata=True)
    source = synthetic.with_format("numpy")
    predictions, metadata = [], []
    for i in range(len(windows)):
        item = windows[i]
        batch = collator([item])
        meta = batch["metadata"][0]
        video = source[windows.windows[i][0]]
        np.testing.assert_array_equal(item["features"], video["features"][meta["window_start"] :][:window])
        # a perfect model: the window's ground truth, scored by its length so cut-off copies lose to whole ones
        segs = batch["labels"][0]["segments"].numpy()
        predictions.append(
            [
                {"segment": _seconds(s + meta["window_start"]).tolist(), "score": float(s[1] - s[0]), "label": int(c)}
                for s, c in zip(segs, batch["labels"][0]["class_labels"])
            ]
        )
        metadata.append(meta)
    merged = merge_window_predictions(predictions, metadata, {"method": "hard", "iou_threshold": 0.3})
    assert set(merged) == set(source["video_id"])
    for video in source:
        got = sorted((p["segment"][0], p["segment"][1], p["label"]) for p in merged[video["video_id"]])
        want = sorted((s, e, int(c)) for (s, e), c in zip(video["segments"].tolist(), video["labels"]))
        assert len(got) == len(want)
        np.testing.assert_allclose(np.array(got), np.array(want), atol=1e-4)


def test_merge_window_predictions_details():
    meta = [{"video_id": "v", "duration": 10.0, "window_start": 0}]
    preds = [
        [{"segment": [8.0, 12.0], "score": 0.2, "label": "jump"}, {"segment": [1.0, 2.0], "score": 0.9, "label": "run"}]
    ]
    out = merge_window_predictions(preds, meta)
    assert out == {
        "v": [
            {"segment": [1.0, 2.0], "score": 0.9, "label": "run"},
            {"segment": [8.0, 10.0], "score": 0.2, "label": "jump"},
        ]
    }  # sorted, clipped, as given
    two = merge_window_predictions(preds * 2, meta * 2, {"method": "hard", "iou_threshold": 0.5})
    assert len(two["v"]) == 2  # the duplicates of the second window are suppressed
    with pytest.raises(ValueError, match="metadata entries"):
        merge_window_predictions(preds, meta * 2)
    with pytest.raises(ValueError, match=r"predictions\[0\]\[0\]"):
        merge_window_predictions([[{"segment": [0, 1]}]], meta)


def test_grounding_collator():
    from momentzoo.testing import tiny_tokenizer

    rows = make_synthetic_grounding_dataset(num_videos={"train": 3}, feature_dim=8)["train"].with_format("numpy")
    rows = [rows[i] for i in range(3)]
    collator = TemporalGroundingCollator(tokenizer=tiny_tokenizer(), pad_to_multiple_of=16, return_metadata=True)
    batch = collator(rows)
    lengths = [len(r["features"]) for r in rows]
    assert batch["input_features"].shape == (3, -(-max(lengths) // 16) * 16, 8)
    assert batch["attention_mask"].sum(1).tolist() == lengths
    for b, row in enumerate(rows):
        np.testing.assert_allclose(batch["labels"][b]["windows"].numpy(), row["windows"] / row["duration"], rtol=1e-6)
        assert batch["metadata"][b]["qid"] == row["qid"] and batch["metadata"][b]["query"] == row["query"]
    assert batch["query_input_ids"].shape == batch["query_attention_mask"].shape
    assert batch["query_input_ids"].shape[0] == 3 and batch["query_attention_mask"].sum(1).min() > 0
    tokenizer = tiny_tokenizer()
    assert (
        batch["query_input_ids"][0, : batch["query_attention_mask"][0].sum()].tolist()
        == tokenizer(rows[0]["query"])["input_ids"]
    )

    grid = TemporalGroundingCollator(window_format="feature_grid")(rows)
    np.testing.assert_allclose(grid["labels"][1]["windows"].numpy(), _grid(rows[1]["windows"]), rtol=1e-5)
    assert "query_input_ids" not in grid and "metadata" not in grid
    with pytest.raises(ValueError, match="window_format"):
        TemporalGroundingCollator(window_format="seconds")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_features_name_the_video(bad):
    rows = [_row("fine", 12), _row("broken_video", 12, seed=1)]
    rows[1]["features"][7, 2] = bad
    with pytest.raises(ValueError, match=r"broken_video.*step 7, dim 2"):
        TemporalLocalizationCollator(training=False)(rows)
    rows[1]["windows"], rows[1]["query"] = [[0.1, 0.5]], "person opens the door"
    rows[0]["windows"], rows[0]["query"] = [[0.1, 0.5]], "person opens the door"
    with pytest.raises(ValueError, match="broken_video"):
        TemporalGroundingCollator()(rows)


def test_bad_rows_are_errors_naming_the_video():
    collator = TemporalLocalizationCollator(training=False)
    cases = [
        (dict(segments=[[2.0, 1.0]], labels=[0]), r"vid.*segments\[0\].*does not end after"),
        (dict(segments=[[1.0, 2.0]], labels=[0, 1]), r"vid.*1 segments but labels"),
        (dict(segments=[[1.0, 2.0]], labels=[-1]), r"vid.*negative class id"),
        (dict(features=np.zeros((0, 4), np.float32)), r"vid.*empty"),
        (dict(features=np.zeros(5, np.float32)), r"vid.*\(T, D\)"),
        (dict(fps=0.0), r"vid.*'fps'"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            collator([{**_row("vid", 10), **change}])
    with pytest.raises(ValueError, match="feature dims differ"):
        collator([_row("a", 10, dim=4), _row("b", 10, dim=5)])
    with pytest.raises(ValueError, match="longer than max_seq_len"):
        TemporalLocalizationCollator(max_seq_len=8, training=False, padding="max_length")([_row("long", 10)])
    with pytest.raises(ValueError, match="trunc_thresh"):
        TemporalLocalizationCollator(trunc_thresh=2.0)


def test_feature_dataset_reads_memory_mapped_rows_without_copies(tmp_path):
    data = make_synthetic_tal_dataset(num_videos={"train": 6}, feature_dim=8, min_length=100, max_length=120)
    data.save_to_disk(str(tmp_path / "syn"))
    on_disk = datasets.load_from_disk(str(tmp_path / "syn"))["train"].shuffle(seed=1).select([4, 0, 2])
    reader = TemporalFeatureDataset(on_disk)
    reference = on_disk.with_format("numpy")
    assert len(reader) == 3 and reader.feature_lengths().tolist() == [len(f) for f in reference["features"]]
    for i in range(3):
        row, want = reader[i], reference[i]
        assert row["video_id"] == want["video_id"] and row["labels"] == want["labels"].tolist()
        np.testing.assert_array_equal(row["features"], want["features"])
        assert not row["features"].flags.writeable and not row["features"].flags.owndata  # a view of the file
        np.testing.assert_allclose(row["segments"], want["segments"])

    if sys.platform.startswith("linux"):
        view = reader[0]["features"]
        snapshot = view.copy()
        assert release_mapped_pages(view) > 0
        np.testing.assert_array_equal(view, snapshot)  # still readable, same content (from the page cache)
        private = snapshot.copy()
        assert release_mapped_pages(private) == 0  # memory not registered as mapped is never touched
        np.testing.assert_array_equal(private, snapshot)

    # the same batches through DataLoader workers (pickled/forked reader, shared-memory batches)
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)
    loader = torch.utils.data.DataLoader(reader, batch_size=2, num_workers=1, collate_fn=collator)
    batches = list(loader)
    direct = collator([reader[0], reader[1]])
    torch.testing.assert_close(batches[0]["input_features"], direct["input_features"])
    assert [m["video_id"] for b in batches for m in b["metadata"]] == reference["video_id"]


def test_batch_buffers_and_low_precision():
    from momentzoo.data.memory import empty_batch

    big = empty_batch((2, 1024, 1024))  # 8 MiB: huge-page backed where the kernel allows
    assert big.shape == (2, 1024, 1024) and big.dtype == torch.float32 and big.is_contiguous()
    big.fill_(3.0)
    assert big.sum().item() == 3.0 * 2 * 1024 * 1024
    assert empty_batch((3, 4), torch.float16).shape == (3, 4)

    rows = [_row("a", 10), _row("b", 6, seed=1)]
    batch = TemporalLocalizationCollator(training=False, dtype=torch.bfloat16)(rows)
    assert batch["input_features"].dtype == torch.bfloat16
    torch.testing.assert_close(batch["input_features"][1, :6], torch.from_numpy(rows[1]["features"]).bfloat16())
    assert (batch["input_features"][1, 6:] == 0).all()
    rows[0]["features"][3, 1] = np.nan
    with pytest.raises(ValueError, match="'a'.*step 3, dim 1"):
        TemporalLocalizationCollator(training=False, dtype=torch.bfloat16)(rows)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_trainer_passes_the_collated_batch_straight_to_forward(tmp_path, synthetic, num_workers):
    from transformers import PretrainedConfig, PreTrainedModel, Trainer, TrainingArguments
    from transformers.utils import ModelOutput

    seen = []

    class _Probe(PreTrainedModel):
        config_class = PretrainedConfig
        accepts_loss_kwargs = False

        def __init__(self, config):
            super().__init__(config)
            self.proj = torch.nn.Linear(8, 1)
            self.post_init()

        def forward(self, input_features, attention_mask, labels=None):
            seen.append((tuple(input_features.shape), [len(l["segments"]) for l in labels]))
            scores = self.proj(input_features).squeeze(-1) * attention_mask
            return ModelOutput(loss=scores.pow(2).mean())

    args = TrainingArguments(
        str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=2,
        use_cpu=True,
        report_to=[],
        remove_unused_columns=False,
        save_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=num_workers,
    )  # workers send batches in shared slots
    collator = TemporalLocalizationCollator(max_seq_len=64, pad_to_multiple_of=32)
    for train in (synthetic, TemporalFeatureDataset(synthetic)):
        Trainer(model=_Probe(PretrainedConfig()), args=args, train_dataset=train, data_collator=collator).train()
    assert len(seen) == 4 and all(shape == (2, 64, 8) and len(counts) == 2 for shape, counts in seen)


def test_raw_dataset_handed_to_trainer_names_remove_unused_columns(tmp_path):
    # What a user does first: the dataset straight into Trainer, with its default remove_unused_columns=True, which
    # drops every column the model's forward does not name (features, geometry, segments) before collating.
    from transformers import Trainer, TrainingArguments

    from momentzoo.models.actionformer import ActionFormerForTemporalLocalization
    from momentzoo.testing import tiny_actionformer_config

    train = make_synthetic_tal_dataset(
        num_classes=3,
        num_confusable_pairs=1,
        feature_dim=12,
        min_length=80,
        max_length=80,
        num_videos={"train": 2},
        seed=0,
    )["train"]
    model = ActionFormerForTemporalLocalization(tiny_actionformer_config())
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=1, use_cpu=True, report_to="none", disable_tqdm=True)
    trainer = Trainer(
        model=model, args=args, train_dataset=train, data_collator=TemporalLocalizationCollator(max_seq_len=64)
    )
    with pytest.raises(ValueError, match=r"no 'features' field.*remove_unused_columns=False"):
        trainer.train()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=1,
        use_cpu=True,
        report_to="none",
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train, data_collator=TemporalLocalizationCollator(max_seq_len=64)
    )
    assert trainer.train().training_loss > 0
