"""Triangular factors: `cholesky` (A = L L^T of symmetric positive-definite matrices) and
`solve_triangular`, batched and differentiable, the pieces a multivariate normal is made of."""

from __future__ import annotations

import numpy as np

from .. import backend as B
from .._arrays import shape_str, sum_to
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor

_xp = B.array_module


def _square_stack(t, where):
    if not isinstance(t, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(t).__name__}")
    if t.ndim < 2 or t.shape[-1] != t.shape[-2]:
        raise RuntimeError(
            f"{where}: A must be batches of square matrices, but they are "
            f"{t.shape[-2] if t.ndim >= 2 else t.ndim} by {t.shape[-1] if t.ndim else 0} matrices"
        )
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{where}: Expected a floating point tensor as input. Got {t.dtype}")
    return t._data


def _transpose(a):
    return _xp(a).swapaxes(a, -1, -2)


class LinalgCholeskyExBackward0(Node):
    """gA = sym(L^-T Phi(L^T gL) L^-1), Phi taking the lower triangle with half its diagonal."""

    __slots__ = ()

    def backward(self, g):
        (low,) = self.saved
        xp = _xp(g)
        phi = xp.tril(B.matmul(_transpose(low), g))
        phi = phi - 0.5 * xp.eye(phi.shape[-1], dtype=phi.dtype) * phi
        inv = xp.linalg.inv(low)
        s = B.matmul(B.matmul(_transpose(inv), phi), inv)
        return ((s + _transpose(s)) * 0.5,)


def cholesky(input, upper=False):
    """The Cholesky factor of each symmetric positive-definite matrix in `input` (lower by default)."""
    a = _square_stack(input, "linalg.cholesky")
    xp = _xp(a)
    try:
        low = xp.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise RuntimeError(
            "linalg.cholesky: The factorization could not be completed because the input is not "
            "positive-definite."
        ) from None
    if not bool(xp.isfinite(low).all()):  # cupy returns nan instead of raising
        raise RuntimeError(
            "linalg.cholesky: The factorization could not be completed because the input is not "
            "positive-definite."
        )
    node = None
    if needs_grad(input):
        node = LinalgCholeskyExBackward0()
        record(node, (input,), (low,))
    out = _result(low, node)
    return out.mT if upper else out


class LinalgSolveTriangularBackward0(Node):
    """X = A^-1 B: gB = A^-T gX and gA = -gB X^T, kept to A's triangle."""

    __slots__ = ("upper", "unitriangular", "shapes")

    def backward(self, g):
        a, x = self.saved
        xp = _xp(g)
        gb = xp.linalg.solve(_transpose(a), g)
        ga = None
        if self.needs_grad(0):
            ga = -B.matmul(gb, _transpose(x))
            ga = xp.triu(ga) if self.upper else xp.tril(ga)
            if self.unitriangular:
                ga = ga - ga * xp.eye(ga.shape[-1], dtype=ga.dtype)
            ga = sum_to(ga, self.shapes[0])
        return (ga, sum_to(gb, self.shapes[1]) if self.needs_grad(1) else None)


def solve_triangular(A, B_, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (left) or X A = B, for A triangular (its other triangle is not read)."""
    if out is not None:
        raise TypeError("solve_triangular: out= is not supported in Studio; use the returned tensor")
    if not left:
        return solve_triangular(A.mT, B_.mT, upper=not upper, unitriangular=unitriangular).mT
    a = _square_stack(A, "linalg.solve_triangular")
    b = B_._data
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"linalg.solve_triangular: Incompatible shapes of A and B for the equation AX = B "
            f"({shape_str(a.shape[-2:])} and {shape_str(b.shape[-2:])})"
        )
    xp = _xp(a)
    tri = xp.triu(a) if upper else xp.tril(a)
    if unitriangular:
        eye = xp.eye(a.shape[-1], dtype=a.dtype)
        tri = tri - tri * eye + eye
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    with np.errstate(divide="ignore", invalid="ignore"):
        x = xp.linalg.solve(
            xp.broadcast_to(tri, batch + a.shape[-2:]), xp.broadcast_to(b, batch + b.shape[-2:])
        )
    node = None
    if needs_grad(A, B_):
        node = LinalgSolveTriangularBackward0()
        node.upper, node.unitriangular, node.shapes = upper, unitriangular, (a.shape, b.shape)
        record(node, (A, B_), (tri, x))
    return _result(x, node)


__all__ = ["cholesky", "solve_triangular"]
