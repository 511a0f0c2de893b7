"""RAdam: Adam whose adaptive step is switched on only once the variance of its estimate is tractable.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p               (or p = p * (1 - lr * weight_decay) when decoupled)
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g * g
    rho_inf = 2 / (1 - beta2) - 1 ;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
    m_hat = m / (1 - beta1^t)
    p = p - lr * m_hat * r_t * sqrt(1 - beta2^t) / (sqrt(v) + eps)    (rho_t > 5)
    p = p - lr * m_hat                                                 (otherwise)
    with r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
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


class RAdam(Optimizer):
    """RAdam (rectified Adam) optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay (default 0), L2 unless `decoupled_weight_decay`.
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        decoupled_weight_decay=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check("epsilon value", eps, eps >= 0.0)
        _check_betas(betas)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _refuse_differentiable("RAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["exp_avg"] = _wrap(xp.zeros_like(arr))
        st["exp_avg_sq"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * (g * g)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        m_hat = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bias_correction2**0.5 / (xp.sqrt(v) + group["eps"])
            arr -= m_hat * lr * adaptive * rect
        else:
            arr -= m_hat * lr
