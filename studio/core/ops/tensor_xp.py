"""numpy's array functions for tensors: the `xp` a backward formula gets when the backward pass is
itself recorded (`create_graph=True`).

A formula written as `xp.where(mask, g, 0.0) * xp.exp(x)` runs on arrays in a plain backward (xp is
numpy or cupy) and on tensors in a recorded one (xp is this namespace), so each op's backward is
written once. A function given a tensor answers with a tensor made by differentiable ops; given only
arrays and numbers (the constants of a formula: masks, indices) it answers as numpy does, with an array.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap
from . import elementwise as _ew
from . import linalg as _la
from . import reduce as _red
from . import shape as _sh


def _has_tensor(args):
    return any(isinstance(a, Tensor) or (isinstance(a, list | tuple) and _has_tensor(a)) for a in args)


def _np_dtype(dtype):
    if isinstance(dtype, B.dtype):
        return dtype.np
    if dtype is float:
        return B.get_default_dtype().np
    return np.dtype(dtype)


class TensorNamespace:
    """The functions of array module `xp` (numpy or cupy), for tensors held in `xp`'s arrays."""

    def __init__(self, xp):
        self.xp = xp

    def __repr__(self):
        return f"<tensor namespace over {self.xp.__name__}>"

    def __getattr__(self, name):
        value = getattr(np, name, None)
        if isinstance(value, type | float | int):
            return value  # dtypes and constants: xp.float64, xp.nan
        raise AttributeError(
            f"a recorded backward pass (create_graph=True) has no tensor form of {self.xp.__name__}.{name}"
        )

    def tensor(self, x):
        return x if isinstance(x, Tensor) else _wrap(self.xp.asarray(x))

    # ------------------------------------------------------------------- constants: always arrays
    def zeros(self, shape, dtype=float):
        return self.xp.zeros(shape, _np_dtype(dtype))

    empty = zeros

    def ones(self, shape, dtype=float):
        return self.xp.ones(shape, _np_dtype(dtype))

    def full(self, shape, value, dtype=None):
        return self.xp.full(shape, value, None if dtype is None else _np_dtype(dtype))

    def zeros_like(self, x, dtype=None):
        return self.zeros(tuple(x.shape), dtype or x.dtype)

    empty_like = zeros_like

    def ones_like(self, x, dtype=None):
        return self.ones(tuple(x.shape), dtype or x.dtype)

    def arange(self, *args, **kwargs):
        return self.xp.arange(*args, **kwargs)

    def asarray(self, x, dtype=None):
        if isinstance(x, Tensor):
            return x if dtype is None or x._data.dtype == _np_dtype(dtype) else x.to(_np_dtype(dtype))
        return self.xp.asarray(x, dtype=None if dtype is None else _np_dtype(dtype))

    # ---------------------------------------------------------------------------- elementwise
    def where(self, cond, a, b):
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            return self.xp.where(cond._data if isinstance(cond, Tensor) else cond, a, b)
        cond = cond if isinstance(cond, Tensor) else _wrap(self.xp.asarray(cond, dtype=bool))
        return _ew.where(cond, a, b)

    def _pair(self, a, b):
        like = a if isinstance(a, Tensor) else b
        return (a if isinstance(a, Tensor) else _ew.as_operand(a, like)), (
            b if isinstance(b, Tensor) else _ew.as_operand(b, like)
        )

    def maximum(self, a, b):
        if not _has_tensor((a, b)):
            return self.xp.maximum(a, b)
        return _ew.maximum(*self._pair(a, b))

    def minimum(self, a, b):
        if not _has_tensor((a, b)):
            return self.xp.minimum(a, b)
        return _ew.minimum(*self._pair(a, b))

    def multiply(self, a, b):
        return a * b

    def add(self, a, b):
        return a + b

    def subtract(self, a, b):
        return a - b

    def clip(self, x, lo, hi):
        return _ew.clamp(x, lo, hi) if isinstance(x, Tensor) else self.xp.clip(x, lo, hi)

    # ------------------------------------------------------------------------ shape and linalg
    def matmul(self, a, b):
        if not _has_tensor((a, b)):
            return self.xp.matmul(a, b)
        return _la.matmul(self.tensor(a), self.tensor(b))

    def swapaxes(self, x, a, b):
        return _sh.transpose(x, a, b) if isinstance(x, Tensor) else self.xp.swapaxes(x, a, b)

    def transpose(self, x, axes=None):
        if not isinstance(x, Tensor):
            return self.xp.transpose(x, axes)
        return _sh.permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))

    def moveaxis(self, x, source, destination):
        if not isinstance(x, Tensor):
            return self.xp.moveaxis(x, source, destination)
        return _sh.movedim(x, source, destination)

    def expand_dims(self, x, axis):
        if not isinstance(x, Tensor):
            return self.xp.expand_dims(x, axis)
        for a in sorted(axis) if isinstance(axis, tuple | list) else (axis,):
            x = _sh.unsqueeze(x, a)
        return x

    def einsum(self, spec, *operands, optimize=False):
        if not _has_tensor(operands):
            return self.xp.einsum(spec, *operands, optimize=optimize)
        return _la.einsum(spec, *[self.tensor(o) for o in operands])

    def broadcast_to(self, x, shape):
        return _sh.expand(x, tuple(shape)) if isinstance(x, Tensor) else self.xp.broadcast_to(x, shape)

    def concatenate(self, arrays, axis=0):
        if not _has_tensor(arrays):
            return self.xp.concatenate(arrays, axis)
        return _sh.cat([self.tensor(a) for a in arrays], axis)

    def stack(self, arrays, axis=0):
        if not _has_tensor(arrays):
            return self.xp.stack(arrays, axis)
        return _sh.stack([self.tensor(a) for a in arrays], axis)

    def flip(self, x, axis):
        if not isinstance(x, Tensor):
            return self.xp.flip(x, axis)
        return _sh.flip(x, (axis,) if isinstance(axis, int) else tuple(axis))

    def take_along_axis(self, x, indices, axis):
        if not isinstance(x, Tensor):
            return self.xp.take_along_axis(x, indices, axis)
        return _sh.gather(x, axis, _wrap(self.xp.asarray(indices, dtype=np.int64)))

    def roll(self, x, shift, axis=None):
        if not isinstance(x, Tensor):
            return self.xp.roll(x, shift, axis=axis)
        return _sh.roll(x, shift, axis)

    def tril(self, x, k=0):
        return _sh.tril(x, k) if isinstance(x, Tensor) else self.xp.tril(x, k)

    def triu(self, x, k=0):
        return _sh.triu(x, k) if isinstance(x, Tensor) else self.xp.triu(x, k)

    def cumsum(self, x, axis=None):
        return _red.cumsum(x, axis) if isinstance(x, Tensor) else self.xp.cumsum(x, axis=axis)

    def sum(self, x, axis=None, keepdims=False):
        if not isinstance(x, Tensor):
            return self.xp.sum(x, axis, keepdims=keepdims)
        return _red.sum(x, axis, keepdims)


def _unary(name):
    op = getattr(_ew, name)

    def fn(self, x):
        return op(x) if isinstance(x, Tensor) else getattr(self.xp, name)(x)

    fn.__name__ = name
    return fn


for _name in (
    "exp",
    "expm1",
    "log",
    "log1p",
    "log2",
    "log10",
    "sqrt",
    "tanh",
    "sin",
    "cos",
    "tan",
    "abs",
    "sign",
    "floor",
    "ceil",
    "trunc",
    "reciprocal",
):
    setattr(TensorNamespace, _name, _unary(_name))


_NAMESPACES: dict = {}


def namespace_of(array):
    """The tensor namespace for tensors held in arrays like `array` (numpy's or cupy's)."""
    xp = B.array_module(array)
    ns = _NAMESPACES.get(xp)
    if ns is None:
        ns = _NAMESPACES[xp] = TensorNamespace(xp)
    return ns
