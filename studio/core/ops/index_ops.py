"""`index_add` and the in-place scatters (`index_add_`, `scatter_add_`, `scatter_`, `index_fill_`),
composed of scatter_add, scatter and copy_, so their gradients come from those ops."""

from __future__ import annotations

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
