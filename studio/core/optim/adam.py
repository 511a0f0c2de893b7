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
from .optimizer import Optimizer, _check, _check_lr, _count_step, _step_tensor


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

    def _step_group(self, index, group):
        flat = _flat_state(self, index, group)
        if flat is not None:
            flat.update(group)
        else:  # parameters that lack a gradient, mixed state, or AMSGrad: one parameter at a time
            super()._step_group(index, group)

    def _init_state(self, st, arr, group, xp):
        st["step"] = _step_tensor()
        st["exp_avg"] = _wrap(xp.zeros_like(arr))
        st["exp_avg_sq"] = _wrap(xp.zeros_like(arr))
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = _wrap(xp.zeros_like(arr))

    def _update(self, arr, g, st, group, xp):
        step = _count_step(st)
        beta1, beta2 = group["betas"]
        m = st["exp_avg"]._data
        v = st["exp_avg_sq"]._data
        tmp = g - m
        tmp *= 1 - beta1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            vmax = st["max_exp_avg_sq"]._data
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = group["lr"] / (1 - beta1**step)
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2**step)
        tmp += group["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        arr -= tmp


class _FlatAdamState:
    """One group's Adam state as flat arrays, so that each step is a dozen array operations in all
    rather than a dozen per parameter (what makes small models fast). Each parameter's state
    entries are views into the flat arrays, so `state[p]` and state dicts look as usual."""

    __slots__ = ("params", "slices", "m", "v", "g", "tmp", "steps", "views")

    def __init__(self, params, state, xp, dtype):
        self.params = tuple(params)
        sizes = [p._data.size for p in self.params]
        total = sum(sizes)
        self.m = xp.zeros(total, dtype=dtype)
        self.v = xp.zeros(total, dtype=dtype)
        self.g = xp.empty(total, dtype=dtype)
        self.tmp = xp.empty(total, dtype=dtype)
        np_ = B.numpy
        self.steps = np_.zeros(len(self.params), dtype=np_.float32)
        self.slices = []
        self.views = []
        start = 0
        for i, (p, n) in enumerate(zip(self.params, sizes)):
            shape = p._data.shape
            sl = slice(start, start + n)
            self.slices.append((sl, shape))
            st = state[p]
            if st:  # state loaded or made elsewhere: carry it over into the flat arrays
                self.m[sl] = st["exp_avg"]._data.reshape(-1)
                self.v[sl] = st["exp_avg_sq"]._data.reshape(-1)
                self.steps[i] = float(st["step"]._data)
            views = (
                _wrap(self.steps[i : i + 1].reshape(())),
                _wrap(self.m[sl].reshape(shape)),
                _wrap(self.v[sl].reshape(shape)),
            )
            st["step"], st["exp_avg"], st["exp_avg_sq"] = views
            self.views.append(views)
            start += n

    def matches(self, params, state):
        """Whether the group still holds these parameters and their state is still these views."""
        if len(params) != len(self.params):
            return False
        flat = self.m
        for p, q, views, (_, shape) in zip(params, self.params, self.views, self.slices):
            a = p._data
            if p is not q or p.grad is None or a.shape != shape:
                return False
            if a.dtype != flat.dtype or type(a) is not type(flat):  # converted or moved since
                return False
            st = state.get(p)
            if (
                st is None
                or st.get("step") is not views[0]
                or st.get("exp_avg") is not views[1]
                or st.get("exp_avg_sq") is not views[2]
            ):
                return False
        return True

    def update(self, group):
        """One Adam step of every parameter of `group`, on the flat arrays."""
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        xp = B.array_module(self.m)
        g, m, v, tmp = self.g, self.m, self.v, self.tmp
        params = self.params
        xp.concatenate([p.grad._data.reshape(-1) for p in params], out=g)
        if group["maximize"]:
            xp.negative(g, out=g)
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                for p in params:
                    p._data *= 1 - lr * weight_decay
            else:
                xp.concatenate([p._data.reshape(-1) for p in params], out=tmp)
                tmp *= weight_decay
                g += tmp
        steps = self.steps
        steps += 1
        step = float(steps[0])
        xp.subtract(g, m, out=tmp)
        tmp *= 1 - beta1
        m += tmp
        xp.multiply(g, g, out=tmp)
        tmp *= 1 - beta2
        v *= beta2
        v += tmp
        step_size = lr / (1 - beta1**step)
        xp.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - beta2**step)
        tmp += eps
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        for p, (sl, shape) in zip(params, self.slices):
            arr = p._data
            arr -= tmp[sl].reshape(shape)
            p._vc[0] += 1


def _flat_state(opt, index, group):
    """The group's flat state, made on first use; None where the per-parameter update must run."""
    if group["amsgrad"]:
        return None
    cache = opt.__dict__.setdefault("_flat_states", {})
    params = group["params"]
    state = opt.state
    flat = cache.get(index)
    if flat is not None and flat.matches(params, state):
        return flat
    cache.pop(index, None)
    if not params or any(p.grad is None for p in params):
        return None
    first = params[0]._data
    xp = B.array_module(first)
    existing = [state.get(p) for p in params]
    if any(existing) and not all(existing):
        return None
    steps = set()
    for p, st in zip(params, existing):
        a = p._data
        if a.dtype != first.dtype or a.dtype.kind != "f" or B.array_module(a) is not xp:
            return None
        if st:
            if not (
                {"step", "exp_avg", "exp_avg_sq"} <= st.keys()
                and st["exp_avg"]._data.shape == a.shape
                and st["exp_avg_sq"]._data.shape == a.shape
            ):
                return None
            steps.add(float(st["step"]._data))
    if len(steps) > 1:
        return None
    flat = _FlatAdamState(params, state, xp, first.dtype)
    cache[index] = flat
    return flat
