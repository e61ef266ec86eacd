"""Reading `.npy` object arrays (lists of segments, label lists) without executing arbitrary pickles.

Weakly-supervised TAL code stores its annotations as numpy object arrays, which `np.load` can only
read with `allow_pickle=True`, i.e. by running whatever the pickle says. We read the `.npy` header
ourselves and unpickle with an allow-list that admits only the numpy reconstructors an object array
needs (the same idea as `torch.load(weights_only=True)`); anything else in the file is refused.
"""

from __future__ import annotations

import io
import math
import os
import pickle

import numpy as np

__all__ = ["load_npy_restricted"]


# Plain numeric and text element types: no fields, no subarrays, no metadata (a forged dtype state with those
# can disclose object addresses). "O" only for the object array itself, whose elements are Python objects.
_PLAIN_KINDS = frozenset("biufcSU")
_BYTE_ORDERS = frozenset("<>|=")


class _DtypeSpec:
    """Stands in for `numpy.dtype(obj, align, copy)` during unpickling: its pickled state is checked before a real
    dtype is built, and it can only reach numpy through the checked reconstructors below."""

    def __init__(self, source: str, obj, align=False, copy=True):
        name = obj.decode("latin1") if isinstance(obj, bytes) else obj
        if not isinstance(name, str):
            raise ValueError(f"{source}: refusing dtype {obj!r} (only plain numeric, text or object types)")
        try:
            dtype = np.dtype(name)
        except TypeError as err:
            raise ValueError(f"{source}: refusing dtype {name!r} ({err})") from None
        if dtype.kind not in _PLAIN_KINDS and dtype != np.dtype(object) or dtype.fields or dtype.subdtype:
            raise ValueError(f"{source}: refusing dtype {name!r} (only plain numeric, text or object types)")
        self.source, self.dtype = source, dtype

    def __setstate__(self, state):
        # numpy pickles a plain dtype as (version, byteorder, None, None, None, elsize, alignment, flags).
        ok = isinstance(state, tuple) and len(state) in (8, 9) and state[1] in _BYTE_ORDERS
        ok = ok and state[2] is None and state[3] is None and state[4] is None
        if not ok:
            raise ValueError(f"{self.source}: refusing dtype state {state!r} (subarrays, fields or names)")
        if self.dtype.kind in "SU":
            elsize = state[5]
            if not isinstance(elsize, int) or not 0 <= elsize <= 1 << 20:
                raise ValueError(f"{self.source}: refusing text dtype of element size {elsize!r}")
            self.dtype = np.dtype(f"{self.dtype.kind}{elsize // (4 if self.dtype.kind == 'U' else 1)}")
        if state[1] in "<>":
            self.dtype = self.dtype.newbyteorder(state[1])


class _ArrayToken:
    """What `numpy.ndarray` resolves to: accepted only as `_reconstruct`'s first argument, never called (calling
    `ndarray(shape, dtype)` would hand back uninitialised memory)."""

    def __init__(self, *args, **kwargs):
        raise ValueError("refusing to call numpy.ndarray directly (an array must carry its data)")


class _RestrictedUnpickler(pickle.Unpickler):
    """Only numpy's reconstructors, checked: every array gets its data from the stream (shape times item size bytes,
    or one pickled object per element), its dtype is plain, and the elements created stay within `budget` (the
    payload's size: data present in the stream cannot be larger than the stream)."""

    def __init__(self, file, source: str, budget: int):
        super().__init__(file, encoding="latin1")
        self._source, self._budget, self._pending = source, budget, []

    def find_class(self, module: str, name: str):
        numpy_module = module in ("numpy.core.multiarray", "numpy._core.multiarray")
        if (module, name) == ("numpy", "ndarray"):
            return _ArrayToken
        if (module, name) == ("numpy", "dtype"):
            return lambda obj, align=False, copy=True: _DtypeSpec(self._source, obj, align, copy)
        if numpy_module and name == "_reconstruct":
            return self._reconstruct
        if numpy_module and name == "scalar":
            return self._scalar
        raise ValueError(f"{self._source}: refusing to unpickle {module}.{name} (only numpy arrays are allowed)")

    def _reconstruct(self, subtype, shape, dtype):
        if subtype is not _ArrayToken:
            raise ValueError(f"{self._source}: refusing to reconstruct {subtype!r} (only numpy.ndarray)")
        array = _PendingArray(self)
        self._pending.append(array)
        return array

    def _scalar(self, dtype, data=None):
        if not isinstance(dtype, _DtypeSpec) or dtype.dtype.hasobject:
            raise ValueError(f"{self._source}: refusing a numpy scalar without a plain dtype")
        if not isinstance(data, bytes) or len(data) != dtype.dtype.itemsize:
            raise ValueError(f"{self._source}: a numpy scalar's data does not match its dtype {dtype.dtype}")
        return np.frombuffer(data, dtype=dtype.dtype)[0].copy()

    def _build_array(self, state) -> np.ndarray:
        if not isinstance(state, tuple) or len(state) != 5:
            raise ValueError(f"{self._source}: malformed array state")
        _, shape, spec, fortran, data = state
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ValueError(f"{self._source}: malformed array shape {shape!r}")
        if not isinstance(spec, _DtypeSpec):
            raise ValueError(f"{self._source}: array dtype is not a checked numpy dtype")
        count = math.prod(shape)
        order = "F" if fortran else "C"
        if spec.dtype.hasobject:
            if not isinstance(data, list) or len(data) != count:
                raise ValueError(f"{self._source}: object array of shape {shape} without its {count} elements")
            self._spend(count)
            array = np.empty(count, dtype=object)
            array[:] = data
            return array.reshape(shape, order=order)
        if not isinstance(data, bytes) or len(data) != count * spec.dtype.itemsize:
            raise ValueError(
                f"{self._source}: array of shape {shape} and dtype {spec.dtype} without its data "
                f"({count * spec.dtype.itemsize} bytes expected)"
            )
        self._spend(len(data))
        return np.frombuffer(data, dtype=spec.dtype).reshape(shape, order=order).copy()

    def _spend(self, amount: int) -> None:
        self._budget -= amount
        if self._budget < 0:
            raise ValueError(f"{self._source}: arrays larger than the file could hold")

    def load(self):
        result = super().load()
        unfilled = [a for a in self._pending if a.array is None]
        if unfilled:
            raise ValueError(f"{self._source}: an array in the file has no data (refusing uninitialised memory)")
        return _materialise(result)


class _PendingArray:
    """An array under reconstruction: pickle's BUILD hands it the state, which is checked before numpy sees it."""

    __slots__ = ("array", "unpickler")

    def __init__(self, unpickler):
        self.unpickler, self.array = unpickler, None

    def __setstate__(self, state):
        if self.array is not None:
            raise ValueError(f"{self.unpickler._source}: an array's state is given twice")
        self.array = self.unpickler._build_array(state)


def _materialise(value):
    """Replace the placeholders by their arrays, in object arrays and lists (the shapes numpy pickles produce)."""
    if isinstance(value, _PendingArray):
        value = value.array
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        flat = value.reshape(-1)
        for i, item in enumerate(flat):
            flat[i] = _materialise(item)
    elif isinstance(value, list):
        value[:] = [_materialise(item) for item in value]
    elif isinstance(value, tuple):
        value = tuple(_materialise(item) for item in value)
    elif isinstance(value, dict):
        value.update({key: _materialise(item) for key, item in value.items()})
    return value


def load_npy_restricted(path: str | os.PathLike) -> np.ndarray:
    """Load a `.npy` file; object arrays are unpickled with a checked, numpy-only allow-list. A numeric array must
    hold all the bytes its header promises (nothing is allocated for data the file does not contain)."""
    source = str(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as err:
            raise ValueError(f"{source}: not a valid .npy file ({err})") from err
        if not dtype.hasobject:
            expected = math.prod(shape) * dtype.itemsize
            if dtype.fields or dtype.subdtype or expected > size - f.tell():
                raise ValueError(
                    f"{source}: header promises {expected} bytes of {dtype} data, the file holds "
                    f"{size - f.tell()} (or the dtype is not plain)"
                )
            f.seek(0)
            return np.load(f, allow_pickle=False)
        payload = f.read()
    if math.prod(shape) > len(payload):
        raise ValueError(f"{source}: header shape {shape} has more elements than the file could hold")
    try:
        array = _RestrictedUnpickler(io.BytesIO(payload), source, budget=len(payload)).load()
    except ValueError as err:
        if str(err).startswith(source):
            raise
        raise ValueError(f"{source}: {err}") from None
    except RecursionError:
        raise ValueError(f"{source}: object array nested too deeply") from None
    except Exception as err:
        raise ValueError(f"{source}: cannot unpickle object array ({type(err).__name__}: {err})") from err
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(f"{source}: object array does not match its header shape {shape}")
    return array
