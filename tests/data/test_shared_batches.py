"""Reusable shared-memory batch slots: the worker-side pool and the main-side lease, in one process (the
DataLoader hand-off is a ForkingPickler round trip with a faked worker), then through a real DataLoader."""

import gc
from multiprocessing.reduction import ForkingPickler

import numpy as np
import pytest
import torch

import momentzoo.data.shared_batches as shared_batches
from momentzoo.data.collators import TemporalGroundingCollator, TemporalLocalizationCollator
from momentzoo.data.shared_batches import SharedBatch, collate_into_shared_slots, reusable_buffer

GEOMETRY = {"fps": 30.0, "feature_stride": 4, "num_frames": 16}


def _row(video_id, length, dim=8, seed=0, segments=((0.5, 1.0),), labels=(1,)):
    feats = np.random.default_rng(seed).standard_normal((length, dim)).astype(np.float32)
    return {
        "video_id": video_id,
        "duration": ((length - 1) * 4 + 16) / 30.0,
        **GEOMETRY,
        "features": feats,
        "segments": [list(s) for s in segments],
        "labels": list(labels),
    }


def _hand_off(batch):
    """What the DataLoader does between a worker and the main process."""
    return ForkingPickler.loads(bytes(ForkingPickler.dumps(batch)))


@pytest.fixture
def fake_worker(monkeypatch):
    """Run collators as a DataLoader worker would (a fresh pool for each test)."""
    monkeypatch.setattr(torch.utils.data, "get_worker_info", lambda: object())
    monkeypatch.setattr(shared_batches, "_POOL", None)
    monkeypatch.setattr(shared_batches, "_MAPPED_SLOTS", {})
    monkeypatch.setattr(shared_batches, "_POOL_PIDS", {})
    yield
    gc.collect()


def _slot_in_use(batch):
    return [not slot.free for slot in shared_batches._POOL.slots]


def test_outside_a_worker_nothing_changes():
    assert reusable_buffer((2, 3)) is None
    batch = TemporalLocalizationCollator(max_seq_len=None, training=False)([_row("a", 12)])
    assert type(batch) is dict


def test_slot_is_reused_only_after_the_main_process_drops_the_batch(fake_worker):
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True)
    rows = [_row("a", 20), _row("b", 16, seed=1)]
    sent = collator(rows)
    assert isinstance(sent, SharedBatch)
    reference = {k: v.clone() for k, v in sent.items() if isinstance(v, torch.Tensor)}
    worker_ptr = sent["input_features"].untyped_storage().data_ptr()

    received = _hand_off(sent)
    assert type(received) is dict and set(received) == set(sent)
    torch.testing.assert_close(received["input_features"], reference["input_features"], rtol=0, atol=0)
    torch.testing.assert_close(received["attention_mask"], reference["attention_mask"], rtol=0, atol=0)
    assert received["labels"][0]["class_labels"].tolist() == [1] and received["metadata"][1]["video_id"] == "b"
    assert not received["attention_mask"].is_shared()  # small tensors travel inside the message
    assert _slot_in_use(sent) == [True]

    # the main process still holds the batch (only a view of it, even): the worker takes a new slot
    view = received["input_features"][1, :4]
    del received
    second = collator([_row("c", 20, seed=2), _row("d", 20, seed=3)])
    assert second["input_features"].untyped_storage().data_ptr() != worker_ptr
    assert _slot_in_use(second) == [True, True]
    torch.testing.assert_close(view, reference["input_features"][1, :4], rtol=0, atol=0)  # not overwritten

    del view
    gc.collect()
    assert _slot_in_use(second) == [False, True]
    del second
    third = collator(rows)
    assert third["input_features"].untyped_storage().data_ptr() == worker_ptr


def test_a_slot_the_main_process_keeps_mapped_travels_as_its_key(fake_worker):
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    rows = [_row("a", 20)]

    def storage_sent(batch):
        _, (plain, leased, retired, pid) = batch.__reduce__()
        return leased["input_features"][1]

    first = collator(rows)
    slot = shared_batches._POOL.slot_of(first["input_features"])
    assert slot.header[1] == 0  # not yet mapped by the main process: the first hand-off carries the storage
    _hand_off(first)  # the batch is dropped at once: the slot is free again, and stays mapped there
    gc.collect()
    assert slot.free and slot.header[1] == 1
    second = collator(rows)
    assert shared_batches._POOL.slot_of(second["input_features"]) is slot
    assert storage_sent(second) is None  # (this inspection counts as its one hand-off)
    np.testing.assert_array_equal(_hand_off(collator(rows))["input_features"][0].numpy(), rows[0]["features"])
    gc.collect()

    shared_batches._MAPPED_SLOTS.clear()  # e.g. unpickled in another process than the one the worker feeds
    gc.collect()
    with pytest.raises(RuntimeError, match="'input_features' refers to slot .* never received"):
        _hand_off(collator(rows))


def test_the_mappings_of_exited_workers_are_dropped_with_their_last_batch(fake_worker):
    import subprocess
    import sys

    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    received = _hand_off(collator([_row("a", 20)]))
    token = shared_batches._POOL.token
    assert set(shared_batches._POOL_PIDS) == {token} and len(shared_batches._MAPPED_SLOTS) == 1
    shared_batches._POOL_PIDS[token] = exited.pid  # as if this worker had exited
    del received
    gc.collect()
    assert shared_batches._POOL_PIDS == {} and shared_batches._MAPPED_SLOTS == {}


def test_a_second_pickle_sends_a_copy_and_a_failed_collate_gives_its_slot_back(fake_worker):
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    sent = collator([_row("a", 20)])
    first, second = _hand_off(sent), _hand_off(sent)
    torch.testing.assert_close(first["input_features"], second["input_features"], rtol=0, atol=0)
    first["input_features"].zero_()
    assert second["input_features"].abs().sum() > 0  # independent copies
    del first, second
    gc.collect()
    assert _slot_in_use(sent) == [False]

    bad = _row("nan", 20)
    bad["features"][3, 2] = np.nan
    with pytest.raises(ValueError, match="'nan'.*NaN or Inf"):
        collator([_row("ok", 20), bad])
    assert not any(_slot_in_use(sent))


def test_the_pool_is_bounded_and_held_batches_stay_intact(fake_worker, monkeypatch):
    monkeypatch.setattr(shared_batches, "MAX_SLOTS", 2)
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    rows = [[_row(f"v{i}", 10 + i, seed=i)] for i in range(5)]
    held = [_hand_off(collator(r)) for r in rows]  # the main process keeps every batch
    assert len(shared_batches._POOL.slots) == 2 and shared_batches._POOL.one_off == {}
    assert len(shared_batches._MAPPED_SLOTS) == 2  # one-off slots are never kept mapped
    for r, batch in zip(rows, held):
        np.testing.assert_array_equal(batch["input_features"][0].numpy(), r[0]["features"])


def test_a_free_slot_too_small_is_replaced_by_a_larger_one(fake_worker):
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False, padding="longest")
    _hand_off(collator([_row("short", 8)]))
    gc.collect()
    assert len(shared_batches._MAPPED_SLOTS) == 1
    received = _hand_off(collator([_row("long", 40, seed=1)]))
    assert len(shared_batches._POOL.slots) == 1
    assert list(shared_batches._MAPPED_SLOTS) == [shared_batches._POOL.slots[0].key]  # the old one was retired
    assert shared_batches._POOL.slots[0].capacity >= 40 * 8 * 4
    np.testing.assert_array_equal(received["input_features"][0].numpy(), _row("long", 40, seed=1)["features"])


def test_low_precision_and_strided_views_survive_the_hand_off(fake_worker):
    def collate(rows):
        buffer = reusable_buffer((3, 4, 5), torch.bfloat16)
        buffer.copy_(torch.arange(60, dtype=torch.bfloat16).view(3, 4, 5))
        return {"x": buffer[:, 1:3].transpose(0, 1), "mask": torch.ones(3, dtype=torch.bool)}

    sent = collate_into_shared_slots(collate, None)
    received = _hand_off(sent)
    assert received["x"].dtype == torch.bfloat16 and received["x"].shape == (2, 3, 5)
    torch.testing.assert_close(received["x"], sent["x"], rtol=0, atol=0)
    assert received["mask"].dtype == torch.bool and received["mask"].all()


def test_small_tensors_of_every_kind_travel_inside_the_message(fake_worker):
    small = {
        "empty": torch.zeros(0, dtype=torch.long),
        "empty_2d": torch.zeros((0, 2)),
        "scalar": torch.tensor(3.5),
        "bf16": torch.arange(6, dtype=torch.bfloat16).view(2, 3).t(),
        "bool": torch.tensor([True, False]),
        "grad": torch.ones(2, requires_grad=True),
    }

    def collate(rows):
        buffer = reusable_buffer((2, 3))
        buffer.fill_(1.0)
        return {"x": buffer, "labels": [dict(small)], "pair": (small["scalar"], "text")}

    received = _hand_off(collate_into_shared_slots(collate, None))
    for key, value in small.items():
        got = received["labels"][0][key]
        assert got.dtype == value.dtype and got.shape == value.shape and not got.is_shared(), key
        torch.testing.assert_close(got, value.detach(), rtol=0, atol=0)
    assert received["pair"][1] == "text" and float(received["pair"][0]) == 3.5


def test_a_batch_that_cannot_travel_as_slots_arrives_as_a_copy(fake_worker, monkeypatch):
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    rows = [_row("a", 20)]
    sent = collator(rows)

    def broken(value):
        raise RuntimeError("cannot inline")

    monkeypatch.setattr(shared_batches, "_inline_small_tensors", broken)
    with pytest.warns(UserWarning, match="plain copy .*cannot inline"):
        received = _hand_off(sent)
    np.testing.assert_array_equal(received["input_features"][0].numpy(), rows[0]["features"])
    assert received["labels"][0]["class_labels"].tolist() == [1]
    assert shared_batches._POOL.slots[0].free  # the copy does not hold the slot


@pytest.mark.parametrize("hold", [True, False], ids=["batches-held", "batches-dropped"])
@pytest.mark.parametrize(
    "collator",
    [
        TemporalLocalizationCollator(max_seq_len=None, training=False, return_metadata=True),
        TemporalGroundingCollator(return_metadata=True),
    ],
    ids=["localization", "grounding"],
)
def test_dataloader_workers_deliver_the_same_batches_as_the_main_process(collator, hold):
    rows = [_row(f"v{i}", 110 - 7 * i, seed=i) for i in range(12)]  # later batches fit earlier slots
    rows[3]["segments"], rows[3]["labels"] = [], []  # empty label tensors travel too
    for row in rows:
        row["query"], row["windows"] = "a person opens the door", [[0.2, 1.0]]

    def loader(num_workers, epochs=1):
        # a batch lost between the processes would hang the test: the timeout turns that into an error
        return torch.utils.data.DataLoader(
            rows * epochs, batch_size=2, num_workers=num_workers, collate_fn=collator, timeout=60 if num_workers else 0
        )

    # held: every batch must stay intact while the workers fill new slots; dropped: each batch is freed
    # before the next arrives, so the workers reuse their slots and send only the slots' keys
    epochs = 1 if hold else 3
    expected = list(loader(0, epochs))
    got = list(loader(2, epochs)) if hold else loader(2, epochs)
    count = 0
    for a, b in zip(expected, got):
        assert type(b) is dict and set(a) == set(b)
        torch.testing.assert_close(a["input_features"], b["input_features"], rtol=0, atol=0)
        torch.testing.assert_close(a["attention_mask"], b["attention_mask"], rtol=0, atol=0)
        assert a["metadata"] == b["metadata"]
        count += 1
    assert count == len(expected) == 6 * epochs


def test_spawned_workers_use_their_own_slots():
    # spawn is the default start method on macOS and Windows: the collator and the slots' storages are
    # pickled to fresh interpreters, and the main process maps the slots from their file descriptors
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    rows = [_row(f"v{i}", 40, seed=i) for i in range(8)]
    loader = torch.utils.data.DataLoader(
        rows, batch_size=2, num_workers=2, collate_fn=collator, timeout=120, multiprocessing_context="spawn"
    )
    for b, batch in enumerate(loader):
        for i in range(2):
            np.testing.assert_array_equal(batch["input_features"][i].numpy(), rows[2 * b + i]["features"])
    assert b == 3


def test_persistent_workers_keep_their_slots_across_epochs(monkeypatch):
    monkeypatch.setattr(shared_batches, "_MAPPED_SLOTS", {})
    monkeypatch.setattr(shared_batches, "_POOL_PIDS", {})
    collator = TemporalLocalizationCollator(max_seq_len=None, training=False)
    rows = [_row(f"v{i}", 30, seed=i) for i in range(8)]
    loader = torch.utils.data.DataLoader(
        rows, batch_size=2, num_workers=2, collate_fn=collator, timeout=60, persistent_workers=True
    )
    pools = set()
    for _ in range(3):
        for b, batch in enumerate(loader):
            for i in range(2):
                np.testing.assert_array_equal(batch["input_features"][i].numpy(), rows[2 * b + i]["features"])
        pools |= set(shared_batches._POOL_PIDS)
    assert len(pools) == 2  # the same two workers, each with one pool, for all three epochs
    assert 2 <= len(shared_batches._MAPPED_SLOTS) <= 2 * shared_batches.MAX_SLOTS
