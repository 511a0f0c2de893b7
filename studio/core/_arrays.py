"""Array helpers every layer of the engine shares: undoing broadcasting, dims, shapes in messages, devices.

A leaf: it knows arrays, never tensors, so the Tensor class, autograd and the ops can all build on it.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import backend as B


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


def astype(x, dtype):
    """`x` as `dtype`, not copied when it already is: an array, or a tensor when a backward formula
    runs in a recorded backward pass (then `dtype` may be a tensor's dtype too)."""
    if type(x) is np.ndarray:
        try:
            return x.astype(dtype, copy=False)
        except TypeError:  # a tensor's dtype (studio's), met in a recorded backward
            return x.astype(dtype.np, copy=False)
    dtype = getattr(dtype, "np", dtype)
    astype = getattr(x, "astype", None)
    return x.to(dtype) if astype is None else astype(dtype, copy=False)


def permuted(x, axes):
    """numpy's `x.transpose(axes)`; a tensor (in a recorded backward) calls it `permute`."""
    if type(x) is np.ndarray:
        return x.transpose(axes)
    permute = getattr(x, "permute", None)
    return x.transpose(axes) if permute is None else permute(axes)


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


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
