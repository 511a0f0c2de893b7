"""Collation: how a list of samples becomes one batch (PyTorch's `default_collate` and `default_convert`).

Tensors and arrays are stacked along a new first dimension; Python ints become int64, floats
float64 and bools bool tensors; strings stay lists; tuples, lists, named tuples and dicts are
collated field by field.
"""

from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap

_ERR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack(arrays):
    first = arrays[0]
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first.shape)} at entry 0 and "
                f"{list(a.shape)} at entry {i}"
            )
    xp = B.array_module(first)
    return xp.stack(arrays, 0)


def _numpy_usable(arr) -> bool:
    return arr.dtype.kind not in "USOV"


def default_collate(batch):
    """Merge a list of samples into a batch, recursively through tuples, lists and dicts."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _wrap(_stack([b._data for b in batch]))
    if isinstance(elem, np.ndarray | np.generic) and not isinstance(elem, np.str_ | np.bytes_):
        if isinstance(elem, np.ndarray) and not _numpy_usable(elem):
            raise TypeError(_ERR.format(elem.dtype))
        arrays = [np.asarray(b) for b in batch]
        out = _stack(arrays)
        if out.dtype not in B._BY_NP:
            out = out.astype(B.from_numpy_dtype(out.dtype).np)
        return _wrap(B.host_array(out))
    if isinstance(elem, bool):
        return _wrap(B.host_array(np.array(batch, dtype=np.bool_)))
    if isinstance(elem, numbers.Integral):
        return _wrap(B.host_array(np.array(batch, dtype=np.int64)))
    if isinstance(elem, float | numbers.Real):
        return _wrap(B.host_array(np.array(batch, dtype=np.float64)))
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        try:
            return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem})
        except TypeError:
            return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(b) == size for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = [list(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        try:
            return type(elem)([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Turn numpy arrays in a sample into tensors, leaving the rest (used when batching is off)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return _wrap(B.host_array(data)) if _numpy_usable(data) else data
    if isinstance(data, np.generic) and not isinstance(data, np.str_ | np.bytes_):
        return _wrap(B.host_array(np.asarray(data)))
    if isinstance(data, collections.abc.Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
