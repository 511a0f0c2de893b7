"""Helpers shared by the distributions: broadcasting parameters, probabilities and logits, draws from
the engine's generator in the parameters' array module, and cached properties."""

from __future__ import annotations

import numbers
from functools import update_wrapper

import numpy as np

from .. import backend as B
from ..tensor import Tensor, _wrap
from . import _torch as torch

euler_constant = 0.57721566490153286060


def broadcast_all(*values):
    """Tensors of one shape from tensors and numbers: numbers take the first tensor's dtype and device
    (the default dtype when there is none)."""
    if not all(isinstance(v, Tensor | numbers.Number) for v in values):
        raise ValueError(
            "Input arguments must all be instances of numbers.Number, torch.Tensor or objects "
            "implementing __torch_function__."
        )
    like = next((v for v in values if isinstance(v, Tensor)), None)
    options = (
        {"dtype": torch.get_default_dtype()} if like is None else {"dtype": like.dtype, "device": like.device}
    )
    tensors = [v if isinstance(v, Tensor) else torch.tensor(v, **options) for v in values]
    shape = torch.Size(np.broadcast_shapes(*(tuple(t.shape) for t in tensors)))
    return tuple(t if tuple(t.shape) == shape else t.expand(shape) for t in tensors)


def _sum_rightmost(value, dim):
    """Sum out the `dim` rightmost dims."""
    if dim == 0:
        return value
    return value.reshape(value.shape[: value.dim() - dim] + (-1,)).sum(-1)


def clamp_probs(probs):
    eps = torch.finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    return torch.sigmoid(logits) if is_binary else torch.softmax(logits, dim=-1)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return torch.log(ps_clamped) - torch.log1p(-ps_clamped)
    return torch.log(ps_clamped)


class lazy_property:  # noqa: N801 - PyTorch's name
    """A property computed on first use and then kept in the instance (so that it shows in __dict__)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with torch.enable_grad():
            value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value


def draw(kind, shape, like, **kwargs):
    """A tensor of `shape` drawn from the engine's generator (standard_normal, random, standard_gamma,
    standard_exponential), in the dtype and array module of the tensor `like`."""
    xp = B.array_module(like._data)
    rng = B.rng(None, xp)
    shape = tuple(int(s) for s in shape)
    if kind == "standard_gamma":
        out = rng.standard_gamma(kwargs["concentration"].astype(np.float64))
    else:
        out = getattr(rng, kind)(shape, dtype=np.float64)
    return _wrap(out.astype(like._data.dtype, copy=False))
