"""Making tensors: from data, filled, ranges, identity, and random draws (seeded by `manual_seed`)."""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from . import backend as B
from .ops.elementwise import _check_inplace
from .tensor import Tensor, _to_array, _wrap


def _size(size):
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        if not isinstance(size[0], tuple | list) and not hasattr(size[0], "__iter__"):
            raise TypeError(f"size must be a tuple of ints, got {size[0]!r}")
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a tuple of ints, got {size!r}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(builtins.int(s) for s in size)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data`."""
    t = _wrap(_to_array(data, dtype, device, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing `data`'s memory where it can (same dtype and device)."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _wrap(_to_array(data, dtype, device))


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    B.from_numpy_dtype(ndarray.dtype)
    return _wrap(B.to_device_array(ndarray, B.CPU))  # the same array, except where arrays are cupy-like


def _dtype_np(dtype, default=None):
    if dtype is None:
        return (default or B.get_default_dtype()).np
    return B.as_dtype(dtype).np


def _xp(device):
    return B.module_for_device(B.as_device(device))


def _finish(arr, requires_grad):
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _finish(_xp(device).zeros(_size(size), _dtype_np(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(_xp(device).ones(_size(size), _dtype_np(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(_xp(device).empty(_size(size), _dtype_np(dtype)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = B.dtype_of_python(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    return _finish(_xp(device).full(_size((size,)), fill_value, _dtype_np(dtype)), requires_grad)


def _like(input, dtype, device):
    return (dtype or input.dtype), (device or input.device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return zeros(input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return ones(input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return empty(input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    d, dev = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=d, device=dev, requires_grad=requires_grad)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={vals[0]}, "
            f"end={vals[1]}, step={vals[2]})"
        )
    if dtype is None:
        is_int = builtins.all(isinstance(v, numbers.Integral) for v in vals)
        dtype = B.int64 if is_int else B.get_default_dtype()
    d = B.as_dtype(dtype).np
    xp = _xp(device)
    if d.kind == "f":
        n = builtins.int(np.ceil((vals[1] - vals[0]) / vals[2]))
        arr = (vals[0] + vals[2] * xp.arange(builtins.max(n, 0), dtype=np.float64)).astype(d)
    else:
        arr = xp.arange(vals[0], vals[1], vals[2]).astype(d)
    return _finish(arr, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be a non-negative integer, got {steps!r}")
    arr = _xp(device).linspace(start, end, steps, dtype=np.float64).astype(_dtype_np(dtype))
    return _finish(arr, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    arr = _xp(device).logspace(start, end, steps, base=base).astype(_dtype_np(dtype))
    return _finish(arr, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    return _finish(_xp(device).eye(n, m, dtype=_dtype_np(dtype)), requires_grad)


# ------------------------------------------------------------------------------------ random


def _gen(generator, device):
    return B.rng(generator, _xp(device))


def _float_draw(dtype, where):
    d = _dtype_np(dtype)
    if d.kind != "f":
        raise RuntimeError(f"{where}: expected a floating point dtype, got {B.from_numpy_dtype(d).name}")
    return d


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform draws from [0, 1)."""
    d = _float_draw(dtype, "rand")
    arr = _gen(generator, device).random(_size(size), dtype=np.float64 if d == np.float16 else d)
    return _finish(arr.astype(d, copy=False), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Draws from the standard normal distribution."""
    d = _float_draw(dtype, "randn")
    arr = _gen(generator, device).standard_normal(_size(size), dtype=np.float64 if d == np.float16 else d)
    return _finish(arr.astype(d, copy=False), requires_grad)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    if size is None and isinstance(high, tuple | list):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    arr = _gen(generator, device).integers(low, high, _size((size,)))
    return _finish(arr.astype(_dtype_np(dtype, B.int64)), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    rng = _gen(generator, device)
    # cupy's Generator has no permutation(): the order of uniform draws is one
    arr = rng.permutation(n) if isinstance(rng, np.random.Generator) else rng.random(n).argsort()
    return _finish(arr.astype(_dtype_np(dtype, B.int64)), requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, generator=None):
    d, dev = _like(input, dtype, device)
    return rand(input.shape, dtype=d, device=dev, requires_grad=requires_grad, generator=generator)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, generator=None):
    d, dev = _like(input, dtype, device)
    return randn(input.shape, dtype=d, device=dev, requires_grad=requires_grad, generator=generator)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    d, dev = _like(input, dtype, device)
    return randint(low, high, input.shape, dtype=d, device=dev, requires_grad=requires_grad)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    p = B.to_numpy(input._data).astype(np.float64)
    rng = B.rng(generator, np)
    rows = p.reshape(-1, p.shape[-1])
    out = np.empty((rows.shape[0], num_samples), np.int64)
    for i, r in enumerate(rows):  # one draw per distribution row, not per element
        if (r < 0).any() or r.sum() <= 0:
            raise RuntimeError("multinomial: probability tensor contains negative or all-zero rows")
        if not replacement and num_samples > np.count_nonzero(r):
            raise RuntimeError(
                "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement"
            )
        out[i] = rng.choice(r.size, num_samples, replace=replacement, p=r / r.sum())
    res = out.reshape(p.shape[:-1] + (num_samples,))
    return _wrap(B.to_device_array(res, input.device))


def bernoulli(input, p=None, *, generator=None):
    probs = input._data if p is None else p
    xp = B.array_module(input._data)
    draw = B.rng(generator, xp).random(input._data.shape) < probs
    return _wrap(draw.astype(input._data.dtype))


def _fill_random(t, arr):
    _check_inplace(t)
    B.array_module(t._data).copyto(t._data, arr, casting="unsafe")
    t._vc[0] += 1
    return t


def uniform_(t, a=0.0, b=1.0, *, generator=None):
    rng = B.rng(generator, B.array_module(t._data))
    return _fill_random(t, rng.uniform(a, b, t._data.shape))


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    rng = B.rng(generator, B.array_module(t._data))
    # cupy's Generator has no normal(): scale standard draws there
    draws = rng.normal(mean, std, t._data.shape) if isinstance(rng, np.random.Generator) else None
    if draws is None:
        draws = rng.standard_normal(t._data.shape, dtype=t._data.dtype) * std + mean
    return _fill_random(t, draws)


def bernoulli_(t, p=0.5, *, generator=None):
    rng = B.rng(generator, B.array_module(t._data))
    return _fill_random(t, rng.random(t._data.shape) < p)
