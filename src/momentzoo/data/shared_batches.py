"""Batch buffers that DataLoader workers reuse instead of allocating fresh shared memory for every batch.

A DataLoader worker hands each batch to the main process through shared memory. Written into fresh shared
memory (what `default_collate` does), a 2 x 2,304 x 2,048 float32 batch costs one page fault, and the
zeroing of a 4 KiB page, for each of its 9,216 pages, then the unmapping and freeing of all of them once the
main process drops it: about 15 ms of CPU per window on a 2-core VM, against 0.8 ms for the copy itself
into memory that is already mapped (`benchmarks/bench_data.py`). So each worker keeps a small pool of
shared-memory slots and the collators write their `input_features` into a free one.

A slot is only reused once the main process is done with the batch. Each slot starts with a header word
that the worker sets when it fills the slot and the main process clears when the last tensor viewing the
batch is freed there:

* in the worker, `reusable_buffer(shape, dtype)` returns a tensor in a free slot (or `None` outside a
  DataLoader worker), and the collator returns its batch wrapped in `SharedBatch`, a plain `dict` whose
  pickling (the DataLoader's hand-off to the main process) sends the slot instead of a tensor;
* in the main process the batch arrives as a plain `dict` of plain tensors; `input_features` is backed by a
  `_Lease` of the slot, whose finalizer clears the header when every view of the tensor is gone (a
  `.to("cuda")` copy, a `.pin_memory()` copy or the end of the training step).

A batch that is pickled a second time (sent on to another process) carries a copy, never the slot. When
every slot of a worker is in use (the main process holds on to many batches), the worker allocates a
one-off buffer that is not kept, so the pool never exceeds `MAX_SLOTS` and never blocks.
"""

import math
import os
from typing import Dict, List, Optional

import numpy as np
import torch

__all__ = ["MAX_SLOTS", "SharedBatch", "collate_into_shared_slots", "reusable_buffer"]

MAX_SLOTS = 8  # per worker: prefetch_factor batches in flight plus those the main process still holds
_HEADER = 64  # bytes before the payload: the in-use word, and 64-byte alignment for the payload
INLINE_BYTES = 1 << 20  # smaller tensors of a batch travel inside the pickled message
_GROWTH = 1.25  # a slot replaced for a larger batch gets this much headroom (padding="longest" varies)


class _Slot:
    __slots__ = ("storage", "capacity", "header", "sent")

    def __init__(self, capacity: int):
        self.storage = torch.UntypedStorage._new_shared(_HEADER + capacity)
        self.capacity = capacity
        self.header = _header_of(self.storage)
        self.sent = False

    @property
    def free(self) -> bool:
        return int(self.header[0]) == 0

    def take(self):
        self.header[0] = 1
        self.sent = False

    def view(self, shape, dtype: torch.dtype) -> torch.Tensor:
        flat = torch.empty(0, dtype=torch.uint8).set_(self.storage, _HEADER, (math.prod(shape) * _itemsize(dtype),))
        return flat.view(dtype).view(tuple(shape))


def _header_of(storage: torch.UntypedStorage) -> np.ndarray:
    return torch.empty(0, dtype=torch.int64).set_(storage, 0, (1,)).numpy()


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


class _Pool:
    """The slots of one worker process."""

    def __init__(self):
        self.pid = os.getpid()
        self.slots: List[_Slot] = []
        self.pending: List[_Slot] = []  # taken by the collate call under way

    def acquire(self, nbytes: int) -> _Slot:
        free = [s for s in self.slots if s.free]
        fits = [s for s in free if s.capacity >= nbytes]
        if fits:
            slot = min(fits, key=lambda s: s.capacity)
        else:
            if free:  # a free slot too small for this batch: replace it by a larger one
                self.slots.remove(free[0])
            slot = _Slot(int(nbytes * _GROWTH) if free else nbytes)
            if len(self.slots) < MAX_SLOTS:
                self.slots.append(slot)
        slot.take()
        self.pending.append(slot)
        return slot

    def slot_of(self, tensor: torch.Tensor) -> Optional[_Slot]:
        ptr = tensor.untyped_storage().data_ptr()
        for slot in self._all():
            if slot.storage.data_ptr() == ptr:
                return slot
        return None

    def _all(self):
        return self.slots + list(_ONE_OFF.values())


_POOL: Optional[_Pool] = None
_ONE_OFF: Dict[int, _Slot] = {}  # storage address -> one-off slot, until its batch is sent


def _pool() -> _Pool:
    global _POOL
    if _POOL is None or _POOL.pid != os.getpid():  # a forked child must not share its parent's slots
        _POOL = _Pool()
        _ONE_OFF.clear()
    return _POOL


def reusable_buffer(shape, dtype: torch.dtype = torch.float32) -> Optional[torch.Tensor]:
    """In a DataLoader worker, an uninitialised tensor of `shape` in a free shared-memory slot of this
    worker (to be returned inside a `SharedBatch`); `None` in any other process."""
    if torch.utils.data.get_worker_info() is None:
        return None
    pool = _pool()
    slot = pool.acquire(math.prod(shape) * _itemsize(dtype))
    if slot not in pool.slots:
        _ONE_OFF[slot.storage.data_ptr()] = slot
    return slot.view(shape, dtype)


def collate_into_shared_slots(collate, rows):
    """`collate(rows)`; in a DataLoader worker the result is wrapped in a `SharedBatch`, and the slots a
    failing call had taken are given back."""
    if torch.utils.data.get_worker_info() is None:
        return collate(rows)
    pool = _pool()
    pool.pending.clear()
    try:
        batch = collate(rows)
    except BaseException:
        for slot in pool.pending:
            slot.header[0] = 0
            _ONE_OFF.pop(slot.storage.data_ptr(), None)
        raise
    finally:
        pending, pool.pending = pool.pending, []
    return SharedBatch(batch) if pending else batch


class SharedBatch(dict):
    """A batch dict whose tensors in this worker's slots travel to the main process as the slots themselves
    (see the module docstring), and whose small tensors travel inside the message. Pickled anywhere else,
    or a second time, it is an ordinary dict."""

    def __reduce__(self):
        pool = _POOL if _POOL is not None and _POOL.pid == os.getpid() else None
        plain, leased = {}, {}
        for key, value in self.items():
            slot = pool.slot_of(value) if pool is not None and isinstance(value, torch.Tensor) else None
            if slot is None or slot.sent:
                plain[key] = _inline_small_tensors(value.clone() if slot is not None else value)
                continue
            slot.sent = True
            _ONE_OFF.pop(slot.storage.data_ptr(), None)  # the main process owns a one-off slot from now on
            byte_offset = value.storage_offset() * value.element_size() - _HEADER
            leased[key] = (slot.storage, byte_offset, tuple(value.shape), tuple(value.stride()), value.dtype)
        return _rebuild_batch, (plain, leased)


def _inline_small_tensors(value):
    """Tensors of up to `INLINE_BYTES` (masks, labels) wrapped to be pickled by value: through the
    DataLoader's queue every tensor would otherwise get a shared-memory file of its own and a file descriptor
    handed over a socket, which costs far more than the bytes."""
    if isinstance(value, torch.Tensor):
        small = value.device.type == "cpu" and value.nbytes <= INLINE_BYTES and not value.is_sparse
        return _Inline(value) if small else value
    if isinstance(value, dict):
        return type(value)((k, _inline_small_tensors(v)) for k, v in value.items()) if type(value) is dict else value
    if type(value) in (list, tuple):
        return type(value)(_inline_small_tensors(v) for v in value)
    return value


class _Inline:
    __slots__ = ("tensor",)

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor

    def __reduce__(self):
        t = self.tensor.detach().contiguous()
        return _tensor_from_bytes, (t.reshape(-1).view(torch.uint8).numpy().tobytes(), t.dtype, tuple(t.shape))


def _tensor_from_bytes(data: bytes, dtype: torch.dtype, shape) -> torch.Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).view(shape)


class _Lease:
    """Main-process owner of a received slot: exposes its payload to NumPy and frees the slot for the
    worker when the last tensor viewing it is gone."""

    def __init__(self, storage: torch.UntypedStorage):
        self.storage = storage
        self.header = _header_of(storage)
        size = storage.nbytes() - _HEADER
        self.__array_interface__ = {"data": (storage.data_ptr() + _HEADER, False), "shape": (size,),
                                    "typestr": "|u1", "version": 3}

    def __del__(self):
        self.header[0] = 0


def _rebuild_batch(plain: dict, leased: dict) -> dict:
    batch = dict(plain)
    for key, (storage, byte_offset, shape, stride, dtype) in leased.items():
        # torch -> NumPy array -> _Lease: the lease dies with the last view of the tensor
        flat = torch.from_numpy(np.asarray(_Lease(storage)))
        size = byte_offset + (1 + sum((n - 1) * s for n, s in zip(shape, stride))) * _itemsize(dtype)
        batch[key] = flat[byte_offset:size].view(dtype).as_strided(shape, stride)
    return batch
