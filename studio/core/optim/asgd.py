"""ASGD: SGD with a decaying step size that also keeps a running average of the parameters.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    p = p * (1 - lambd * eta) - eta * g
    ax = ax + mu * (p - ax)            (ax = p while mu is 1)
    eta = lr / (1 + lambd * lr * t)^alpha ;  mu = 1 / max(1, t - t0)
"""

from __future__ import annotations

from .. import backend as B
from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr, _count_step, _refuse_differentiable, _step_tensor


class ASGD(Optimizer):
    """Averaged stochastic gradient descent.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the step-size decay (default 0.75).
        t0: the step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lambd=1e-4,
        alpha=0.75,
        t0=1e6,
        weight_decay=0,
        foreach=None,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _refuse_differentiable("ASGD", differentiable)
        defaults = {
            "lr": lr,
            "lambd": lambd,
            "alpha": alpha,
            "t0": t0,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["eta"] = _step_tensor(group["lr"])
        st["mu"] = _step_tensor(1.0)
        st["ax"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        eta = float(st["eta"]._data)
        lambd, lr = group["lambd"], group["lr"]
        arr *= 1 - lambd * eta
        arr -= eta * g
        ax, mu = st["ax"]._data, st["mu"]._data
        if float(mu) != 1:  # the step counters live on the host (_step_tensor): mu joins as a scalar
            ax += (arr - ax) * arr.dtype.type(float(mu))
        else:
            ax[...] = arr
        f32 = B.numpy.float32
        st["eta"]._data[...] = f32(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        mu[...] = f32(1 / max(1, step - group["t0"]))
