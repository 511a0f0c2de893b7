"""Diagonals: `diagonal`, `diag_embed`, `diag`, `diagflat` and `trace`, composed of indexing, padding and
reshapes (so their gradients come from those ops)."""

from __future__ import annotations

import numpy as np

from .._arrays import wrap_dim
from ..creation import as_tensor
from ..tensor import Tensor
from .misc import pad as _pad
from .shape import movedim


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, offset above (>0) or below (<0): a last dim of its length."""
    n = input.ndim
    d1, d2 = wrap_dim(dim1, n, "diagonal"), wrap_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = movedim(input, (d1, d2), (-2, -1))
    rows, cols = x.shape[-2:]
    length = max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols))
    r = np.arange(length) + max(0, -offset)
    index_r = as_tensor(r, device=input.device)
    index_c = as_tensor(r + offset, device=input.device)
    return x[..., index_r, index_c]


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Square matrices with the last dim of `input` on their (offset) diagonal, in dims (dim1, dim2)."""
    length = input.shape[-1]
    n = length + abs(offset)
    lead = tuple(input.shape[:-1])
    # each value followed by n zeros, laid out flat: value i lands at i * (n + 1), its diagonal place
    flat = _pad(input.unsqueeze(-1), (0, n)).reshape(*lead, length * (n + 1))
    shift = offset if offset >= 0 else -offset * n
    size = n * n
    end = shift + flat.shape[-1]
    flat = _pad(flat, (shift, max(0, size - end)))[..., :size]
    out = flat.reshape(*lead, n, n)
    ndim = out.ndim
    d1, d2 = wrap_dim(dim1, ndim, "diag_embed"), wrap_dim(dim2, ndim, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return movedim(out, (-2, -1), (d1, d2))


def diag(input, diagonal=0):
    """A 1-D input becomes a square matrix with it on the given diagonal; a 2-D input gives its diagonal."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diag(): input must be a Tensor, got {type(input).__name__}")
    if input.ndim == 1:
        return diag_embed(input, diagonal)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def diagflat(input, offset=0):
    """The flattened input on the (offset) diagonal of a square matrix."""
    return diag_embed(input.reshape(-1), offset)


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


__all__ = ["diag", "diag_embed", "diagflat", "diagonal", "trace"]
