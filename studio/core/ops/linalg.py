"""Matrix products: matmul (2-D, batched, broadcast, vectors), mm, bmm, dot, mv, outer, einsum."""

from __future__ import annotations

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import Tensor, _result, record
from ._util import operands, shape_str, sum_to

_xp = B.array_module


class MmBackward0(Node):
    """Gradients of a @ b for a, b of at least 2 dims (batch dims broadcast)."""

    __slots__ = ("shapes",)

    def backward(self, g):
        a, b = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = sum_to(xp.matmul(g, xp.swapaxes(b, -1, -2)), sa)
        if self.next_functions[1][0] is not None:
            gb = sum_to(xp.matmul(xp.swapaxes(a, -1, -2), g), sb)
        return (ga, gb)


def _matmul_error(x, y):
    return RuntimeError(
        f"matmul: shapes {shape_str(x.shape)} and {shape_str(y.shape)} cannot be multiplied"
    )


def matmul(input, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"matmul: expected a Tensor as the second argument, got {type(other).__name__}")
    x, y, _ = operands(input, other, "matmul")
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{x.ndim}D and {y.ndim}D")
    # vectors become matrices for the product and lose that dim again afterwards
    xv, yv = x.ndim == 1, y.ndim == 1
    a = x[None, :] if xv else x
    b = y[:, None] if yv else y
    if a.shape[-1] != b.shape[-2]:
        raise _matmul_error(x, y)
    try:
        out = _xp(a).matmul(a, b)
    except ValueError:
        raise _matmul_error(x, y) from None
    if xv:
        out = out[..., 0, :]
    if yv:
        out = out[..., 0]
    if grad_mode._enabled and (input._rg or other._rg):
        node = MmBackward0() if not (xv or yv) else MatmulVecBackward()
        node.shapes = (a.shape, b.shape)
        if xv or yv:
            node.vec = (xv, yv)
        record(node, (input, other), (a, b))
        node.save_versions(input, other)
        return _result(out, node)
    return _result(out)


class MatmulVecBackward(MmBackward0):
    """matmul where one side was a vector: restore the vector's shape in its gradient."""

    __slots__ = ("vec",)

    def name(self):
        return "MvBackward0"

    def backward(self, g):
        xv, yv = self.vec
        if xv:
            g = g[..., None, :]
        if yv:
            g = g[..., None]
        ga, gb = MmBackward0.backward(self, g)
        if xv and ga is not None:
            ga = ga.reshape(-1)
        if yv and gb is not None:
            gb = gb.reshape(-1)
        return (ga, gb)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)
