"""Reductions over dims: sums, means, extrema, statistics, norms, scans and sorting."""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import _result, record
from ._util import wrap_dims

_xp = B.array_module


def _expand_back(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes of `in_shape`."""
    if not keepdim and axes:
        shape = list(in_shape)
        for a in axes:
            shape[a] = 1
        g = g.reshape(shape)
    return _xp(g).broadcast_to(g, in_shape)


class SumBackward1(Node):
    __slots__ = ("in_shape", "axes", "keepdim")

    def backward(self, g):
        return (_expand_back(g, self.in_shape, self.axes, self.keepdim),)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    x = input._data
    axes = wrap_dims(dim, x.ndim, "sum") if not (isinstance(dim, tuple | list) and len(dim) == 0) else tuple(range(x.ndim))
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    elif x.dtype.kind in "bi" or x.dtype.kind == "u":
        x = x.astype(np.int64)
    out = x.sum(axis=axes, keepdims=keepdim) if x.ndim else x.copy()
    if grad_mode._enabled and input._rg:
        node = SumBackward1()
        node.in_shape, node.axes, node.keepdim = x.shape, axes, keepdim
        record(node, (input,))
        return _result(out, node)
    return _result(out)


class MeanBackward1(Node):
    __slots__ = ("in_shape", "axes", "keepdim", "count")

    def backward(self, g):
        return (_expand_back(g / self.count, self.in_shape, self.axes, self.keepdim),)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    x = input._data
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    if x.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {B.from_numpy_dtype(x.dtype).name}"
        )
    axes = wrap_dims(dim, x.ndim, "mean") if not (isinstance(dim, tuple | list) and len(dim) == 0) else tuple(range(x.ndim))
    count = 1
    for a in axes:
        count *= x.shape[a]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = x.mean(axis=axes, keepdims=keepdim, dtype=x.dtype) if x.ndim else x.copy()
    if grad_mode._enabled and input._rg:
        node = MeanBackward1()
        node.in_shape, node.axes, node.keepdim, node.count = x.shape, axes, keepdim, count
        record(node, (input,))
        return _result(out, node)
    return _result(out)
