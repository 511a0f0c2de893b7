"""Adam: adaptive moment estimation, with AMSGrad, L2 or decoupled weight decay, and maximize.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p            (or p = p * (1 - lr * weight_decay) when decoupled)
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    v_hat = max(v_hat, v) with amsgrad, else v
    p = p - lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
"""

from __future__ import annotations

import math

from .. import backend as B
from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr, _step_tensor


class Adam(Optimizer):
    """Adam optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square (default (0.9, 0.999)).
        eps: term added to the denominator for numerical stability (default 1e-8).
        weight_decay: weight decay (L2 penalty, or decoupled when `decoupled_weight_decay`) (default 0).
        amsgrad: use the maximum of past squared-gradient averages (default False).
        maximize: maximize the objective instead of minimizing it (default False).
        decoupled_weight_decay: decay weights directly, as AdamW does (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        _check_lr(lr)
        _check("epsilon value", eps, eps >= 0.0)
        _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0)
        _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        if differentiable:
            raise RuntimeError(
                f"{type(self).__name__}: differentiable=True is not supported (steps run outside the graph)"
            )
        defaults = {
            "lr": lr,
            "betas": (float(betas[0]), float(betas[1])),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def step(self, closure=None):
        """Perform a single optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._closure_loss(closure)
        state = self.state
        for group in self.param_groups:
            lr = group["lr"]
            beta1, beta2 = group["betas"]
            eps = group["eps"]
            weight_decay = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                arr = p._data
                g = grad._data
                xp = B.array_module(arr)
                st = state[p]
                if not st:
                    st["step"] = _step_tensor()
                    st["exp_avg"] = _wrap(xp.zeros_like(arr))
                    st["exp_avg_sq"] = _wrap(xp.zeros_like(arr))
                    if amsgrad:
                        st["max_exp_avg_sq"] = _wrap(xp.zeros_like(arr))
                step_arr = st["step"]._data
                step_arr += 1
                step = float(step_arr)
                if maximize:
                    g = -g
                if weight_decay != 0:
                    if decoupled:
                        arr *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * arr
                m = st["exp_avg"]._data
                v = st["exp_avg_sq"]._data
                tmp = g - m
                tmp *= 1 - beta1
                m += tmp
                xp.multiply(g, g, out=tmp)
                tmp *= 1 - beta2
                v *= beta2
                v += tmp
                if amsgrad:
                    vmax = st["max_exp_avg_sq"]._data
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                step_size = lr / (1 - beta1**step)
                xp.sqrt(v, out=tmp)
                tmp /= math.sqrt(1 - beta2**step)
                tmp += eps
                xp.divide(m, tmp, out=tmp)
                tmp *= step_size
                arr -= tmp
                p._vc[0] += 1
        return loss
