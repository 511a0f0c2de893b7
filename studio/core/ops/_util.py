"""Helpers shared by every op family: undoing broadcasting, dims, operand promotion, devices."""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap

_ndarray = np.ndarray


def sum_to(g, shape):
    """Sum a broadcast gradient back to `shape`: broadcasting is undone in this one place."""
    if g.shape == shape:
        return g
    ndiff = g.ndim - len(shape)
    axes = tuple(range(ndiff)) + tuple(
        i + ndiff for i, s in enumerate(shape) if s == 1 and g.shape[i + ndiff] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if ndiff or g.shape != shape:
        g = g.reshape(shape)
    return g


def wrap_dim(dim, ndim, where="dim"):
    n = builtins.max(ndim, 1)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{where}: dim must be an integer, got {dim!r}")
    if not -n <= dim < n:
        raise IndexError(
            f"{where}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return builtins.int(dim) + n if dim < 0 else builtins.int(dim)


def wrap_dims(dim, ndim, where="dim"):
    """Normalise an int or a tuple of ints to a sorted tuple of non-negative axes (None: all)."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, numbers.Integral):
        return (wrap_dim(dim, ndim, where),)
    axes = tuple(wrap_dim(d, ndim, where) for d in dim)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{where}: dim {tuple(dim)} appears multiple times in the list of dims")
    return tuple(sorted(axes))


def check_same_device(a, b, where):
    if type(a) is not type(b) and (B.is_cuda_array(a) or B.is_cuda_array(b)):
        raise RuntimeError(
            f"{where}: expected all tensors to be on the same device, but found at least two "
            f"devices, {B.device_of(a)} and {B.device_of(b)}"
        )


def to_tensor_operand(value, like: Tensor | None = None, where="op"):
    """Turn a numpy array or nested list into a tensor on `like`'s device; tensors pass through."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray | list | tuple) or B.is_cuda_array(value):
        from ..creation import _to_array

        dev = like.device if like is not None else None
        return _wrap(_to_array(value, None, dev))
    raise TypeError(f"{where}: expected a Tensor or a number, got {type(value).__name__}")


def result_dtype(a: Tensor, b: Tensor):
    """PyTorch's result type of two tensors: a 0-d tensor yields to a dimensioned one of its category.

    As in PyTorch's `combine_categories`: when the 0-d tensor is of a higher category (float with an
    int tensor, int with a bool tensor), the two types are promoted as usual.
    """
    da, db = a._data.dtype, b._data.dtype
    if da == db:
        return da
    ta, tb = B.from_numpy_dtype(da), B.from_numpy_dtype(db)
    if (a._data.ndim == 0) != (b._data.ndim == 0):
        dim_t, zero_t = (tb, ta) if a._data.ndim == 0 else (ta, tb)
        if zero_t._category <= dim_t._category:
            return dim_t.np
    return B.promote_types(ta, tb).np


_float, _int, _bool = builtins.float, builtins.int, builtins.bool


def operands(a: Tensor, b, where):
    """The arrays (or scalar) of a binary op, promoted as PyTorch promotes them.

    Returns (x, y, b_tensor): `y` is a Python number when `b` is one, and `b_tensor` is None then.
    """
    x = a._data
    tb = b.__class__
    if tb is _float or tb is _int:
        # the hot case first: a float tensor with a Python number keeps its dtype
        kind = x.dtype.kind
        if kind == "f" or (kind in "iu" and tb is _int):
            return x, b, None
        return x.astype(B.dtype_with_scalar(B.from_numpy_dtype(x.dtype), b).np), b, None
    if tb is Tensor or isinstance(b, Tensor):
        y = b._data
        if type(x) is not type(y):
            check_same_device(x, y, where)
        if x.dtype != y.dtype:
            rt = result_dtype(a, b)
            if x.dtype != rt:
                x = x.astype(rt)
            if y.dtype != rt:
                y = y.astype(rt)
        return x, y, b
    if isinstance(b, numbers.Number) and not isinstance(b, complex):
        if isinstance(b, np.generic):
            b = b.item()
        kind = x.dtype.kind
        if (
            (kind == "f")
            or (kind in "iu" and not isinstance(b, _float))
            or (kind == "b" and isinstance(b, _bool))
        ):
            return x, b, None
        rt = B.dtype_with_scalar(B.from_numpy_dtype(x.dtype), b)
        return x.astype(rt.np), b, None
    if b is None:
        raise TypeError(f"{where}: expected a Tensor or a number as the second operand, got None")
    bt = to_tensor_operand(b, a, where)
    return operands(a, bt, where)


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
