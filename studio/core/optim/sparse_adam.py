"""SparseAdam: Adam that moves only the rows that received a gradient (embeddings looked up in a batch).

PyTorch applies it to sparse gradients (`nn.Embedding(sparse=True)`); gradients here are dense, so the
rows it updates are those whose gradient is not all zero, which are the rows a batch looked up. For each
such row, with g the gradient (negated when `maximize`), at step t:
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g * g
    p = p - lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m / (sqrt(v) + eps)
Rows without a gradient keep their parameters and moments.
"""

from __future__ import annotations

import math

from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_betas, _check_lr


class SparseAdam(Optimizer):
    """Adam for parameters whose gradients touch few rows, such as embedding tables.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default 1e-8).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check_lr(lr)
        _check("epsilon value", eps, eps > 0.0)
        _check_betas(betas)
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "maximize": maximize})

    def _init_state(self, st, arr, group, xp):
        st["step"] = 0
        st["exp_avg"] = _wrap(xp.zeros_like(arr))
        st["exp_avg_sq"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        st["step"] += 1
        step = st["step"]
        rows = _touched_rows(g, xp)
        if rows.size == 0:
            return
        beta1, beta2 = group["betas"]
        m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
        gr = g[rows]
        mr = m[rows] + (gr - m[rows]) * (1 - beta1)
        vr = v[rows] + (gr * gr - v[rows]) * (1 - beta2)
        m[rows], v[rows] = mr, vr
        step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        arr[rows] -= step_size * (mr / (xp.sqrt(vr) + group["eps"]))


def _touched_rows(g, xp):
    """Indices of the rows (first-dimension slices) of `g` that hold any non-zero value."""
    if g.ndim == 0:
        return xp.flatnonzero(g.reshape(1) != 0)
    return xp.flatnonzero((g.reshape(g.shape[0], -1) != 0).any(axis=1))
