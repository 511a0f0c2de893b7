"""Pruning, as `torch.nn.utils.prune`: a parameter `name` becomes `name_orig` times a `name_mask` buffer.

Pruning a module's `weight` moves the Parameter to `weight_orig`, registers the 0/1 `weight_mask`
buffer and a forward pre-hook that sets the plain attribute `weight = weight_orig * weight_mask`
before each call, exactly as PyTorch does; so a pruned model's state_dict has PyTorch's keys and
loads into it. Pruning a tensor again combines the masks (a `PruningContainer`): the new method
sees only the entries (or channels) still unpruned. `remove` makes the pruning permanent.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from ... import backend as B
from ...autograd import grad_mode
from ...creation import ones_like, rand, rand_like
from ...ops.reduce import norm as _norm
from ...tensor import Tensor, _wrap
from .convert_parameters import parameters_to_vector

__all__ = [
    "BasePruningMethod",
    "CustomFromMask",
    "Identity",
    "L1Unstructured",
    "LnStructured",
    "PruningContainer",
    "RandomStructured",
    "RandomUnstructured",
    "custom_from_mask",
    "global_unstructured",
    "identity",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "random_structured",
    "random_unstructured",
    "remove",
]


class BasePruningMethod(ABC):
    """Base of pruning methods: subclasses set `PRUNING_TYPE` and write `compute_mask(t, default_mask)`.

    `PRUNING_TYPE` is 'unstructured' (single entries), 'structured' (whole slices along `self.dim`)
    or 'global' (the mask is given whole). An instance is the forward pre-hook of the pruned module.
    """

    _tensor_name: str | None = None
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask for tensor `t` (importance scores), keeping what `default_mask` already pruned."""

    def apply_mask(self, module):
        """`name_orig * name_mask` of `module`: the pruned tensor (differentiable in `name_orig`)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune `module.name` with a new `cls(*args, **kwargs)`, reparametrizing it on first use."""
        orig = _parameter_of(module, name)
        method = _composite_method(cls, module, name, *args, **kwargs)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(
                    f"importance_scores should have the same shape as parameter {name} of {module}, got "
                    f"{tuple(importance_scores.shape)} vs {tuple(orig.shape)}"
                )
        else:  # once pruned, the current (masked) values: what PyTorch reads as `getattr(module, name)`
            importance_scores = getattr(module, name)
        first = not isinstance(method, PruningContainer)
        params_before = dict(module._parameters)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            with grad_mode.no_grad():
                mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", _as_mask(mask, orig, method))
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:  # leave the module as it was, its parameters in their order
                module._parameters.clear()
                module._parameters.update(params_before)
                module._buffers.pop(name + "_mask", None)
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """`t` times the mask this method computes for it (from `importance_scores` when given)."""
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError(
                    "importance_scores should have the same shape as tensor t, got "
                    f"{tuple(importance_scores.shape)} vs {tuple(t.shape)}"
                )
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else ones_like(t)
        with grad_mode.no_grad():
            mask = self.compute_mask(importance_scores, default_mask=default_mask)
        return t * mask

    def remove(self, module) -> None:
        """Make the pruning permanent: `name` becomes a Parameter holding the pruned values again."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        with grad_mode.no_grad():
            weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.data
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


def _parameter_of(module, name):
    """The tensor `module.name` to prune, with a clear message when there is none."""
    if not isinstance(name, str):
        raise TypeError(f"prune: the parameter name must be a string, got {type(name).__name__}")
    if name in module._parameters and module._parameters[name] is not None:
        return module._parameters[name]
    if name + "_orig" in module._parameters:
        return module._parameters[name + "_orig"]
    if name in module._buffers and module._buffers[name] is not None:
        return module._buffers[name]
    raise AttributeError(
        f"prune: {type(module).__name__} has no parameter or buffer named '{name}' (it has: "
        f"{', '.join(k for k, v in module._parameters.items() if v is not None) or 'none'})"
    )


def _composite_method(cls, module, name, *args, **kwargs):
    """The hook the module will carry: a new method, or the old one(s) and the new in a container."""
    old = [(k, h) for k, h in module._forward_pre_hooks.items() if _prunes(h, name)]
    if len(old) > 1:
        raise AssertionError(
            f"Avoid adding multiple pruning hooks to the same tensor {name} of module {module}. Use a "
            "PruningContainer."
        )
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if not old:
        return method
    key, old_method = old[0]
    del module._forward_pre_hooks[key]
    if isinstance(old_method, PruningContainer):
        old_method.add_pruning_method(method)
        return old_method
    container = PruningContainer(old_method)
    container.add_pruning_method(method)
    return container


def _prunes(hook, name):
    return isinstance(hook, BasePruningMethod) and hook._tensor_name == name


def _as_mask(mask, orig, method):
    if not isinstance(mask, Tensor):
        raise TypeError(
            f"{type(method).__name__}.compute_mask must return a Tensor, got {type(mask).__name__}"
        )
    if tuple(mask.shape) != tuple(orig.shape):
        raise RuntimeError(
            f"{type(method).__name__}.compute_mask returned a mask of shape {tuple(mask.shape)} for a "
            f"tensor of shape {tuple(orig.shape)}"
        )
    return mask.detach()


class PruningContainer(BasePruningMethod):
    """The pruning methods applied in turn to one tensor; each new one acts on what is still unpruned."""

    def __init__(self, *args):
        self._pruning_methods: tuple = ()
        if len(args) == 1 and isinstance(args[0], BasePruningMethod):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method) -> None:
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(
                "Can only add pruning methods acting on the parameter named "
                f"'{self._tensor_name}' to PruningContainer {self}. Found '{method._tensor_name}'"
            )
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The latest method's mask, computed on the entries or channels `default_mask` still keeps."""
        method = self._pruning_methods[-1]
        mask = default_mask.to(dtype=t.dtype).clone()
        ndim = t.dim()
        if method.PRUNING_TYPE == "unstructured":
            slc = default_mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError(
                    'Pruning methods of PRUNING_TYPE "structured" need to have the attribute `dim` defined.'
                )
            dim = method.dim + ndim if method.dim < 0 else method.dim
            if not 0 <= dim < ndim:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {ndim}")
            keep = default_mask.sum(dim=[d for d in range(ndim) if d != dim]) != 0
            slc = tuple(keep if d == dim else slice(None) for d in range(ndim))
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(t[slc], default_mask=mask[slc])
        mask[slc] = partial.to(dtype=mask.dtype)
        return mask


# ----------------------------------------------------------------------------------- methods


def _same(t, array):
    """A tensor of `t`'s dtype and device holding `array`."""
    return _wrap(array.astype(t._data.dtype, copy=False))


def _smallest(values, k):
    """Indices of the `k` smallest of the 1-D array `values` (the first ones among ties)."""
    return _xp_of(values).argsort(values, kind="stable")[:k]


def _xp_of(a):
    return B.array_module(a)


class Identity(BasePruningMethod):
    """Prunes nothing, but sets up the reparametrization with a mask of ones."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prune `amount` (a fraction, or a count) of the unpruned entries, chosen at random."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.numel()
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = default_mask.clone()
        if k:
            prob = rand_like(t, dtype=B.float32)._data.reshape(-1)
            flat = mask._data.reshape(-1)
            flat[_smallest(-prob, k)] = 0  # the k largest draws, as torch.topk(prob, k) picks them
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prune `amount` (a fraction, or a count) of the unpruned entries with the smallest magnitude."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.numel()
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = default_mask.clone()
        if k:
            scores = _xp_of(t._data).abs(t._data).reshape(-1)
            mask._data.reshape(-1)[_smallest(scores, k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _channel_mask(t, dim, keep):
    """A mask of `t`'s shape that is 1 on the slices `keep` (indices or booleans) along `dim`."""
    xp = _xp_of(t._data)
    mask = xp.zeros(t._data.shape, t._data.dtype)
    slc = [slice(None)] * t._data.ndim
    slc[dim] = keep
    mask[tuple(slc)] = 1
    return mask


class RandomStructured(BasePruningMethod):
    """Prune `amount` of the slices along `dim` (whole channels), chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        channels = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, channels)
        _validate_pruning_amount(k, channels)
        if k == 0:
            return default_mask
        prob = rand(channels)._data
        threshold = np.sort(B.to_numpy(prob))[k - 1]  # the k-th smallest, as torch.kthvalue
        mask = _channel_mask(t, self.dim, prob > threshold)
        return _same(t, mask) * default_mask.to(dtype=t.dtype)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prune `amount` of the slices along `dim` with the smallest L`n` norm (n: int, float, inf, 'fro')."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        channels = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, channels)
        _validate_pruning_amount(k, channels)
        if k == 0:
            return default_mask
        norms = _compute_norm(t, self.n, self.dim)._data
        keep = _smallest(-norms, channels - k)  # the channels - k largest norms, as torch.topk
        mask = _channel_mask(t, self.dim, keep)
        return _same(t, mask) * default_mask.to(dtype=t.dtype)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune with a given mask (of the tensor's shape), on top of any earlier pruning."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise AssertionError(
                f"default_mask shape {tuple(default_mask.shape)} must match self.mask shape "
                f"{tuple(self.mask.shape)}"
            )
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        if not isinstance(mask, Tensor):
            raise TypeError(f"custom_from_mask: mask must be a Tensor, got {type(mask).__name__}")
        return super().apply(module, name, mask=mask)


# --------------------------------------------------------------------------------- functions


def identity(module, name):
    """Reparametrize `module.name` with a mask of ones (prunes nothing)."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune `amount` of `module.name`'s entries at random."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune `amount` of `module.name`'s entries with the smallest |value| (or importance score)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune `amount` of `module.name`'s slices along `dim` at random."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune `amount` of `module.name`'s slices along `dim` with the smallest L`n` norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the (module, name) pairs of `parameters` together, as if they were one tensor.

    `pruning_method` is an unstructured method class such as `L1Unstructured`; `kwargs` go to it
    (`amount=0.2` prunes the 20% smallest of all the listed entries, wherever they are).
    """
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    with grad_mode.no_grad():
        scores = parameters_to_vector([importance_scores.get((m, n), getattr(m, n)) for m, n in parameters])
        default_mask = parameters_to_vector([_mask_or_ones(m, n) for m, n in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(
            'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
            f"{pruning_method} of type {method.PRUNING_TYPE}"
        )
    container.add_pruning_method(method)
    with grad_mode.no_grad():
        final_mask = container.compute_mask(scores, default_mask)
    pointer = 0
    for module, name in parameters:
        param = getattr(module, name)
        count = param.numel()
        custom_from_mask(module, name, mask=final_mask[pointer : pointer + count].view_as(param))
        pointer += count


def _mask_or_ones(module, name):
    mask = getattr(module, name + "_mask", None)
    return mask if mask is not None else ones_like(getattr(module, name))


def custom_from_mask(module, name, mask):
    """Prune `module.name` with the given mask."""
    CustomFromMask.apply(module, name, mask)
    return module


def remove(module, name):
    """Make the pruning of `module.name` permanent and drop `name_orig`, `name_mask` and the hook."""
    for key, hook in module._forward_pre_hooks.items():
        if _prunes(hook, name):
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module) -> bool:
    """Whether `module` or any module below it carries a pruning hook."""
    return any(
        isinstance(hook, BasePruningMethod)
        for _, sub in module.named_modules()
        for hook in sub._forward_pre_hooks.values()
    )


# ------------------------------------------------------------------------------------ checks


def _validate_pruning_amount_init(amount) -> None:
    if not isinstance(amount, numbers.Real) or isinstance(amount, bool):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
        not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0
    ):
        raise ValueError(
            f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer"
        )


def _validate_pruning_amount(amount, tensor_size) -> None:
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(
            f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}"
        )


def _validate_structured_pruning(t) -> None:
    if len(t.shape) <= 1:
        raise ValueError(
            "Structured pruning can only be applied to multidimensional tensors. Found tensor of shape "
            f"{tuple(t.shape)} with {len(t.shape)} dims"
        )


def _compute_nparams_toprune(amount, tensor_size):
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _validate_pruning_dim(t, dim) -> None:
    if dim >= t.dim() or dim < -t.dim():
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _compute_norm(t, n, dim):
    dims = list(range(t.dim()))
    dims.remove(dims[dim])
    return _norm(t, p=n, dim=dims)
