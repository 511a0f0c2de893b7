"""Optimizer: the bookkeeping every optimizer shares (parameter groups, state, state dicts, hooks).

The base `step` does the bookkeeping: the closure, the loop over groups and over the parameters that
have a gradient, `maximize`, L2 or decoupled weight decay, and bumping each parameter's version counter
(`p._vc[0]`) so that a graph that saved the old values notices the change. A subclass writes only its
update rule, `_update(arr, g, state, group, xp)`, on raw arrays, in place and outside the autograd graph
(and `_init_state` where it keeps state).
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

from .. import backend as B
from ..autograd import grad_mode
from ..tensor import Tensor, _wrap


class _RequiredParameter:
    """Marks a default that every parameter group must give (PyTorch's `optim.optimizer.required`)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _hooked_step(step):
    """Wrap a subclass's `step` so that hooks run and schedulers can tell it was called."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        self._opt_called = True
        if self.__dict__.get("_in_step"):  # a subclass's step calling super().step(): hooks ran already
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            return _run_hooked(self, step, args, kwargs)
        finally:
            self._in_step = False

    wrapper._hooked = True
    return wrapper


def _run_hooked(self, step, args, kwargs):
    """Pre-hooks (which may replace the arguments), the step, then post-hooks."""
    if not (self._step_pre_hooks or self._step_post_hooks):
        return step(self, *args, **kwargs)
    for hook in list(self._step_pre_hooks.values()):
        res = hook(self, args, kwargs)
        if res is not None:
            args, kwargs = res
    out = step(self, *args, **kwargs)
    for hook in list(self._step_post_hooks.values()):
        hook(self, args, kwargs)
    return out


def _typename(obj) -> str:
    return type(obj).__module__ + "." + type(obj).__qualname__


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, of `(name, Tensor)` pairs, or of dicts that define parameter
            groups (each with its own options; missing options take `defaults`).
        defaults: the default optimization options of this optimizer.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._step_pre_hooks: OrderedDict = OrderedDict()
        self._step_post_hooks: OrderedDict = OrderedDict()
        self._opt_called = False
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                f"but got {_typename(params)}"
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_step_post_hooks", OrderedDict())
        self.__dict__.setdefault("_opt_called", False)

    # --------------------------------------------------------------------------- parameter groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a newly unfrozen layer)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the ordering of "
                "tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are missing"
                )
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    f"parameter group didn't specify a value of required optimization parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = {id(p) for p in tensors}
        if len(ids) != len(tensors):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this will "
                "cause an error",
                stacklevel=3,
            )
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
            if ids & {id(p) for p in group["params"]}:
                raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------------------------- grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g = p.grad = _wrap(g._data, vc=g._vc)
                    g._rg = False
                    g._data.fill(0)
                    g._vc[0] += 1

    @_hooked_step
    def step(self, closure=None):
        """Perform a single optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = self._closure_loss(closure)
        for index, group in enumerate(self.param_groups):
            self._step_group(index, group)
        return loss

    def _step_group(self, index: int, group: dict) -> None:
        """Update every parameter of `group` (the `index`-th group) that has a gradient, one at a time."""
        maximize = group.get("maximize", False)
        weight_decay = group.get("weight_decay", 0)
        decoupled = group.get("decoupled_weight_decay", False)
        param_state, init_state, update = self._param_state, self._init_state, self._update
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            arr = p._data
            g = grad._data
            xp = B.array_module(arr)
            st = param_state(p, group)
            if st is not None and not st:
                init_state(st, arr, group, xp)
            if maximize:
                g = -g
            if weight_decay != 0:
                if decoupled:
                    arr *= 1 - group["lr"] * weight_decay
                else:
                    g = g + weight_decay * arr
            update(arr, g, st, group, xp)
            p._vc[0] += 1

    def _param_state(self, p, group: dict):
        """The state dict of `p`, or None where this optimizer keeps none for it (no entry is made)."""
        return self.state[p]

    def _init_state(self, st: dict, arr, group: dict, xp) -> None:
        """Fill the empty state `st` of the parameter whose array is `arr`, before its first update."""

    def _update(self, arr, g, st, group: dict, xp) -> None:
        """Update the parameter array `arr` in place from its gradient `g` and its state `st`; `g` is
        already negated when maximizing and has L2 weight decay added (decoupled decay
        is already applied to `arr`)."""
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        prev = grad_mode._enabled
        grad_mode._enabled = True
        try:
            return closure()
        finally:
            grad_mode._enabled = prev

    # ------------------------------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook):
        """Call `hook(optimizer, args, kwargs)` before each step; it may return new (args, kwargs)."""
        key = object()
        self._step_pre_hooks[key] = hook
        return _DictHandle(self._step_pre_hooks, key)

    def register_step_post_hook(self, hook):
        """Call `hook(optimizer, args, kwargs)` after each step."""
        key = object()
        self._step_post_hooks[key] = hook
        return _DictHandle(self._step_post_hooks, key)

    # -------------------------------------------------------------------------------- state dicts
    def state_dict(self) -> dict:
        """The optimizer's state: `{'state': {index: {...}}, 'param_groups': [{..., 'params': [0, 1]}]}`.

        Parameters are replaced by their position across all groups; state tensors are shared, not
        copied (copy the dict to keep a snapshot).
        """
        mapping: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state made by `state_dict()` (of an optimizer with the same groups and sizes)."""
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)} saved, {len(groups)} in this optimizer)"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group: group {i} has {len(s['params'])} saved parameters, "
                    f"{len(g['params'])} here"
                )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if isinstance(k, str) and k.isdigit():
                k = int(k)  # keys turned into strings by a trip through JSON
            if k in id_map:
                param = id_map[k]
                state[param] = _cast_state(param, v)
            else:
                state[k] = v
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})


class _DictHandle:
    __slots__ = ("_hooks", "_key")

    def __init__(self, hooks, key):
        self._hooks = hooks
        self._key = key

    def remove(self):
        self._hooks.pop(self._key, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _cast_state(param, value, key=None):
    """A copy of a saved state value on `param`'s device; floating tensors take `param`'s dtype."""
    if isinstance(value, Tensor):
        # the step count stays on the host, where updates read it as a Python number
        arr = B.to_device_array(value._data, B.CPU if key == "step" else param.device)
        if key != "step" and param._data.dtype.kind == "f" and arr.dtype.kind == "f":
            arr = arr.astype(param._data.dtype, copy=True)
        elif arr is value._data:
            arr = arr.copy()
        return _wrap(arr)
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cast_state(param, v) for v in value)
    return value


def _step_tensor(value=0.0):
    """A 0-d float32 tensor that counts steps, kept on the host as PyTorch keeps it."""
    return _wrap(B.numpy.array(value, dtype=B.numpy.float32))


def _count_step(st: dict) -> float:
    """Add one to the state's step counter and return the new count."""
    step_arr = st["step"]._data
    step_arr += 1
    return float(step_arr)


def _check_lr(lr):
    if not lr >= 0.0:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check(name, value, ok):
    if not ok:
        raise ValueError(f"Invalid {name}: {value}")


def _check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def _refuse_differentiable(name, differentiable):
    if differentiable:
        raise RuntimeError(f"{name}: differentiable=True is not supported (steps run outside the graph)")


__all__ = ["Optimizer", "required"]
