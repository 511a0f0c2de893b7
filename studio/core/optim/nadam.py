"""NAdam: Adam with Nesterov momentum, whose momentum warms up over the first steps.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p               (or p = p * (1 - lr * weight_decay) when decoupled)
    mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)); prod = prod * mu_t
    m = beta1 * m + (1 - beta1) * g ;  v = beta2 * v + (1 - beta2) * g * g
    d = sqrt(v / (1 - beta2^t)) + eps
    p = p - lr * (1 - mu_t) / (1 - prod) * g / d - lr * mu_(t+1) / (1 - prod * mu_(t+1)) * m / d
"""

from __future__ import annotations

from .. import backend as B
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


class NAdam(Optimizer):
    """NAdam optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay (default 0), L2 unless `decoupled_weight_decay`.
        momentum_decay: how fast the momentum warms up (default 4e-3).
        decoupled_weight_decay: decay the weights directly, as AdamW does (default False).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
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
        _check("momentum_decay value", momentum_decay, momentum_decay >= 0.0)
        _refuse_differentiable("NAdam", differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["mu_product"] = _step_tensor(1.0)
        st["exp_avg"] = _wrap(xp.zeros_like(arr))
        st["exp_avg_sq"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        beta1, beta2 = group["betas"]
        lr, decay = group["lr"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * decay)))
        prod_arr = st["mu_product"]._data
        prod_arr *= B.numpy.float32(mu)  # kept in float32, as PyTorch's state tensor is
        mu_product = float(prod_arr)
        m, v = st["exp_avg"]._data, st["exp_avg_sq"]._data
        m += (g - m) * (1 - beta1)
        v *= beta2
        v += (1 - beta2) * (g * g)
        denom = xp.sqrt(v / (1 - beta2**step))
        denom += group["eps"]
        arr += g / denom * (-lr * (1.0 - mu) / (1.0 - mu_product))
        arr += m / denom * (-lr * mu_next / (1.0 - mu_product * mu_next))
