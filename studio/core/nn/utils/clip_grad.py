"""Gradient clipping: rescale gradients to a maximum total norm, or clamp them to a value range."""

from __future__ import annotations

import math

from ... import backend as B
from ...tensor import Tensor, _wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _norm(arr, p: float):
    """The `p`-norm of one array, as a 0-d array of the array's dtype."""
    xp = B.array_module(arr)
    flat = arr.reshape(-1)
    if p == 2:
        return xp.sqrt(xp.dot(flat, flat))
    if p == math.inf:
        return xp.abs(flat).max() if flat.size else xp.zeros((), arr.dtype)
    if p == -math.inf:
        return xp.abs(flat).min() if flat.size else xp.zeros((), arr.dtype)
    if p == 1:
        return xp.abs(flat).sum()
    if p == 0:
        return xp.asarray(xp.count_nonzero(flat), dtype=arr.dtype)
    return (xp.abs(flat) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The `norm_type`-norm of all `tensors` together, as if they were concatenated into one vector."""
    arrays = [t._data for t in _as_list(tensors)]
    p = float(norm_type)
    if not arrays:
        return _wrap(B.numpy.zeros((), B.get_default_dtype().np))
    xp = B.array_module(arrays[0])
    norms = xp.stack([_norm(a, p).astype(arrays[0].dtype, copy=False) for a in arrays])
    total = _norm(norms, p)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return _wrap(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm, foreach=None) -> None:
    """Scale the gradients of `parameters` by max_norm / (total_norm + 1e-6) when that is below 1."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef >= 1.0:  # False for NaN, which then spreads to the gradients
        return
    for g in grads:
        data = g._data
        data *= data.dtype.type(coef)
        g._vc[0] += 1


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
) -> Tensor:
    """Rescale the gradients of `parameters` in place so that their total norm is at most `max_norm`.

    Returns the total norm measured before clipping (a 0-d tensor). `norm_type` may be `inf`.
    With `error_if_nonfinite`, a NaN or infinite total norm raises RuntimeError instead.
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    if grads:
        # A NaN total makes the coefficient NaN and poisons every gradient, as in PyTorch.
        clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element of `parameters` into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        xp = B.array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._vc[0] += 1
