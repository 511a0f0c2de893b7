"""SGD: stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

Update (PyTorch's rule), with g the gradient (negated when `maximize`):
    g = g + weight_decay * p
    b = g on the first step, else momentum * b + (1 - dampening) * g
    g = g + momentum * b if nesterov else b
    p = p - lr * g
"""

from __future__ import annotations

from ..tensor import _wrap
from .optimizer import Optimizer, _check, _check_lr


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (default False).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        _check_lr(lr)
        _check("momentum value", momentum, momentum >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        if differentiable:
            raise RuntimeError("SGD: differentiable=True is not supported (steps run outside the graph)")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def _param_state(self, p, group):
        # plain SGD keeps no state, and makes no empty entries, as PyTorch does
        return self.state[p] if group["momentum"] != 0 else None

    def _update(self, arr, g, st, group, xp):
        momentum = group["momentum"]
        if momentum != 0:
            buf = st.get("momentum_buffer")
            if buf is None:
                st["momentum_buffer"] = buf = _wrap(xp.array(g, copy=True))
                b = buf._data
            else:
                dampening = group["dampening"]
                b = buf._data
                b *= momentum
                b += (1 - dampening) * g if dampening != 0 else g
            g = g + momentum * b if group["nesterov"] else b
        lr = group["lr"]
        if lr != 0:
            xp.subtract(arr, lr * g, out=arr)
