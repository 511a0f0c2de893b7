"""RMSprop: divide the gradient by a running root mean square, optionally centered and with momentum.

Update (PyTorch's rule), with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    s = alpha * s + (1 - alpha) * g * g
    a = s - mean_g^2 (centered, mean_g = mean_g + (1 - alpha) * (g - mean_g)), else s
    d = sqrt(a) + eps
    b = momentum * b + g / d ; p = p - lr * b      (momentum > 0)
    p = p - lr * g / d                            (otherwise)
"""

from __future__ import annotations

from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr, _step_tensor


class RMSprop(Optimizer):
    """RMSprop optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the squared-gradient average (default 0.99).
        eps: term added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance (default False).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check("epsilon value", eps, eps >= 0.0)
        _check("momentum value", momentum, momentum >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _check("alpha value", alpha, alpha >= 0.0)
        if differentiable:
            raise RuntimeError("RMSprop: differentiable=True is not supported (steps run outside the graph)")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["square_avg"] = _wrap(xp.zeros_like(arr))
        if group["momentum"] > 0:
            st["momentum_buffer"] = _wrap(xp.zeros_like(arr))
        if group["centered"]:
            st["grad_avg"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        st["step"]._data += 1
        alpha = group["alpha"]
        s = st["square_avg"]._data
        s *= alpha
        tmp = g * g
        tmp *= 1 - alpha
        s += tmp
        if group["centered"]:
            ga = st["grad_avg"]._data
            xp.subtract(g, ga, out=tmp)
            tmp *= 1 - alpha
            ga += tmp
            xp.multiply(ga, ga, out=tmp)
            xp.subtract(s, tmp, out=tmp)
            xp.sqrt(tmp, out=tmp)
        else:
            xp.sqrt(s, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        lr = group["lr"]
        if group["momentum"] > 0:
            buf = st["momentum_buffer"]._data
            buf *= group["momentum"]
            buf += tmp
            xp.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        arr -= tmp
