"""Fused affine maps: `linear` (x @ W.T + b, one node) and `bilinear` (x1^T W_k x2 + b_k)."""

from __future__ import annotations

from .. import backend as B
from .._arrays import shape_str
from ..amp import autocast_mode as _amp
from ..amp.autocast_mode import LOWER, PROMOTE, autocast_op
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from .linalg import einsum, matmul

_xp = B.array_module


def _check_dtypes(where, *arrays):
    first = arrays[0].dtype
    for a in arrays[1:]:
        if a is not None and a.dtype != first:
            raise RuntimeError(
                f"{where}: expected all tensors to have the same dtype, but got {first} and {a.dtype}"
            )


class AddmmBackward0(Node):
    """Gradients of y = x @ W.T + b over 2-D views of x and y (leading dims flattened)."""

    __slots__ = ("in_shape", "has_bias")
    saved_roles = (0, 1)

    def backward(self, g):
        x2, w = self.saved
        g2 = g.reshape(-1, g.shape[-1]) if g.ndim != 2 else g
        gx = gw = gb = None
        if self.needs_grad(0):
            gx = B.matmul(g2, w).reshape(self.in_shape)
        if self.needs_grad(1):
            gw = B.matmul(g2.T, x2)
        if self.has_bias and self.needs_grad(2):
            gb = g2.sum(axis=0)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


class MmBackward0(AddmmBackward0):
    __slots__ = ()


@autocast_op(cpu=LOWER, cuda=LOWER, inline=True)
def linear(input, weight, bias=None):
    """y = x W^T + b: input (*, in_features), weight (out_features, in_features) -> (*, out_features)."""
    if _amp.active and not _amp._inside:
        return _amp.dispatch(linear, input, weight, bias)
    x, w = input._data, weight._data
    b = bias._data if bias is not None else None
    if w.ndim not in (1, 2):
        raise RuntimeError(f"linear: weight must be 1-D or 2-D, got shape {shape_str(w.shape)}")
    if x.ndim == 0:
        raise RuntimeError("linear: input must have at least 1 dimension, got a 0-d tensor")
    if w.ndim == 1:
        # a vector weight gives a product without the output-feature dim, as in PyTorch
        out = matmul(input, weight)
        return out + bias if bias is not None else out
    if x.shape[-1] != w.shape[1]:
        rows = 1
        for s in x.shape[:-1]:
            rows *= s
        raise RuntimeError(
            "mat1 and mat2 shapes cannot be multiplied "
            f"({rows}x{x.shape[-1]} and {w.shape[1]}x{w.shape[0]}): "
            f"linear(in_features={w.shape[1]}, out_features={w.shape[0]}) "
            f"got input of shape {shape_str(x.shape)}"
        )
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        _check_dtypes("linear", x, w, b)
    x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    out = B.matmul(x2, w.T)
    if b is not None:
        out += b
    if x.ndim != 2:
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
    # needs_grad inlined: a hot op
    if grad_mode._enabled and (input._rg or weight._rg or (bias is not None and bias._rg)):
        node = AddmmBackward0() if b is not None else MmBackward0()
        node.in_shape = x.shape
        node.has_bias = b is not None
        inputs = (input, weight, bias) if b is not None else (input, weight)
        record(node, inputs, (x2 if weight._rg else None, w if input._rg else None))
        node.save_versions(input if weight._rg else None, weight if input._rg else None)
        return _result(out, node)
    return _result(out)


class BilinearBackward0(Node):
    __slots__ = ("shapes", "has_bias")
    saved_roles = (0, 1, 2, None, 3)
    decomposed = True

    def decompose(self, x1, x2, w, t, b):
        out = einsum("bi,kij,bj->bk", x1, w, x2)
        out = out if b is None else out + b
        return out.reshape(tuple(self.shapes[0][:-1]) + (w.shape[0],))

    def backward(self, g):
        x1, x2, w, t, _ = self.saved
        s1, s2 = self.shapes
        out_f, in1, in2 = w.shape
        g2 = g.reshape(-1, out_f)
        g1 = gx2 = gw = gb = None
        if self.needs_grad(0):
            # u[b, k, i] = sum_j W[k, i, j] x2[b, j]
            u = B.matmul(x2, w.transpose(2, 0, 1).reshape(in2, out_f * in1)).reshape(-1, out_f, in1)
            g1 = B.matmul(g2[:, None, :], u)[:, 0, :].reshape(s1)
        if self.needs_grad(1):
            gx2 = B.matmul(g2[:, None, :], t)[:, 0, :].reshape(s2)
        if self.needs_grad(2):
            outer = (x1[:, :, None] * x2[:, None, :]).reshape(x1.shape[0], in1 * in2)
            gw = B.matmul(g2.T, outer).reshape(w.shape)
        if self.has_bias and self.needs_grad(3):
            gb = g2.sum(axis=0)
        return (g1, gx2, gw, gb) if self.has_bias else (g1, gx2, gw)


@autocast_op(cuda=PROMOTE)
def bilinear(input1, input2, weight, bias=None):
    """y_k = x1^T W_k x2 + b_k. Inputs (*, in1) and (*, in2), weight (out, in1, in2) -> (*, out)."""
    a, c, w = input1._data, input2._data, weight._data
    b = bias._data if bias is not None else None
    if w.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got shape {shape_str(w.shape)}")
    if a.shape[:-1] != c.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {shape_str(a.shape[:-1])} and "
            f"{shape_str(c.shape[:-1])}"
        )
    out_f, in1, in2 = w.shape
    if a.shape[-1] != in1 or c.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input sizes ({a.shape[-1]}, {c.shape[-1]}) do not match the weight's ({in1}, {in2})"
        )
    _check_dtypes("bilinear", a, c, w, b)
    x1 = a.reshape(-1, in1)
    x2 = c.reshape(-1, in2)
    # t[b, k, j] = sum_i x1[b, i] W[k, i, j]: one matmul, then a batched dot with x2
    t = B.matmul(x1, w.transpose(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    out = B.matmul(t, x2[:, :, None])[:, :, 0]
    if b is not None:
        out = out + b
    out = out.reshape(a.shape[:-1] + (out_f,))
    tensors = (input1, input2, weight) + ((bias,) if bias is not None else ())
    if needs_grad(*tensors):
        node = BilinearBackward0()
        node.shapes = (a.shape, c.shape)
        node.has_bias = b is not None
        record(node, tensors, (x1, x2, w, t, b))
        node.save_versions(input1, input2, weight)
        return _result(out, node)
    return _result(out)
