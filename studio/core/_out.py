"""The `out=` argument of PyTorch's functions: the result is written into a given tensor.

As in PyTorch: `out` is resized when its shape differs (with a warning when it held elements), the
result must be castable to `out`'s dtype, and out= does not work with autograd.
"""

from __future__ import annotations

import functools
import warnings

from . import backend as B
from .autograd import grad_mode
from .tensor import Tensor


def _write(name, result, out):
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if out.requires_grad and grad_mode._enabled:
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    src, dst = result.dtype, out.dtype
    if src._category > dst._category:
        raise RuntimeError(f"result type {src.name} can't be cast to the desired output type {dst.name}")
    arr = B.to_array_like(result._data, out._data)
    if out._data.shape != arr.shape:
        if out._data.size:
            warnings.warn(
                f"{name}(): an output with one or more elements was resized since it had shape "
                f"{tuple(out._data.shape)}, which does not match the required output shape "
                f"{tuple(arr.shape)}.",
                UserWarning,
                stacklevel=3,
            )
        out._data = B.array_module(arr).empty(arr.shape, out._data.dtype)
    out._data[...] = arr.astype(out._data.dtype, copy=False)
    out._vc[0] += 1
    return out


def with_out(fn):
    """`fn` with PyTorch's `out=` keyword (a tensor, or a tuple of tensors for several results)."""

    @functools.wraps(fn)
    def wrapper(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if grad_mode._enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args):
            raise RuntimeError(
                f"{fn.__name__}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad."
            )
        result = fn(*args, **kwargs)
        if isinstance(out, tuple | list):
            for r, o in zip(result, out):
                _write(fn.__name__, r, o)
            return type(result)(*out) if isinstance(result, tuple) else out
        return _write(fn.__name__, result, out)

    wrapper._with_out = True
    return wrapper


def add_out_arguments(namespace: dict, names) -> None:
    """Give each function `names` in `namespace` the out= keyword (those that have one keep theirs)."""
    for name in names:
        fn = namespace.get(name)
        if fn is None or getattr(fn, "_with_out", False):
            continue
        namespace[name] = with_out(fn)
