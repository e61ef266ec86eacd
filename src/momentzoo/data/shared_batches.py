"""Batch buffers that DataLoader workers reuse instead of allocating fresh shared memory for every batch.

A DataLoader worker hands each batch to the main process through shared memory. Written into fresh shared
memory (what `default_collate` does), a 2 x 2,304 x 2,048 float32 batch costs a page fault and the zeroing
of a page for each of its 9,216 pages, then the unmapping and freeing of all of them once the main process
drops it, and a file descriptor handed over a socket for every tensor of the batch: on this project's 2-core
VM that was 20 ms of CPU per window, against under 1 ms for the copy itself into memory that is already
mapped (`benchmarks/bench_data.py`). So each worker keeps a small pool of shared-memory slots, the collators
write their `input_features` into a free one, and the main process keeps every slot mapped once it has
seen it: after the first batches a batch travels as a slot number plus its small tensors.

A slot is only reused once the main process is done with the batch. Each slot starts with a header of two
words: "in use", which the worker sets when it fills the slot and the main process clears when the last
tensor viewing the batch is freed there, and "mapped", which the main process sets once it keeps the slot
mapped (from then on the worker sends only the slot's key):

* in the worker, `reusable_buffer(shape, dtype)` returns a tensor in a free slot (or `None` outside a
  DataLoader worker), and `collate_into_shared_slots` wraps the collated batch in `SharedBatch`, a plain
  `dict` whose pickling (the DataLoader's hand-off) sends the slot instead of a tensor and sends small
  tensors (masks, labels) inside the message;
* in the main process the batch arrives as a plain `dict` of plain tensors; `input_features` is backed by a
  `_Lease` of the slot, whose finalizer clears "in use" when every view of the tensor is gone (a
  `.to("cuda")` copy, a `.pin_memory()` copy or the end of the training step).

The main process drops its mapping of a slot when the worker retires it (a larger batch needed a larger
slot) or when the worker process has exited and no batch of its slots is still held. A batch pickled a
second time (sent on to another process) carries a copy, never the slot. When every slot of a worker is in
use (the main process holds on to many batches) the worker allocates a one-off buffer that is not kept, so a
pool never exceeds `MAX_SLOTS` and never blocks.
"""

import itertools
import math
import os
import secrets
import warnings

import numpy as np
import torch

__all__ = ["INLINE_BYTES", "MAX_SLOTS", "SharedBatch", "collate_into_shared_slots", "reusable_buffer"]

MAX_SLOTS = 8  # per worker: prefetch_factor batches in flight plus those the main process still holds
INLINE_BYTES = 1 << 20  # smaller tensors of a batch travel inside the pickled message
_HEADER = 64  # bytes before the payload: the two header words, and 64-byte alignment for the payload
_IN_USE, _MAPPED = 0, 1  # header words
_GROWTH = 1.25  # a slot replaced for a larger batch gets this much headroom (padding="longest" varies)

SlotKey = tuple[str, int]  # (pool token, slot number)


def _header_of(storage: torch.UntypedStorage) -> np.ndarray:
    return torch.empty(0, dtype=torch.int64).set_(storage, 0, (2,)).numpy()


def _itemsize(dtype: torch.dtype) -> int:
    return torch.empty(0, dtype=dtype).element_size()


# ----------------------------------------------------------------------------------------- worker side


class _Slot:
    __slots__ = ("key", "storage", "capacity", "header", "sent")

    def __init__(self, key: SlotKey, capacity: int):
        self.key = key
        self.storage = torch.UntypedStorage._new_shared(_HEADER + capacity)  # zero-filled
        self.capacity = capacity
        self.header = _header_of(self.storage)
        self.sent = False

    @property
    def free(self) -> bool:
        return int(self.header[_IN_USE]) == 0

    def view(self, shape, dtype: torch.dtype) -> torch.Tensor:
        flat = torch.empty(0, dtype=torch.uint8).set_(self.storage, _HEADER, (math.prod(shape) * _itemsize(dtype),))
        return flat.view(dtype).view(tuple(shape))


class _Pool:
    """The slots of one worker process."""

    def __init__(self):
        self.pid = os.getpid()
        self.token = f"{self.pid}-{secrets.token_hex(8)}"
        self.numbers = itertools.count()
        self.slots: list[_Slot] = []
        self.one_off: dict[int, _Slot] = {}  # storage address -> one-off slot, until its batch is sent
        self.pending: list[_Slot] = []  # taken by the collate call under way
        self.retired: list[SlotKey] = []  # dropped slots the main process may still keep mapped

    def acquire(self, nbytes: int) -> _Slot:
        free = [s for s in self.slots if s.free]
        fits = [s for s in free if s.capacity >= nbytes]
        if fits:
            slot = min(fits, key=lambda s: s.capacity)
        else:
            if free:  # a free slot too small for this batch: replace it by a larger one
                self.slots.remove(free[0])
                self.retired.append(free[0].key)
            slot = _Slot((self.token, next(self.numbers)), int(nbytes * _GROWTH) if free else nbytes)
            if len(self.slots) < MAX_SLOTS:
                self.slots.append(slot)
            else:
                self.one_off[slot.storage.data_ptr()] = slot
        slot.header[_IN_USE] = 1
        slot.sent = False
        self.pending.append(slot)
        return slot

    def slot_of(self, tensor: torch.Tensor) -> _Slot | None:
        ptr = tensor.untyped_storage().data_ptr()
        # snapshots: the queue's feeder thread pickles one batch while the worker collates the next
        for slot in list(self.slots) + list(self.one_off.values()):
            if slot.storage.data_ptr() == ptr:
                return slot
        return None


_POOL: _Pool | None = None


def _pool() -> _Pool:
    global _POOL
    if _POOL is None or _POOL.pid != os.getpid():  # a forked child must not share its parent's slots
        _POOL = _Pool()
    return _POOL


def reusable_buffer(shape, dtype: torch.dtype = torch.float32) -> torch.Tensor | None:
    """In a DataLoader worker, an uninitialised tensor of `shape` in a free shared-memory slot of this
    worker (for a batch returned through `collate_into_shared_slots`); `None` in any other process."""
    if torch.utils.data.get_worker_info() is None:
        return None
    return _pool().acquire(math.prod(shape) * _itemsize(dtype)).view(shape, dtype)


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
            slot.header[_IN_USE] = 0
            pool.one_off.pop(slot.storage.data_ptr(), None)
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
        # The DataLoader pickles in a queue feeder thread that only prints an exception and drops the batch,
        # leaving the main process waiting for it forever: whatever fails here, send a plain copy instead.
        try:
            return self._reduce_with_slots(pool)
        except Exception as err:  # reported, and the batch still arrives
            warnings.warn(
                f"momentzoo shared batches: sending a batch as a plain copy ({type(err).__name__}: {err})", stacklevel=2
            )
            copy = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in self.items()}
            for value in self.values():
                slot = pool.slot_of(value) if pool is not None and isinstance(value, torch.Tensor) else None
                if slot is not None and not slot.sent:
                    slot.header[_IN_USE] = 0
            return dict, (copy,)

    def _reduce_with_slots(self, pool: _Pool | None):
        plain, leased, taken = {}, {}, []
        for name, value in self.items():
            slot = pool.slot_of(value) if pool is not None and isinstance(value, torch.Tensor) else None
            if slot is None or slot.sent or slot in taken:
                plain[name] = _inline_small_tensors(value.clone() if slot is not None else value)
                continue
            one_off = slot.storage.data_ptr() in pool.one_off
            # a slot the main process keeps mapped travels as its key; one-off slots are never kept
            storage = None if slot.header[_MAPPED] and not one_off else slot.storage
            byte_offset = value.storage_offset() * value.element_size() - _HEADER
            leased[name] = (
                slot.key,
                storage,
                not one_off,
                byte_offset,
                tuple(value.shape),
                tuple(value.stride()),
                value.dtype,
            )
            taken.append(slot)
        retired = []
        if pool is not None:  # nothing below can fail
            for slot in taken:
                slot.sent = True
                pool.one_off.pop(slot.storage.data_ptr(), None)  # the main process owns a one-off slot from now on
            retired = pool.retired[:]  # the worker's thread may retire another slot meanwhile: it goes next time
            del pool.retired[: len(retired)]
        return _rebuild_batch, (plain, leased, retired, pool.pid if pool is not None else None)


def _inline_small_tensors(value):
    """Tensors of up to `INLINE_BYTES` (masks, labels) as their bytes, to be pickled by value: through the
    DataLoader's queue every tensor would otherwise get a shared-memory file of its own and a file descriptor
    handed over a socket, which costs far more than the bytes."""
    if isinstance(value, torch.Tensor):
        if value.device.type != "cpu" or value.nbytes > INLINE_BYTES or value.layout != torch.strided:
            return value
        t = value.detach().contiguous()
        return _Inline(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"", t.dtype, tuple(t.shape))
    if type(value) is dict:
        return {k: _inline_small_tensors(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_inline_small_tensors(v) for v in value)
    return value


class _Inline:
    __slots__ = ("data", "dtype", "shape")

    def __init__(self, data: bytes, dtype: torch.dtype, shape):
        self.data, self.dtype, self.shape = data, dtype, shape

    def __reduce__(self):
        return _tensor_from_bytes, (self.data, self.dtype, self.shape)


def _tensor_from_bytes(data: bytes, dtype: torch.dtype, shape) -> torch.Tensor:
    if not data:
        return torch.empty(shape, dtype=dtype)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).view(shape)


# ------------------------------------------------------------------------------------------- main side

_MAPPED_SLOTS: dict[SlotKey, torch.UntypedStorage] = {}  # slots this process keeps mapped
_POOL_PIDS: dict[str, int] = {}  # pool token -> its worker's pid


def _process_exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def _forget_exited_pools():
    """Drop the mappings of pools whose worker has exited (their slots can no longer be sent; batches still
    held keep their own reference)."""
    # snapshots and pops: a lease may die in any thread (the pin-memory thread unpickles batches too)
    for token, pid in list(_POOL_PIDS.items()):
        if _process_exited(pid):
            _POOL_PIDS.pop(token, None)
            for key in [k for k in list(_MAPPED_SLOTS) if k[0] == token]:
                _MAPPED_SLOTS.pop(key, None)


class _Lease:
    """Main-process owner of a received slot: exposes its payload to NumPy and frees the slot for the
    worker when the last tensor viewing it is gone."""

    def __init__(self, storage: torch.UntypedStorage, token: str):
        self.storage, self.token = storage, token
        self.header = _header_of(storage)
        size = storage.nbytes() - _HEADER
        self.__array_interface__ = {
            "data": (storage.data_ptr() + _HEADER, False),
            "shape": (size,),
            "typestr": "|u1",
            "version": 3,
        }

    def __del__(self):
        self.header[_IN_USE] = 0
        pid = _POOL_PIDS.get(self.token)
        if pid is not None and _process_exited(pid):  # the epoch's workers are gone: nothing will reuse it
            _forget_exited_pools()


def _rebuild_batch(plain: dict, leased: dict, retired: list, pid: int | None) -> dict:
    for key in retired:
        _MAPPED_SLOTS.pop(tuple(key), None)
    batch = dict(plain)
    for name, (key, storage, keep, byte_offset, shape, stride, dtype) in leased.items():
        token = key[0]
        if storage is None:
            storage = _MAPPED_SLOTS.get(key)
            if storage is None:
                raise RuntimeError(
                    f"momentzoo shared batches: batch field {name!r} refers to slot {key} of a "
                    "DataLoader worker that this process has never received; a SharedBatch can "
                    "only be unpickled in the process its worker sends batches to"
                )
        elif keep:
            if token not in _POOL_PIDS:
                _forget_exited_pools()  # a new worker: the previous epoch's ones may be gone
                _POOL_PIDS[token] = pid
            _MAPPED_SLOTS[key] = storage
            _header_of(storage)[_MAPPED] = 1
        # torch -> NumPy array -> _Lease: the lease dies with the last view of the tensor
        flat = torch.from_numpy(np.asarray(_Lease(storage, token)))
        size = byte_offset + (1 + sum((n - 1) * s for n, s in zip(shape, stride))) * _itemsize(dtype)
        batch[name] = flat[byte_offset:size].view(dtype).as_strided(shape, stride)
    return batch
