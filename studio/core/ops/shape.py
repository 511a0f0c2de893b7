"""Shape and indexing ops: views, reshapes, joins and splits, gathers, masks and `__getitem__`.

Views share their base's memory and version counter, as in PyTorch, so that an in-place change
through one is seen by the checks of the other.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import Tensor, _result, record
from ._util import shape_str, wrap_dim

_xp = B.array_module


def _view_vc(out, input):
    return input._vc if out.base is not None else None


class ViewBackward0(Node):
    __slots__ = ("in_shape",)

    def backward(self, g):
        return (g.reshape(self.in_shape),)


def _infer_shape(shape, numel, where):
    shape = [builtins.int(s) for s in shape]
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{where}: only one dimension can be inferred")
    if builtins.any(s < -1 for s in shape):
        raise RuntimeError(f"{where}: invalid shape dimension {min(shape)}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{where}: shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"{where}: shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def reshape(input, shape):
    x = input._data
    shape = _infer_shape(shape, x.size, "reshape")
    out = x.reshape(shape)
    if grad_mode._enabled and input._rg:
        node = ViewBackward0()
        node.in_shape = x.shape
        record(node, (input,))
        return _result(out, node, vc=_view_vc(out, input))
    return _result(out, vc=_view_vc(out, input))


def view(input, shape):
    x = input._data
    shape = _infer_shape(shape, x.size, "view")
    if not x.flags.c_contiguous and shape != x.shape:
        try:
            out = x.view()
            out.shape = shape  # raises when the memory layout cannot be viewed this way
        except AttributeError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ) from None
    return reshape(input, shape)


class PermuteBackward0(Node):
    __slots__ = ("inverse",)

    def backward(self, g):
        return (g.transpose(self.inverse),)


def permute(input, dims):
    x = input._data
    if len(dims) != x.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    axes = tuple(wrap_dim(d, x.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    out = x.transpose(axes)
    if grad_mode._enabled and input._rg:
        node = PermuteBackward0()
        node.inverse = tuple(np.argsort(axes))
        record(node, (input,))
        return _result(out, node, vc=input._vc)
    return _result(out, vc=input._vc)


def transpose(input, dim0, dim1):
    n = input._data.ndim
    if n == 0:
        return input.detach() if not input._rg else permute(input, ())
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    axes = list(range(n))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return permute(input, axes)


def t(input):
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return transpose(input, 0, 1) if n == 2 else permute(input, tuple(range(n)))


def contiguous(input):
    if input._data.flags.c_contiguous:
        return input
    from .elementwise import clone

    return clone(input)


# -------------------------------------------------------------------------------- indexing


def _convert_index(index, shape):
    """Turn tensors in an index into arrays; report whether it is advanced (copying) indexing."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    for item in index:
        if isinstance(item, Tensor):
            item = item._data
            if item.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            advanced = True
        elif isinstance(item, list):
            item = np.asarray(item)
            advanced = True
        elif isinstance(item, np.ndarray) or B.is_cuda_array(item):
            advanced = True
        elif item is None or item is Ellipsis or isinstance(item, slice | builtins.int | np.integer):
            if isinstance(item, builtins.bool):
                advanced = True
        else:
            raise IndexError(f"index of type {type(item).__name__} is not supported")
        out.append(item)
    return tuple(out), advanced


class IndexBackward0(Node):
    __slots__ = ("in_shape", "index", "advanced", "dtype")

    def backward(self, g):
        xp = _xp(g)
        gx = xp.zeros(self.in_shape, g.dtype)
        if self.advanced:
            # repeated indices must accumulate, which plain assignment would not do
            if xp is np:
                np.add.at(gx, self.index, g)
            else:
                xp.add.at(gx, self.index, g)
        else:
            gx[self.index] = g
        return (gx,)


def getitem(input, index):
    x = input._data
    idx, advanced = _convert_index(index, x.shape)
    try:
        out = x[idx]
    except IndexError as e:
        raise IndexError(f"index {index!r} is out of bounds for a tensor of shape {shape_str(x.shape)}: {e}") from None
    if grad_mode._enabled and input._rg:
        node = IndexBackward0() if advanced else SliceBackward0()
        node.in_shape, node.index, node.advanced = x.shape, idx, advanced
        record(node, (input,))
        return _result(out, node, vc=None if advanced else input._vc)
    return _result(out, vc=None if advanced else input._vc)


class SliceBackward0(IndexBackward0):
    __slots__ = ()


class CopySlices(Node):
    """setitem recorded: the old values under the index get no gradient, the new ones do."""

    __slots__ = ("index", "value_shape", "advanced")

    def backward(self, g):
        gv = None
        if self.next_functions[1][0] is not None:
            from ._util import sum_to

            gv = sum_to(g[self.index], self.value_shape)
        gx = g.copy()
        gx[self.index] = 0
        return (gx, gv)


def setitem(input, index, value):
    from .elementwise import _check_inplace, as_operand

    _check_inplace(input)
    x = input._data
    idx, advanced = _convert_index(index, x.shape)
    if isinstance(value, Tensor):
        v = value._data
        if type(v) is not type(x):
            raise RuntimeError("setitem: the value is on another device than the tensor")
    else:
        value = as_operand(value, input) if not isinstance(value, builtins.int | builtins.float | builtins.bool) else value
        v = value._data if isinstance(value, Tensor) else value
    try:
        x[idx] = v
    except ValueError as e:
        raise RuntimeError(f"setitem: cannot assign a value of shape {shape_str(np.shape(v))} to index {index!r} of a tensor of shape {shape_str(x.shape)}: {e}") from None
    input._vc[0] += 1
    vrg = isinstance(value, Tensor) and value._rg
    if grad_mode._enabled and (vrg or input._rg):
        node = CopySlices()
        node.index, node.advanced = idx, advanced
        node.value_shape = value._data.shape if isinstance(value, Tensor) else ()
        record(node, (input, value if isinstance(value, Tensor) else None))
        input.grad_fn = node
        input._output_nr = 0
        input._rg = True
