"""Activations: relu and its family, sigmoid-based units, softmax and log-softmax."""

from __future__ import annotations

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import _result, record
from ._util import wrap_dim

_xp = B.array_module


class ReluBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        (out,) = self.saved
        return (g * (out > 0),)


def relu(input, inplace=False):
    x = input._data
    xp = _xp(x)
    out = xp.maximum(x, x.dtype.type(0))
    if grad_mode._enabled and input._rg:
        node = ReluBackward0()
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


def _softmax_dtype(x, dtype):
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    if x.dtype.kind != "f":
        x = x.astype(B.get_default_dtype().np)
    return x


class SoftmaxBackward0(Node):
    __slots__ = ("axis",)

    def backward(self, g):
        (out,) = self.saved
        gy = g * out
        return (gy - out * gy.sum(axis=self.axis, keepdims=True),)


def softmax(input, dim=None, dtype=None):
    x = _softmax_dtype(input._data, dtype)
    axis = wrap_dim(dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1), x.ndim, "softmax")
    xp = _xp(x)
    if x.ndim == 0:
        out = xp.ones_like(x)
    else:
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
    if grad_mode._enabled and input._rg:
        node = SoftmaxBackward0()
        node.axis = axis if x.ndim else None
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


class LogSoftmaxBackward0(Node):
    __slots__ = ("axis",)

    def backward(self, g):
        (out,) = self.saved
        xp = _xp(g)
        return (g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True),)


def log_softmax(input, dim=None, dtype=None):
    x = _softmax_dtype(input._data, dtype)
    axis = wrap_dim(dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1), x.ndim, "log_softmax")
    xp = _xp(x)
    if x.ndim == 0:
        out = xp.zeros_like(x)
    else:
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    if grad_mode._enabled and input._rg:
        node = LogSoftmaxBackward0()
        node.axis = axis if x.ndim else None
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)
