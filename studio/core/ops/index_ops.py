"""`index_add`, `index_fill` (and, through Tensor, their in-place forms), composed of scatter_add and
scatter so that their gradients come from those ops; and `unique`."""

from __future__ import annotations

import numpy as np

from .._arrays import wrap_dim
from ..tensor import Tensor
from .shape import scatter, scatter_add


def _expanded_index(index, source, dim):
    """`index` (one entry per slice along `dim`) repeated over the other dims of `source`."""
    shape = [1] * source.ndim
    shape[dim] = index.shape[0]
    return index.reshape(shape).expand(*source.shape)


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of `input` with alpha * source[i] added to the slice index[i] along `dim` (repeats add up)."""
    if not isinstance(source, Tensor) or not isinstance(index, Tensor):
        raise TypeError("index_add(): index and source must be Tensors")
    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, got {index.ndim}-D index")
    d = wrap_dim(dim, input.ndim, "index_add")
    src = source if source.ndim else source.reshape(1)
    if src.shape[d] != index.shape[0]:
        raise RuntimeError(
            f"index_add_(): Number of indices ({index.shape[0]}) should be equal to source.size(dim) "
            f"({src.shape[d]})"
        )
    if alpha != 1:
        src = src * alpha
    return scatter_add(input, d, _expanded_index(index, src, d), src)


def index_fill(input, dim, index, value):
    """A copy of `input` with the slices index[i] along `dim` set to `value`."""
    d = wrap_dim(dim, input.ndim, "index_fill")
    shape = list(input.shape)
    shape[d] = index.shape[0]
    like = input.new_zeros(shape)
    return scatter(input, d, _expanded_index(index, like, d), value=value)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of `input` (sorted), with optionally the inverse indices and the counts.

    Not differentiable, as in PyTorch. With `dim`, the distinct slices along that dim.
    """
    from .. import backend as B
    from ..creation import as_tensor

    x = B.to_numpy(input._data)
    axis = None if dim is None else wrap_dim(dim, x.ndim, "unique")
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True, axis=axis)
    dev = input.device
    out = [as_tensor(values, device=dev)]
    if return_inverse:
        out.append(as_tensor(inverse.reshape(x.shape if axis is None else -1).astype(np.int64), device=dev))
    if return_counts:
        out.append(as_tensor(counts.astype(np.int64), device=dev))
    return out[0] if len(out) == 1 else tuple(out)
