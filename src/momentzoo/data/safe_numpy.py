"""Reading `.npy` object arrays (lists of segments, label lists) without executing arbitrary pickles.

Weakly-supervised TAL code stores its annotations as numpy object arrays, which `np.load` can only
read with `allow_pickle=True`, i.e. by running whatever the pickle says. We read the `.npy` header
ourselves and unpickle with an allow-list that admits only the numpy reconstructors an object array
needs (the same idea as `torch.load(weights_only=True)`); anything else in the file is refused.
"""

from __future__ import annotations

import io
import os
import pickle

import numpy as np

__all__ = ["load_npy_restricted"]


def _multiarray_attr(name: str):
    module = getattr(np, "_core", None) or np.core
    return getattr(module.multiarray, name)


_ALLOWED = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): lambda: _multiarray_attr("_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _multiarray_attr("_reconstruct"),
    ("numpy.core.multiarray", "scalar"): lambda: _multiarray_attr("scalar"),
    ("numpy._core.multiarray", "scalar"): lambda: _multiarray_attr("scalar"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]()
        raise ValueError(f"{self._source}: refusing to unpickle {module}.{name} (only numpy arrays are allowed)")


def load_npy_restricted(path: str | os.PathLike) -> np.ndarray:
    """Load a `.npy` file; object arrays are unpickled with a numpy-only allow-list."""
    source = str(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        except ValueError as err:
            raise ValueError(f"{source}: not a valid .npy file ({err})") from err
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        payload = f.read()
    try:
        array = _RestrictedUnpickler(io.BytesIO(payload), source).load()
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"{source}: cannot unpickle object array ({type(err).__name__}: {err})") from err
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise ValueError(f"{source}: object array does not match its header shape {shape}")
    return array
