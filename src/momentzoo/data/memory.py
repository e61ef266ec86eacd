"""Memory for streaming large feature windows: flat RSS over memory-mapped Arrow, cheap batch buffers.

**Releasing mapped pages.** A `datasets` dataset on disk is memory-mapped: reading a row faults its pages
into the process, and Linux counts every page a process has touched in its RSS until the mapping goes away.
Iterating a 4 GB feature dataset therefore shows a 4 GB RSS per DataLoader worker even though nothing was
copied into private memory. Once a row has been copied into a batch, `release_mapped_pages` tells the kernel
that this process no longer needs those pages (`madvise(MADV_DONTNEED)`): RSS drops, the OS page cache keeps
the data, and the next read faults it back in from the cache.

`MADV_DONTNEED` would *discard* the content of anonymous or written private memory, so it is only ever
applied to address ranges registered here: the buffers of a dataset's memory-mapped Arrow tables, checked
against `/proc/self/maps` to lie in read-only file-backed mappings. The registering object keeps the table,
and so the mapping, alive; its registration is removed when it is garbage-collected.

**Batch buffers.** A fresh multi-megabyte buffer costs one page fault per 4 KiB page on first write (a
2,304 x 2,048 float32 window is 4,608 of them), which on virtual machines costs more than the copy that fills
it. `empty_batch` backs large CPU buffers with transparent huge pages (`madvise(MADV_HUGEPAGE)`, purely
advisory) where the kernel allows it: 2 MiB per fault.

Outside Linux every function here falls back to plain behaviour (no release; `torch.empty`).
"""

import bisect
import ctypes
import mmap
import sys
import threading
import weakref

import numpy as np
import torch

__all__ = ["empty_batch", "register_mapped_dataset", "release_mapped_pages"]

_MADV_DONTNEED = 4
_MADV_HUGEPAGE = 14
_HUGE_PAGE = 2 << 20
_PAGE = mmap.PAGESIZE
_LIBC = None
if sys.platform.startswith("linux"):
    try:
        _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        _LIBC.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        _LIBC = None

_LOCK = threading.Lock()
_OWNERS: dict[int, list[tuple[int, int]]] = {}  # id(owner) -> [(lo, hi)] page-aligned ranges of its mapped buffers
_STARTS: list[int] = []
_RANGES: list[tuple[int, int]] = []


def _readonly_file_mappings() -> list[tuple[int, int]]:
    out = []
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            # address perms offset dev inode [path]; inode 0 means anonymous
            if len(parts) >= 6 and "w" not in parts[1] and parts[4] != "0":
                lo, hi = parts[0].split("-")
                out.append((int(lo, 16), int(hi, 16)))
    out.sort()
    return out


def _rebuild():
    ranges = sorted(r for rs in _OWNERS.values() for r in rs)
    _RANGES[:] = ranges
    _STARTS[:] = [lo for lo, _ in ranges]


def _unregister(key: int):
    with _LOCK:
        if _OWNERS.pop(key, None) is not None:
            _rebuild()


def _table_buffers(table):
    """(address, size) of every buffer of a pyarrow Table."""
    for column in table.columns:
        for chunk in column.chunks:
            for buf in chunk.buffers():
                if buf is not None and buf.size > 0:
                    yield buf.address, buf.size


def register_mapped_dataset(owner, dataset) -> int:
    """Register the memory-mapped Arrow buffers of `dataset` (a `datasets.Dataset`) for page release,
    for as long as `owner` (which must keep `dataset` alive) lives. Returns the number of bytes registered
    (0 for in-memory datasets or outside Linux)."""
    if _LIBC is None:
        return 0
    from datasets.table import ConcatenationTable, MemoryMappedTable

    table = dataset.data
    blocks = [b for row in table.blocks for b in row] if isinstance(table, ConcatenationTable) else [table]
    mapped = [b.table for b in blocks if isinstance(b, MemoryMappedTable)]
    if not mapped:
        return 0
    mappings = _readonly_file_mappings()
    starts = [lo for lo, _ in mappings]
    ranges = []
    for t in mapped:
        for address, size in _table_buffers(t):
            i = bisect.bisect_right(starts, address) - 1
            if i < 0 or address + size > mappings[i][1]:
                continue  # not inside one read-only file mapping: never touch it
            # widen to whole pages: still inside the (page-aligned) mapping
            lo = address - address % _PAGE
            hi = min(-(-(address + size) // _PAGE) * _PAGE, mappings[i][1])
            ranges.append((lo, hi))
    if not ranges:
        return 0
    ranges.sort()
    merged = [ranges[0]]
    for lo, hi in ranges[1:]:
        if lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    key = id(owner)
    with _LOCK:
        _OWNERS[key] = merged
        _rebuild()
    weakref.finalize(owner, _unregister, key)
    return sum(hi - lo for lo, hi in merged)


def release_mapped_pages(array) -> int:
    """Drop this process's resident pages under `array` (a NumPy array) if it lies in a registered
    memory-mapped range; returns the number of bytes released (0 when it does not, or outside Linux).
    Safe to call on any array: memory that was not registered is never touched."""
    if _LIBC is None or not _RANGES or not isinstance(array, np.ndarray) or array.nbytes == 0:
        return 0
    if not array.flags.c_contiguous:  # nbytes would not be its extent in memory
        return 0
    address = array.__array_interface__["data"][0]
    end = address + array.nbytes
    with _LOCK:
        i = bisect.bisect_right(_STARTS, address) - 1
        if i < 0 or end > _RANGES[i][1]:
            return 0
        lo_limit, hi_limit = _RANGES[i]
    lo = max(address - address % _PAGE, lo_limit)
    hi = min(-(-end // _PAGE) * _PAGE, hi_limit)
    if hi <= lo or _LIBC.madvise(ctypes.c_void_p(lo), ctypes.c_size_t(hi - lo), _MADV_DONTNEED) != 0:
        return 0
    return hi - lo


def _huge_pages_allowed() -> bool:
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[never]" not in f.read()
    except OSError:
        return False


_HUGE_PAGES = _LIBC is not None and _huge_pages_allowed()


def empty_batch(shape, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """`torch.empty(shape, dtype=dtype)` on the CPU; buffers of 8 MiB or more start on a 2 MiB boundary of a
    slightly larger allocation advised to use transparent huge pages (the tensor is a view of it)."""
    numel = 1
    for size in shape:
        numel *= int(size)
    nbytes = numel * torch.empty(0, dtype=dtype).element_size()
    if not _HUGE_PAGES or nbytes < 4 * _HUGE_PAGE:
        return torch.empty(tuple(shape), dtype=dtype)
    raw = torch.empty(nbytes + _HUGE_PAGE, dtype=torch.uint8)
    address = raw.data_ptr()
    offset = -address % _HUGE_PAGE
    # advice only: the memory is fresh and untouched, and MADV_HUGEPAGE never changes content
    _LIBC.madvise(ctypes.c_void_p(address + offset), ctypes.c_size_t(nbytes // _HUGE_PAGE * _HUGE_PAGE), _MADV_HUGEPAGE)
    return raw[offset : offset + nbytes].view(dtype).view(tuple(shape))
