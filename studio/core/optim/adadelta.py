"""Adadelta: step sizes from the ratio of running averages of past updates and of squared gradients.

Update (PyTorch's rule), with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    s = rho * s + (1 - rho) * g * g
    d = sqrt(u + eps) / sqrt(s + eps) * g
    u = rho * u + (1 - rho) * d * d
    p = p - lr * d
"""

from __future__ import annotations

from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr, _refuse_differentiable, _step_tensor


class Adadelta(Optimizer):
    """Adadelta optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: coefficient that scales the update (default 1.0).
        rho: smoothing constant of the running averages (default 0.9).
        eps: term added inside the square roots for numerical stability (default 1e-6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1.0,
        rho=0.9,
        eps=1e-6,
        weight_decay=0,
        foreach=None,
        *,
        capturable=False,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check("rho value", rho, 0.0 <= rho <= 1.0)
        _check("epsilon value", eps, eps >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _refuse_differentiable("Adadelta", differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["square_avg"] = _wrap(xp.zeros_like(arr))
        st["acc_delta"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        st["step"]._data += 1
        rho, eps = group["rho"], group["eps"]
        s, u = st["square_avg"]._data, st["acc_delta"]._data
        s *= rho
        s += (1 - rho) * (g * g)
        std = xp.sqrt(s + eps)
        delta = xp.sqrt(u + eps)
        delta /= std
        delta *= g
        u *= rho
        u += (1 - rho) * (delta * delta)
        delta *= group["lr"]
        arr -= delta
