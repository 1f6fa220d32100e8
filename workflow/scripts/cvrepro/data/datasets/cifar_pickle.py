"""Unpickle CIFAR's batch files allowing nothing but numpy arrays: no other object is ever built.

CIFAR's python version ships its batches as Python 2 pickles of dicts holding bytes, lists of
ints and one uint8 array. A pickle names the callables that rebuild its objects, and a plain
`pickle.loads` calls whichever it names (os.system included). This unpickler resolves only the
few numpy callables an array needs and refuses every other name, so a hostile batch fails with
an error instead of running. The archive's md5 is checked before this (datasets.verify); this is
the second wall, for files whose md5 a caller chose to trust.
"""

from __future__ import annotations

import importlib
import io
import pickle

import numpy as np


def _numpy_attr(submodule: str, name: str):
    """numpy 2 moved numpy.core to numpy._core; pickles name either, depending on who wrote them."""
    for module in (f"numpy._core.{submodule}", f"numpy.core.{submodule}"):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {submodule}.{name}")


# (module, name) as written in the pickle -> what it may resolve to. Python 2's numpy wrote arrays
# as _reconstruct(ndarray, shape, dtype) + state; numpy >= 1.16 with protocol 5 as _frombuffer.
_ALLOWED = {
    **{
        (f"numpy.{core}.multiarray", "_reconstruct"): ("multiarray", "_reconstruct")
        for core in ("core", "_core")
    },
    **{(f"numpy.{core}.numeric", "_frombuffer"): ("numeric", "_frombuffer") for core in ("core", "_core")},
}


class CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if (module, name) in _ALLOWED:
            return _numpy_attr(*_ALLOWED[module, name])
        raise pickle.UnpicklingError(f"refers to {module}.{name}; only numpy arrays are allowed")


def load_cifar_batch(data: bytes, what: str, keys: tuple[bytes, ...]) -> dict:
    """One CIFAR batch, a dict with (at least) `keys`, or ValueError in one line naming `what`."""
    try:
        # encoding="bytes": the batches were written by Python 2, whose str keys arrive as bytes.
        batch = CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"{what}: not a CIFAR batch ({' '.join(str(error).split())})") from None
    if not isinstance(batch, dict) or not set(keys) <= set(batch):
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{what}: expected a dict with {', '.join(map(repr, keys))}; found {found}")
    return batch
