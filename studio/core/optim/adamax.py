"""Adamax: Adam with the infinity norm in place of the second moment.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    u = max(beta2 * u, |g| + eps)
    p = p - lr / (1 - beta1^t) * m / u
"""

from __future__ import annotations

from ..tensor import _wrap
from .optimizer import (
    Optimizer,
    _check,
    _check_betas,
    _check_lr,
    _count_step,
    _refuse_differentiable,
    _step_tensor,
)


class Adamax(Optimizer):
    """Adamax optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running averages of the gradient and of its infinity norm
            (default (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check("epsilon value", eps, eps >= 0.0)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _refuse_differentiable("Adamax", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["exp_avg"] = _wrap(xp.zeros_like(arr))
        st["exp_inf"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        beta1, beta2 = group["betas"]
        m, u = st["exp_avg"]._data, st["exp_inf"]._data
        m += (g - m) * (1 - beta1)
        u *= beta2
        xp.maximum(u, xp.abs(g) + group["eps"], out=u)
        clr = group["lr"] / (1 - beta1**step)
        arr -= clr * (m / u)
