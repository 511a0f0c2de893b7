"""Adagrad: per-coordinate learning rates from the sum of squared gradients.

Update (PyTorch's rule) at step t, with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    s = s + g * g
    p = p - clr * g / (sqrt(s) + eps)
"""

from __future__ import annotations

from .. import backend as B
from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr, _count_step, _step_tensor


class Adagrad(Optimizer):
    """Adagrad optimizer.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the squared-gradient sums (default 0).
        eps: term added to the denominator for numerical stability (default 1e-10).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        _check_lr(lr)
        _check("lr_decay value", lr_decay, lr_decay >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _check("initial_accumulator_value value", initial_accumulator_value, initial_accumulator_value >= 0.0)
        _check("epsilon value", eps, eps >= 0.0)
        if differentiable:
            raise RuntimeError("Adagrad: differentiable=True is not supported (steps run outside the graph)")
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        # Adagrad makes its state eagerly, as PyTorch does, so that a fresh state dict already has it
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(self.state[p], p._data, group, B.array_module(p._data))

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["sum"] = _wrap(xp.full_like(arr, group["initial_accumulator_value"]))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = st["sum"]._data
        tmp = g * g
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += group["eps"]
        xp.divide(g, tmp, out=tmp)
        tmp *= clr
        arr -= tmp
