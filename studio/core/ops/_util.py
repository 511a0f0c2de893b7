"""Helpers shared by the op families that take tensors: operands, their promotion and devices.

The array-only helpers (`sum_to`, dims, shapes in messages) live in the leaf `studio.core._arrays`.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import backend as B
from .._arrays import check_same_device
from ..tensor import Tensor, _to_array, _wrap

_ndarray = np.ndarray


def to_tensor_operand(value, like: Tensor | None = None, where="op"):
    """Turn a numpy array or nested list into a tensor on `like`'s device; tensors pass through."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, list | tuple) or B.is_array(value):
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
