"""Normalization layers as fused ops: batch_norm, layer_norm and group_norm, each one node.

Each keeps the normalized input and the inverse standard deviation for its hand-written backward:
gx = invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) over the normalized elements.
A recorded backward (create_graph=True) goes through the same normalization written with
differentiable ops (`decompose`).
Half-precision input is normalized in float32 and the result (and its gradient) returned in the
input's dtype, whatever the dtype of the affine parameters, as PyTorch does.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend as B
from .._arrays import astype
from ..amp.autocast_mode import FP32, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record

_xp = B.array_module


def _work(x):
    """The array to compute on: float16 and bfloat16 statistics accumulate in float32."""
    return x.astype(np.float32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _size_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _norm_backward(g_hat, xhat, invstd, axes):
    """Input gradient of xhat = (x - mean) * invstd given the gradient of xhat, stats over `axes`."""
    mean_g = g_hat.mean(axis=axes, keepdims=True)
    mean_gx = (g_hat * xhat).mean(axis=axes, keepdims=True)
    return invstd * (g_hat - mean_g - xhat * mean_gx)


def _affine_grads(node, g, xhat, reduce_axes, param_shape, first):
    """Gradients of weight and bias (inputs `first` and `first + 1`) of out = xhat * w + b."""
    gw = gb = None
    if node.needs_grad(first):
        gw = (g * xhat).sum(axis=reduce_axes).reshape(param_shape)
    if node.needs_grad(first + 1):
        gb = g.sum(axis=reduce_axes).reshape(param_shape)
    return gw, gb


def _standardized(x, axes, eps):
    """(x - mean) / sqrt(var + eps) over `axes`, with differentiable ops."""
    xc = x - x.mean(axes, keepdim=True)
    return xc / ((xc * xc).mean(axes, keepdim=True) + eps).sqrt()


def _affine(xhat, w, b, shape):
    """xhat * w + b, the parameters (absent or tensors) viewed as `shape`."""
    out = xhat if w is None else xhat * w.reshape(shape)
    return out if b is None else out + b.reshape(shape)


def _inputs_and_flags(input, weight, bias):
    tensors = [input]
    if weight is not None or bias is not None:
        tensors.append(weight)
    if bias is not None:
        tensors.append(bias)
    return tuple(tensors)


# ---------------------------------------------------------------------------------- batch norm


class NativeBatchNormBackward0(Node):
    __slots__ = ("axes", "training", "param_shape", "eps", "in_dtype")
    saved_roles = (None, None, 1, 0, 2, None)
    decomposed = True

    def decompose(self, xhat, invstd, w, x, b, mean):
        # in evaluation the running statistics are constants
        xhat = _standardized(x, self.axes, self.eps) if self.training else (x - mean) * invstd
        return _affine(xhat, w, b, (1, -1) + (1,) * (x.ndim - 2))

    def backward(self, g):
        xhat, invstd, w, _, _, _ = self.saved
        g_hat = g if w is None else g * w
        gx = None
        if self.needs_grad(0):
            if self.training:
                gx = _norm_backward(g_hat, xhat, invstd, self.axes)
            else:
                gx = g_hat * invstd
            gx = astype(gx, self.in_dtype)
        gw, gb = _affine_grads(self, g, xhat, self.axes, self.param_shape, 1)
        return (gx, gw, gb)[: len(self.next_functions)]


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    """Normalize (N, C, *) per channel C with batch statistics (training) or running ones.

    In training, running_mean and running_var (when given) are updated in place:
    running = (1 - momentum) * running + momentum * batch_stat, with the unbiased batch variance.
    """
    x = input._data
    if x.ndim < 2:
        raise ValueError(
            f"batch_norm: expected 2D or higher input (N, C, *), got input of size {_size_str(x.shape)}"
        )
    c = x.shape[1]
    x = _work(x)
    xp = _xp(x)
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, c) + (1,) * (x.ndim - 2)
    for name, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")
    if training:
        count = x.size // c
        if count <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"studio.core.Size({_size_str(x.shape)})"
            )
        mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True, dtype=x.dtype)
        invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
        xhat = xc * invstd
        m = 0.0 if momentum is None else float(momentum)
        if running_mean is not None:
            rm = running_mean._data
            rm *= rm.dtype.type(1 - m)
            rm += (m * mean.reshape(c)).astype(rm.dtype, copy=False)
            running_mean._vc[0] += 1
        if running_var is not None:
            rv = running_var._data
            rv *= rv.dtype.type(1 - m)
            rv += (m * count / (count - 1) * var.reshape(c)).astype(rv.dtype, copy=False)
            running_var._vc[0] += 1
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError(
                f"running_{'mean' if running_mean is None else 'var'} must be defined in evaluation mode"
            )
        mean = running_mean._data.reshape(bshape).astype(x.dtype, copy=False)
        invstd = 1 / xp.sqrt(
            running_var._data.reshape(bshape).astype(x.dtype, copy=False) + x.dtype.type(eps)
        )
        xhat = (x - mean) * invstd
    w = weight._data.reshape(bshape) if weight is not None else None
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + bias._data.reshape(bshape)
    out = out.astype(input._data.dtype, copy=False)
    tensors = _inputs_and_flags(input, weight, bias)
    if needs_grad(*tensors):
        node = NativeBatchNormBackward0()
        node.axes, node.training, node.param_shape, node.eps = axes, bool(training), (c,), eps
        node.in_dtype = input._data.dtype
        b = bias._data if bias is not None else None
        record(node, tensors, (xhat, invstd, w, x, b, mean))
        node.save_versions(weight)
        return _result(out, node)
    return _result(out)


# ---------------------------------------------------------------------------------- layer norm


class NativeLayerNormBackward0(Node):
    __slots__ = ("axes", "lead_axes", "param_shape", "eps", "in_dtype")
    saved_roles = (None, None, 1, 0, 2)
    decomposed = True

    def decompose(self, xhat, invstd, w, x, b):
        return _affine(_standardized(x, self.axes, self.eps), w, b, self.param_shape)

    def backward(self, g):
        xhat, invstd, w, _, _ = self.saved
        gx = None
        if self.needs_grad(0):
            gx = _norm_backward(g if w is None else g * w, xhat, invstd, self.axes)
            gx = astype(gx, self.in_dtype)
        gw, gb = _affine_grads(self, g, xhat, self.lead_axes, self.param_shape, 1)
        return (gx, gw, gb)[: len(self.next_functions)]


@autocast_op(cuda=FP32)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalize over the trailing dims given by `normalized_shape`, then scale and shift elementwise."""
    x = input._data
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k :] != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={_size_str(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size{_size_str(x.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._data.shape) != normalized_shape:
            raise RuntimeError(
                f"layer_norm: expected {name} of shape "
                f"{_size_str(normalized_shape)}, got {_size_str(t._data.shape)}"
            )
    x = _work(x)
    xp = _xp(x)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True, dtype=x.dtype)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True, dtype=x.dtype)
    invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
    xhat = xc * invstd
    w = weight._data if weight is not None else None
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + bias._data
    out = out.astype(input._data.dtype, copy=False)
    tensors = _inputs_and_flags(input, weight, bias)
    if needs_grad(*tensors):
        node = NativeLayerNormBackward0()
        node.in_dtype = input._data.dtype
        node.axes = axes
        node.lead_axes = tuple(range(x.ndim - k))
        node.param_shape = normalized_shape
        node.eps = eps
        b = bias._data if bias is not None else None
        record(node, tensors, (xhat, invstd, w, x, b))
        node.save_versions(weight)
        return _result(out, node)
    return _result(out)


# ---------------------------------------------------------------------------------- group norm


class NativeGroupNormBackward0(Node):
    __slots__ = ("grouped", "param_shape", "reduce_axes", "eps", "in_dtype")
    saved_roles = (None, None, 1, 0, 2)
    decomposed = True

    def decompose(self, xhat, invstd, w, x, b):
        xhat = _standardized(x.reshape(self.grouped), (2,), self.eps).reshape(x.shape)
        return _affine(xhat, w, b, (1, -1) + (1,) * (x.ndim - 2))

    def backward(self, g):
        xhat, invstd, w, _, _ = self.saved
        gx = None
        if self.needs_grad(0):
            g_hat = g if w is None else g * w
            gx = _norm_backward(g_hat.reshape(self.grouped), xhat.reshape(self.grouped), invstd, (2,))
            gx = astype(gx.reshape(g.shape), self.in_dtype)
        gw, gb = _affine_grads(self, g, xhat, self.reduce_axes, self.param_shape, 1)
        return (gx, gw, gb)[: len(self.next_functions)]


@autocast_op(cuda=FP32)
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalize (N, C, *) over groups of C / num_groups channels, then scale and shift per channel."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(
            f"group_norm: expected input of shape (N, C, *), got input of size {_size_str(x.shape)}"
        )
    n, c = x.shape[:2]
    num_groups = int(num_groups)
    if num_groups < 1 or c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input of shape "
            f"{_size_str(x.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.size != c:
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in input, but got "
                f"{name} of shape {_size_str(t._data.shape)} and input of shape {_size_str(x.shape)}"
            )
    x = _work(x)
    xp = _xp(x)
    grouped = (n, num_groups, -1)
    xg = x.reshape(grouped)
    mean = xg.mean(axis=2, keepdims=True, dtype=x.dtype)
    xc = xg - mean
    var = (xc * xc).mean(axis=2, keepdims=True, dtype=x.dtype)
    invstd = 1 / xp.sqrt(var + x.dtype.type(eps))
    xhat = (xc * invstd).reshape(x.shape)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    w = weight._data.reshape(bshape) if weight is not None else None
    out = xhat if w is None else xhat * w
    if bias is not None:
        out = out + bias._data.reshape(bshape)
    out = out.astype(input._data.dtype, copy=False)
    tensors = _inputs_and_flags(input, weight, bias)
    if needs_grad(*tensors):
        node = NativeGroupNormBackward0()
        node.in_dtype = input._data.dtype
        node.grouped = grouped
        node.param_shape = (c,)
        node.reduce_axes = (0,) + tuple(range(2, x.ndim))
        node.eps = eps
        b = bias._data if bias is not None else None
        record(node, tensors, (xhat, invstd, w, x, b))
        node.save_versions(weight)
        return _result(out, node)
    return _result(out)
