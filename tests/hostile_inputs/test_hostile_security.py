"""Hostile inputs that attack the machine or leak data: forged numpy pickles (weak-THUMOS layout), videos that lie
about their length, file names that FFmpeg would read as URLs. (Pushing: test_hostile_push.py.)"""

import os

import numpy as np
import pytest

from momentzoo.data.safe_numpy import load_npy_restricted


def _multiarray():
    return getattr(np, "_core", None) or np.core


class _Reduce:
    """Pickles as whatever `__reduce__` says: how an attacker writes a forged .npy object array."""

    def __init__(self, *reduce):
        self.reduce = reduce

    def __reduce__(self):
        return self.reduce


def _save_object_array(path, *elements):
    array = np.empty(len(elements), dtype=object)
    for i, element in enumerate(elements):
        array[i] = element
    np.save(path, array, allow_pickle=True)
    return path


# --- weak-THUMOS restricted unpickler --------------------------------------------------------------------------
def test_ndarray_called_directly_would_hand_back_uninitialised_memory(tmp_path):
    path = _save_object_array(tmp_path / "uninit.npy", _Reduce(np.ndarray, ((1000,), np.dtype("f8"))))
    assert path.stat().st_size < 400  # a few hundred bytes
    with pytest.raises(ValueError, match="uninit.npy: refusing to call numpy.ndarray directly"):
        load_npy_restricted(path)


def test_reconstruct_without_state_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    path = _save_object_array(tmp_path / "nodata.npy", _Reduce(reconstruct, (np.ndarray, (10**9,), b"f")))
    with pytest.raises(ValueError, match="nodata.npy: an array in the file has no data"):
        load_npy_restricted(path)


def test_array_whose_data_is_not_in_the_stream_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    state = (1, (10**9,), np.dtype("f8"), False, b"\0" * 8)  # 8 GB promised, 8 bytes present
    path = _save_object_array(tmp_path / "big.npy", _Reduce(reconstruct, (np.ndarray, (0,), b"b"), state))
    with pytest.raises(ValueError, match=r"big.npy: array of shape \(1000000000,\) and dtype float64 without its data"):
        load_npy_restricted(path)


def test_object_array_longer_than_the_file_is_refused(tmp_path):
    reconstruct = _multiarray().multiarray._reconstruct
    state = (1, (10**8,), np.dtype("O"), False, [1.0])
    path = _save_object_array(tmp_path / "objs.npy", _Reduce(reconstruct, (np.ndarray, (0,), b"b"), state))
    with pytest.raises(ValueError, match=r"objs.npy: object array of shape \(100000000,\) without its 100000000 elem"):
        load_npy_restricted(path)


def test_forged_dtype_state_is_refused(tmp_path):
    forged = _Reduce(np.dtype, ("V8", False, True), (3, "|", None, ("a",), {"a": (np.dtype("O"), 0)}, 8, 1, 0))
    path = _save_object_array(tmp_path / "dtype.npy", forged)
    with pytest.raises(ValueError, match="dtype.npy: refusing dtype"):
        load_npy_restricted(path)
    path = _save_object_array(tmp_path / "fields.npy", _Reduce(np.dtype, ("f8", False, True),
                                                              (3, "<", None, ("a",), {"a": (np.dtype("f8"), 0)}, 8, 1, 0)))
    with pytest.raises(ValueError, match="fields.npy: refusing dtype state"):
        load_npy_restricted(path)


def test_numeric_npy_whose_header_promises_more_than_the_file_holds(tmp_path):
    path = tmp_path / "short.npy"
    np.save(path, np.zeros(4))
    data = path.read_bytes().replace(b"(4,)", b"(10000000000,)".ljust(4))
    header_end = data.index(b"\n") + 1
    fixed = np.lib.format.header_data_from_array_1_0(np.zeros(4))
    fixed["shape"] = (10**10,)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, fixed)
        f.write(data[header_end:])
    with pytest.raises(ValueError, match="short.npy: header promises 80000000000 bytes of float64 data"):
        load_npy_restricted(path)


def test_honest_object_arrays_still_load(tmp_path):
    path = _save_object_array(tmp_path / "ok.npy", np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5),
                              [np.array(["a", "bc"])], {"k": np.ones(2)}, [[1.0, 2.0]])
    loaded = load_npy_restricted(path)
    assert loaded[0].dtype == np.float32 and loaded[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert loaded[1] == 2.5 and loaded[2][0].tolist() == ["a", "bc"] and loaded[3]["k"].tolist() == [1.0, 1.0]
    assert loaded[4] == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"refusing to unpickle (posix|nt)\.system"):
        load_npy_restricted(_save_object_array(tmp_path / "evil.npy", _Reduce(os.system, ("true",))))
