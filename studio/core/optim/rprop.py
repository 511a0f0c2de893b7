"""Rprop: each weight moves by its own step size, grown while its gradient keeps its sign.

Update (PyTorch's rule), with g the gradient (negated when `maximize`):
    s = sign(g * g_prev)
    step = clamp(step * (etaplus if s > 0, etaminus if s < 0, 1 otherwise), *step_sizes)
    g = 0 where s < 0 (no move after a sign change)
    p = p - sign(g) * step ;  g_prev = g
"""

from __future__ import annotations

from ..tensor import _wrap
from .optimizer import Optimizer, _check_lr, _refuse_differentiable, _step_tensor


class Rprop(Optimizer):
    """Resilient backpropagation.

    Args:
        params: parameters or parameter groups to optimize.
        lr: initial step size of every weight (default 1e-2).
        etas: (etaminus, etaplus), the factors that shrink and grow the step sizes (default (0.5, 1.2)).
        step_sizes: the smallest and largest step sizes allowed (default (1e-6, 50)).
        maximize: maximize the objective instead of minimizing it (default False).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        etas=(0.5, 1.2),
        step_sizes=(1e-6, 50),
        *,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _refuse_differentiable("Rprop", differentiable)
        defaults = {
            "lr": lr,
            "etas": etas,
            "step_sizes": step_sizes,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["prev"] = _wrap(xp.zeros_like(arr))
        st["step_size"] = _wrap(xp.full_like(arr, group["lr"]))

    def _update(self, arr, g, st, group, xp):
        st["step"]._data += 1
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        prev, step_size = st["prev"]._data, st["step_size"]._data
        sign = xp.sign(g * prev)
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(arr.dtype)
        step_size *= factor
        xp.clip(step_size, lo, hi, out=step_size)
        g = xp.where(sign < 0, 0, g).astype(arr.dtype)
        arr -= xp.sign(g) * step_size
        prev[...] = g
