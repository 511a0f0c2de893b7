"""Shape and indexing ops: views, reshapes, joins and splits, gathers, masks and `__getitem__`.

Views share their base's memory and version counter, as in PyTorch, so that an in-place change
through one is seen by the checks of the other, and record their base (`autograd.views.mark_view`)
so that an in-place change through a view rewrites the base's history.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import backend as B
from .._arrays import astype, permuted, shape_str, sum_to, wrap_dim, wrap_dims
from ..autograd import views as _views
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..autograd.views import DEFAULT as _DEFAULT
from ..autograd.views import MULTI_OUTPUT as _MULTI_OUTPUT
from ..autograd.views import NO_GRAD as _NO_GRAD
from ..autograd.views import mark_view as _mark_view
from ..tensor import Tensor, _wrap
from .elementwise import _check_inplace, clone

_xp = B.array_module

# the public names PyTorch also has as functions (view, expand and repeat are Tensor methods only)
__all__ = [
    "broadcast_to",
    "cat",
    "chunk",
    "concat",
    "concatenate",
    "flatten",
    "flip",
    "gather",
    "hstack",
    "index_select",
    "masked_fill",
    "masked_select",
    "movedim",
    "moveaxis",
    "narrow",
    "nonzero",
    "permute",
    "reshape",
    "roll",
    "scatter",
    "scatter_add",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "swapdims",
    "t",
    "tile",
    "transpose",
    "tril",
    "triu",
    "unbind",
    "unflatten",
    "unsqueeze",
    "vstack",
]


def _out(input, out, node_cls, attrs=None, view=True):
    """Wrap `out`; record `node_cls` when needed. Views share the input's version counter."""
    if not view:
        if needs_grad(input):
            node = node_cls()
            if attrs:
                for k, v in attrs.items():
                    setattr(node, k, v)
            record(node, (input,))
            return _result(out, node)
        return _result(out)
    if needs_grad(input):
        node = node_cls()
        if attrs:
            for k, v in attrs.items():
                setattr(node, k, v)
        record(node, (input,))
        return _mark_view(_result(out, node, vc=input._vc), input, _DEFAULT)
    return _mark_view(_result(out, vc=input._vc), input, _DEFAULT)


def _index_add(target, index, values):
    """target[index] += values, with repeated indices accumulating.

    When every item of `index` is an integer array, the positions are turned into flat offsets first:
    a 1-d `add.at` is several times faster than one over a tuple of arrays.
    """
    xp = _xp(target)
    if not (
        isinstance(index, tuple)
        and index
        and target.flags.c_contiguous
        and builtins.all(hasattr(i, "dtype") and i.dtype.kind in "iu" for i in index)
    ):
        xp.add.at(target, index, values)
        return
    shape = target.shape
    rest = shape[len(index) :]
    row = 1
    for n in rest:
        row *= n
    lin = None
    step = row
    for d in range(len(index) - 1, -1, -1):
        term = (index[d].astype(np.int64, copy=False) % shape[d]) * step
        lin = term if lin is None else lin + term
        step *= shape[d]
    if rest:
        lin = lin.reshape(lin.shape + (1,) * len(rest)) + xp.arange(row, dtype=np.int64).reshape(rest)
    flat = xp.broadcast_to(values, lin.shape).reshape(-1)
    xp.add.at(target.reshape(-1), lin.reshape(-1), flat)


def _filled_zeros(shape, index, values, accumulate):
    xp = _xp(values)
    out = xp.zeros(shape, values.dtype)
    if accumulate:
        _index_add(out, index, values)
    else:
        out[index] = values
    return out


class IndexPutBackward0(Node):
    """Values written into zeros at an index: their gradient is read back from there."""

    __slots__ = ("index", "values_shape")
    saved_roles = ()

    def backward(self, g):
        return (sum_to(g[self.index], self.values_shape),)


def index_put_zeros(shape, index, values, accumulate=False):
    """Zeros of `shape` with tensor `values` written at `index` (added where positions repeat)."""
    out = _filled_zeros(shape, index, values._data, accumulate)
    if needs_grad(values):
        node = IndexPutBackward0()
        node.index, node.values_shape = index, values._data.shape
        record(node, (values,))
        return _result(out, node)
    return _result(out)


def _into_zeros(shape, index, values, accumulate=False):
    """The gradient of reading `index` from a tensor of `shape`: zeros with `values` put back there.

    Arrays in a plain backward; in a recorded one (tensors) a differentiable op.
    """
    if isinstance(values, Tensor):
        return index_put_zeros(shape, index, values, accumulate)
    return _filled_zeros(shape, index, values, accumulate)


def _zeroed_at(g, index, own=False):
    """`g` with zeros at `index`: the gradient of a tensor whose values there were overwritten.

    An array is copied first unless the caller `own`s it; a tensor (a recorded backward) is masked.
    """
    if isinstance(g, Tensor):
        keep = _xp(g._data).ones(g._data.shape, bool)
        keep[index] = False
        return g * _wrap(keep)
    if not own:
        g = g.copy()
    g[index] = 0
    return g


def _index_array(index, x, where):
    """The integer array of an index tensor, on `x`'s device."""
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{where}(): Expected dtype int32/int64 for index, got {idx.dtype}")
    if type(idx) is not type(x):
        idx = B.to_device_array(idx, B.device_of(x))
    return idx


# ------------------------------------------------------------------------------ reshaping


class ViewBackward0(Node):
    __slots__ = ("in_shape",)
    saved_roles = ()

    def backward(self, g):
        return (g.reshape(self.in_shape),)


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


def _infer_shape(shape, numel, where):
    shape = [builtins.int(s) for s in shape]
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if builtins.any(s < -1 for s in shape):
        raise RuntimeError(f"invalid shape dimension {builtins.min(shape)}")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _viewable(old_shape, old_strides, new_shape):
    """Whether `new_shape` can view memory laid out as (old_shape, old_strides): PyTorch's rule."""
    if builtins.any(s == 0 for s in old_shape):
        return True
    old = [(s, st) for s, st in zip(old_shape, old_strides) if s != 1]
    new = [s for s in new_shape if s != 1]
    # group old dims into contiguous chunks, then each chunk must be covered by whole new dims
    chunks = []
    for s, st in old:
        if chunks and chunks[-1][1] == s * st:
            chunks[-1] = (chunks[-1][0] * s, st)
        else:
            chunks.append((s, st))
    i = 0
    for size, _ in chunks:
        acc = 1
        while acc < size and i < len(new):
            acc *= new[i]
            i += 1
        if acc != size:
            return False
    return i == len(new)


def reshape(input, shape):
    """A tensor of `shape` with the same elements: a view when the layout allows, else a copy."""
    x = input._data
    shape = _infer_shape(shape, x.size, "reshape")
    if shape == x.shape:
        return _out(input, x.view(), ViewBackward0, {"in_shape": x.shape})
    out = x.reshape(shape)
    is_view = x.size == 0 or _xp(x).may_share_memory(out, x)
    return _out(
        input, out, ViewBackward0 if is_view else UnsafeViewBackward0, {"in_shape": x.shape}, view=is_view
    )


def view(input, shape):
    """A view of `shape`; refuses layouts that cannot be viewed that way, as PyTorch does."""
    x = input._data
    shape = _infer_shape(shape, x.size, "view")
    strides = tuple(s // x.itemsize for s in x.strides) if x.itemsize else x.strides
    if not x.flags.c_contiguous and not _viewable(x.shape, strides, shape):
        raise RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead."
        )
    return reshape(input, shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    x = input._data
    if x.ndim == 0:
        return reshape(input, (1,))
    s = wrap_dim(start_dim, x.ndim, "flatten")
    e = wrap_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return reshape(input, x.shape)
    return reshape(input, x.shape[:s] + (-1,) + x.shape[e + 1 :])


def unflatten(input, dim, sizes):
    """Split dim `dim` into `sizes` (one of which may be -1)."""
    x = input._data
    d = wrap_dim(dim, x.ndim, "unflatten")
    sizes = tuple(builtins.int(s) for s in sizes)
    n = x.shape[d]
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    if (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} ({n}) "
            "in the input tensor"
        )
    return reshape(input, x.shape[:d] + sizes + x.shape[d + 1 :])


class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


class SqueezeBackward2(ViewBackward0):
    __slots__ = ()


def squeeze(input, dim=None):
    """Remove size-1 dims: all of them, or those among `dim` (int or tuple)."""
    x = input._data
    if dim is None:
        axes, cls = tuple(i for i, s in enumerate(x.shape) if s == 1), SqueezeBackward0
    else:
        cls = SqueezeBackward1 if isinstance(dim, numbers.Integral) else SqueezeBackward2
        axes = tuple(a for a in wrap_dims(dim, x.ndim, "squeeze") if x.ndim and x.shape[a] == 1)
    out = x.squeeze(axes) if axes else x.view()
    return _out(input, out, cls, {"in_shape": x.shape})


class UnsqueezeBackward0(ViewBackward0):
    __slots__ = ()


def unsqueeze(input, dim):
    """Insert a size-1 dim at `dim` (in the range [-ndim-1, ndim])."""
    x = input._data
    d = wrap_dim(dim, x.ndim + 1, "unsqueeze")
    return _out(input, _xp(x).expand_dims(x, d), UnsqueezeBackward0, {"in_shape": x.shape})


class PermuteBackward0(Node):
    __slots__ = ("inverse",)
    saved_roles = ()

    def backward(self, g):
        return (permuted(g, self.inverse),)


class TransposeBackward0(PermuteBackward0):
    __slots__ = ()


class TBackward0(PermuteBackward0):
    __slots__ = ()


def _permute(input, axes, cls):
    inverse = [0] * len(axes)
    for i, a in enumerate(axes):
        inverse[a] = i
    inverse = tuple(inverse)
    return _out(input, input._data.transpose(axes), cls, {"inverse": inverse})


def permute(input, dims):
    """Reorder the dims: output dim i is input dim dims[i]."""
    x = input._data
    dims = tuple(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of "
            f"the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal to "
            f"len(dims) = {len(dims)}"
        )
    axes = tuple(wrap_dim(d, x.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permute(input, axes, PermuteBackward0)


def transpose(input, dim0, dim1):
    """Swap two dims (a view)."""
    n = input._data.ndim
    d0, d1 = wrap_dim(dim0, n, "transpose"), wrap_dim(dim1, n, "transpose")
    axes = list(range(n))
    if n:
        axes[d0], axes[d1] = axes[d1], axes[d0]
    return _permute(input, tuple(axes), TransposeBackward0)


swapaxes = swapdims = transpose


def t(input):
    """Transpose a matrix; 0-d and 1-d tensors come back as they are."""
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return _permute(input, (1, 0) if n == 2 else tuple(range(n)), TBackward0)


def movedim(input, source, destination):
    """Move dims `source` to positions `destination` (ints or sequences), keeping the others' order."""
    n = input._data.ndim
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain the "
            f"same number of dims as destination ({list(dst)} dims)"
        )
    src = tuple(wrap_dim(d, n, "movedim") for d in src)
    dst = tuple(wrap_dim(d, n, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(n) if i not in src)
    axes = tuple(o if o is not None else next(rest) for o in order)
    return _permute(input, axes, PermuteBackward0)


moveaxis = movedim


def contiguous(input):
    """The tensor itself when C-contiguous, else a contiguous copy."""
    if input._data.flags.c_contiguous:
        return input
    return clone(input)


class ExpandBackward0(Node):
    __slots__ = ("in_shape",)
    saved_roles = ()

    def backward(self, g):
        return (sum_to(g, self.in_shape),)


def expand(input, sizes):
    """A broadcast view of `sizes`; -1 keeps a dim's size and new dims may be added in front."""
    x = input._data
    sizes = tuple(builtins.int(s) for s in sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(
            f"expand({input.dtype.name} tensor of shape {list(x.shape)}, size={list(sizes)}): the number "
            f"of sizes provided ({len(sizes)}) must be greater or equal to the number of dimensions in "
            f"the tensor ({x.ndim})"
        )
    lead = len(sizes) - x.ndim
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing "
                    f"dimension {i}"
                )
            target.append(s)
            continue
        have = x.shape[i - lead]
        if s == -1:
            s = have
        elif have != 1 and s != have:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(x.shape)}"
            )
        target.append(s)
    out = _xp(x).broadcast_to(x, tuple(target))
    return _out(input, out, ExpandBackward0, {"in_shape": x.shape})


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


class RepeatBackward0(Node):
    __slots__ = ("in_shape", "reps")
    saved_roles = ()

    def backward(self, g):
        inner = (1,) * (len(self.reps) - len(self.in_shape)) + tuple(self.in_shape)
        split = []
        for r, s in zip(self.reps, inner):
            split += [r, s]
        gs = g.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return (gs.reshape(self.in_shape),)


def repeat(input, sizes):
    """Tile the tensor `sizes[i]` times along each dim (a copy)."""
    x = input._data
    reps = tuple(builtins.int(s) for s in sizes)
    if len(reps) < x.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor"
        )
    if builtins.any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension: repeats {list(reps)}")
    out = _xp(x).tile(x, reps)
    if out.ndim < len(reps):
        out = out.reshape(reps)
    return _out(input, out, RepeatBackward0, {"in_shape": x.shape, "reps": reps}, view=False)


def tile(input, dims):
    dims = tuple(dims)
    n = input._data.ndim
    return repeat(input, (1,) * (n - len(dims)) + dims)


# ---------------------------------------------------------------------------- split and join


class SplitBackward0(Node):
    """Several views along one dim: their gradients are joined back (zeros where none came)."""

    __slots__ = ("n_outputs", "axis", "in_shape", "sizes", "in_dtype")
    saved_roles = ()

    def backward(self, *grads):
        xp = None
        for g in grads:
            if g is not None:
                xp = _xp(g)
                break
        parts = []
        for g, s in zip(grads, self.sizes):
            if g is None:
                shape = list(self.in_shape)
                shape[self.axis] = s
                g = xp.zeros(shape, self.in_dtype)
            parts.append(g)
        return (xp.concatenate(parts, axis=self.axis),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


class UnbindBackward0(SplitBackward0):
    __slots__ = ()

    def backward(self, *grads):
        return SplitBackward0.backward(
            self, *(None if g is None else _xp(g).expand_dims(g, self.axis) for g in grads)
        )


def _split_views(input, axis, sizes, cls, squeeze_dim=False):
    x = input._data
    outs = []
    start = 0
    for s in sizes:
        index = (slice(None),) * axis + (slice(start, start + s),)
        part = x[index]
        outs.append(part.squeeze(axis) if squeeze_dim else part)
        start += s
    if needs_grad(input):
        node = cls()
        node.n_outputs, node.axis, node.in_shape = len(sizes), axis, x.shape
        node.sizes, node.in_dtype = tuple(sizes), x.dtype
        record(node, (input,))
        return tuple(
            _mark_view(_result(o, node, output_nr=i, vc=input._vc), input, _MULTI_OUTPUT)
            for i, o in enumerate(outs)
        )
    # PyTorch counts unrecorded multi-output views as made without grad mode
    return tuple(_mark_view(_result(o, vc=input._vc), input, _NO_GRAD) for o in outs)


def split(input, split_size_or_sections, dim=0):
    """Views of pieces along `dim`: of `split_size` each (the last may be smaller) or of listed sizes."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = builtins.int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0:
            if n != 0:
                raise RuntimeError(
                    f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
                )
            return _split_views(input, axis, [0], SplitBackward0)
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        return _split_views(input, axis, sizes or [0], SplitBackward0)
    sizes = [builtins.int(s) for s in split_size_or_sections]
    if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension "
            f"{dim}), but got split_sizes={sizes}"
        )
    return _split_views(input, axis, sizes, SplitWithSizesBackward0)


def chunk(input, chunks, dim=0):
    """Split into `chunks` pieces of ceil(size / chunks) each (there may be fewer pieces)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    x = input._data
    axis = wrap_dim(dim, x.ndim, "chunk")
    n = x.shape[axis]
    size = -(-n // chunks)
    if size == 0:
        return _split_views(input, axis, [0] * chunks, SplitBackward0)
    return split(input, size, axis)


def unbind(input, dim=0):
    """The slices along `dim`, that dim removed."""
    x = input._data
    if x.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    axis = wrap_dim(dim, x.ndim, "unbind")
    return _split_views(input, axis, [1] * x.shape[axis], UnbindBackward0, squeeze_dim=True)


class SliceBackward0(Node):
    __slots__ = ("in_shape", "index", "advanced")
    saved_roles = ()

    def backward(self, g):
        return (_into_zeros(self.in_shape, self.index, g),)


def narrow(input, dim, start, length):
    """The view of `length` elements from `start` along `dim`."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "narrow")
    n = x.shape[axis]
    start = builtins.int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    index = (slice(None),) * axis + (slice(start, start + length),)
    return _out(input, x[index], SliceBackward0, {"in_shape": x.shape, "index": index})


class CatBackward0(Node):
    __slots__ = ("axis", "sizes", "dtypes")
    saved_roles = ()

    def backward(self, g):
        grads = []
        start = 0
        for i, (s, dt) in enumerate(zip(self.sizes, self.dtypes)):
            if s is None or not self.needs_grad(i):
                grads.append(None)
            else:
                piece = g[(slice(None),) * self.axis + (slice(start, start + s),)]
                grads.append(astype(piece, dt))
            start += s or 0
        return tuple(grads)


def _promoted(tensors, where):
    dt = tensors[0].dtype
    for t_ in tensors[1:]:
        dt = B.promote_types(dt, t_.dtype)
    arrays = []
    first = tensors[0]._data
    for t_ in tensors:
        a = t_._data
        if type(a) is not type(first):
            raise RuntimeError(
                f"{where}: expected all tensors to be on the same device, but found at least two devices, "
                f"{B.device_of(first)} and {B.device_of(a)}"
            )
        arrays.append(a if a.dtype == dt.np else a.astype(dt.np))
    return arrays


def _tensor_list(tensors, where):
    tensors = list(tensors)
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor):
            raise TypeError(
                f"{where}(): argument 'tensors' must be a sequence of Tensors, but element {i} is "
                f"{type(t_).__name__}"
            )
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dim; dtypes promote, and 1-d empty tensors are skipped."""
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t_ in enumerate(tensors):
        if t_._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    arrays = _promoted(tensors, "cat")
    # PyTorch's legacy rule: 1-d tensors with no elements take no part in the shape checks
    keep = [i for i, a in enumerate(arrays) if not (a.ndim == 1 and a.shape[0] == 0)]
    if not keep:
        out = arrays[0].copy()
        axis = 0
    else:
        ref = arrays[keep[0]]
        axis = wrap_dim(dim, ref.ndim, "cat")
        for i in keep:
            a = arrays[i]
            if a.ndim != ref.ndim:
                raise RuntimeError(
                    f"Tensors must have same number of dimensions: got {ref.ndim} and {a.ndim}"
                )
            for d in range(ref.ndim):
                if d != axis and a.shape[d] != ref.shape[d]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {axis}. Expected size "
                        f"{ref.shape[d]} but got size {a.shape[d]} for tensor number {i} in the list."
                    )
        out = _xp(ref).concatenate([arrays[i] for i in keep], axis=axis)
    if needs_grad(*tensors):
        node = CatBackward0()
        kept = set(keep)
        node.axis = axis
        node.sizes = tuple(a.shape[axis] if i in kept else None for i, a in enumerate(arrays))
        node.dtypes = tuple(t_._data.dtype for t_ in tensors)
        record(node, tensors)
        return _result(out, node)
    return _result(out)


concat = concatenate = cat


class StackBackward0(Node):
    __slots__ = ("axis", "dtypes")
    saved_roles = ()

    def backward(self, g):
        return tuple(
            astype(g[(slice(None),) * self.axis + (i,)], dt) if self.needs_grad(i) else None
            for i, dt in enumerate(self.dtypes)
        )


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape0 = tensors[0]._data.shape
    for i, t_ in enumerate(tensors[1:], 1):
        if t_._data.shape != shape0:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shape0)} at entry 0 and "
                f"{list(t_._data.shape)} at entry {i}"
            )
    arrays = _promoted(tensors, "stack")
    axis = wrap_dim(dim, len(shape0) + 1, "stack")
    out = _xp(arrays[0]).stack(arrays, axis=axis)
    if needs_grad(*tensors):
        node = StackBackward0()
        node.axis, node.dtypes = axis, tuple(t_._data.dtype for t_ in tensors)
        record(node, tensors)
        return _result(out, node)
    return _result(out)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors and tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    return cat([t_ if t_._data.ndim >= 2 else reshape(t_, (1, -1)) for t_ in tensors], 0)


# ---------------------------------------------------------------------- gather and scatter


def _along(idx, axis):
    """Advanced-index tuple: `idx` along `axis`, every position of `idx`'s extent elsewhere."""
    xp = _xp(idx)
    out = []
    for i, n in enumerate(idx.shape):
        if i == axis:
            out.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[i] = n
            out.append(xp.arange(n).reshape(shape))
    return tuple(out)


def _check_index(x, idx, axis, where, src=None):
    if idx.ndim != x.ndim and not (idx.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    for d in range(idx.ndim):
        if d != axis and idx.shape[d] > x.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(idx.shape)} to be no larger "
                f"than self {list(x.shape)} apart from dimension {axis}"
            )
        if src is not None and idx.shape[d] > src.shape[d]:
            raise RuntimeError(
                f"Expected index {list(idx.shape)} to be no larger than src {list(src.shape)} apart from "
                f"dimension {axis}"
            )
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = builtins.int(idx.max() if idx.max() >= n else idx.min())
        raise RuntimeError(f"{where}(): index {bad} is out of bounds for dimension {axis} with size {n}")


class GatherBackward0(Node):
    __slots__ = ("in_shape", "axis")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        # a 0-d input was gathered as (1,)
        gx = _into_zeros(self.in_shape or (1,), _along(idx, self.axis), g.reshape(idx.shape), True)
        return (gx.reshape(self.in_shape),)


def gather(input, dim, index):
    """out[i][j] = input[index[i][j]][j] along `dim` (for dim 0; likewise for others)."""
    x = input._data
    idx = _index_array(index, x, "gather")
    axis = wrap_dim(dim, x.ndim, "gather")
    scalar = x.ndim == 0
    if scalar:
        x, idx = x.reshape(1), idx.reshape(1)
    _check_index(x, idx, axis, "gather")
    out = x[_along(idx, axis)]
    if scalar:
        out = out.reshape(())
    if needs_grad(input):
        node = GatherBackward0()
        node.in_shape, node.axis = input._data.shape, axis
        record(node, (input,), (idx,))
        return _result(out, node)
    return _result(out)


class ScatterBackward0(Node):
    """Positions written by the scatter get no gradient from the input; src gets them."""

    __slots__ = ("axis", "src_shape", "add")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        pos = _along(idx, self.axis)
        gx = None
        if self.needs_grad(0):
            gx = g if self.add else _zeroed_at(g, pos)
        gs = None
        if self.needs_grad(1):
            gs = _into_zeros(self.src_shape, tuple(slice(0, n) for n in idx.shape), g[pos])
        return (gx, gs)


class ScatterAddBackward0(ScatterBackward0):
    __slots__ = ()


def _scatter(input, dim, index, src, value, add, where):
    x = input._data
    xp = _xp(x)
    idx = _index_array(index, x, where)
    axis = wrap_dim(dim, x.ndim, where)
    if src is not None and not isinstance(src, Tensor):
        value, src = src, None
    s = src._data if src is not None else None
    if s is not None and s.dtype != x.dtype:
        raise RuntimeError(
            f"{where}(): Expected self.dtype to be equal to src.dtype, got {input.dtype.name} and "
            f"{src.dtype.name}"
        )
    _check_index(x, idx, axis, where, s)
    out = x.copy()
    pos = _along(idx, axis)
    vals = s[tuple(slice(0, n) for n in idx.shape)] if s is not None else xp.asarray(value, x.dtype)
    if add:
        _index_add(out, pos, xp.broadcast_to(vals, idx.shape))
    else:
        out[pos] = vals
    if needs_grad(input, src):
        node = ScatterAddBackward0() if add else ScatterBackward0()
        node.axis, node.add = axis, add
        node.src_shape = s.shape if s is not None else None
        record(node, (input, src), (idx,))
        return _result(out, node)
    return _result(out)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of `input` with src (or `value`) written at `index` along `dim`."""
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
        if reduce == "add":
            return _scatter(input, dim, index, src, value, True, "scatter")
        x = input._data
        xp = _xp(x)
        idx = _index_array(index, x, "scatter")
        axis = wrap_dim(dim, x.ndim, "scatter")
        vals = (
            src._data[tuple(slice(0, n) for n in idx.shape)]
            if isinstance(src, Tensor)
            else (xp.asarray(src if src is not None else value, x.dtype))
        )
        _check_index(x, idx, axis, "scatter")
        out = x.copy()
        xp.multiply.at(out, _along(idx, axis), xp.broadcast_to(vals, idx.shape))
        return _result(out)
    return _scatter(input, dim, index, src, value, False, "scatter")


def scatter_add(input, dim, index, src):
    """A copy of `input` with src added at `index` along `dim` (repeated indices accumulate)."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): src must be a Tensor, got {type(src).__name__}")
    return _scatter(input, dim, index, src, None, True, "scatter_add")


class IndexSelectBackward0(Node):
    __slots__ = ("in_shape", "axis")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        if isinstance(g, Tensor):  # a recorded backward: the same sum, as a differentiable op
            index = (slice(None),) * self.axis + (idx,)
            return (_into_zeros(self.in_shape or (1,), index, g, True).reshape(self.in_shape),)
        xp = _xp(g)
        gx = xp.zeros(self.in_shape or (1,), g.dtype)  # a 0-d input was indexed as (1,)
        if self.axis == 0:
            _index_add(gx, (idx,), g.reshape(idx.shape + gx.shape[1:]))
        else:
            _index_add(xp.moveaxis(gx, self.axis, 0), idx, xp.moveaxis(g, self.axis, 0))
        return (gx.reshape(self.in_shape),)


def index_select(input, dim, index):
    """The slices at `index` (a 1-d integer tensor) along `dim`."""
    x = input._data
    idx = _index_array(index, x, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    axis = wrap_dim(dim, x.ndim, "index_select")
    if x.ndim == 0 and idx.size != 1:
        raise IndexError(f"index_select(): Index to scalar can have only 1 value, got {idx.size} value(s)")
    n = x.shape[axis] if x.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(
            f"index_select(): index out of range in self: got {builtins.int(idx.max())} for dim {axis} of "
            f"size {n}"
        )
    xx = x.reshape(1) if x.ndim == 0 else x
    out = _xp(x).take(xx, idx, axis=axis)
    if x.ndim == 0:
        out = out.reshape(())
    if needs_grad(input):
        node = IndexSelectBackward0()
        node.in_shape, node.axis = x.shape, axis
        record(node, (input,), (idx,))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------------- masks


def _mask_array(mask, x, where):
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(
            f"{where} only supports boolean masks, but got mask with dtype {B.from_numpy_dtype(m.dtype).name}"
        )
    if type(m) is not type(x):
        m = B.to_device_array(m, B.device_of(x))
    return m


class MaskedFillBackward0(Node):
    __slots__ = ("in_shape", "value_shape")
    saved_roles = (None,)

    def backward(self, g):
        (m,) = self.saved
        xp = _xp(g)
        gx = gv = None
        if self.needs_grad(0):
            gx = sum_to(xp.where(m, 0.0, g), self.in_shape)
        if self.needs_grad(1):
            gv = xp.where(m, g, 0.0).sum().reshape(self.value_shape)
        return (gx, gv)


def masked_fill(input, mask, value):
    """A copy of `input` with `value` (a number or 0-d tensor) where `mask` (broadcast) is True."""
    x = input._data
    m = _mask_array(mask, x, "masked_fill_")
    vt = None
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                f"{value._data.ndim} dimension(s)."
            )
        vt = value
        v = value._data
        if type(v) is not type(x):
            v = B.to_device_array(v, B.device_of(x))
        v = v.astype(x.dtype)
    else:
        if x.dtype.kind in "iub" and isinstance(value, builtins.float) and x.dtype.kind != "b":
            v = x.dtype.type(builtins.int(value))
        else:
            v = x.dtype.type(value)
    xp = _xp(x)
    try:
        out = xp.where(m, v, x)
    except ValueError:
        raise RuntimeError(
            f"masked_fill: the mask of shape {shape_str(m.shape)} cannot be broadcast to the input of shape "
            f"{shape_str(x.shape)}"
        ) from None
    out = out.astype(x.dtype, copy=False)
    if needs_grad(input, vt):
        node = MaskedFillBackward0()
        node.in_shape, node.value_shape = x.shape, ()
        record(node, (input, vt), (m,))
        return _result(out, node)
    return _result(out)


class MaskedSelectBackward0(Node):
    __slots__ = ("in_shape", "full_shape")
    saved_roles = (None,)

    def backward(self, g):
        (m,) = self.saved
        gx = _into_zeros(self.full_shape, _xp(m).broadcast_to(m, self.full_shape), g)
        return (sum_to(gx, self.in_shape),)


def masked_select(input, mask):
    """The 1-d tensor of the elements where `mask` is True (input and mask broadcast together)."""
    x = input._data
    m = _mask_array(mask, x, "masked_select:")
    xp = _xp(x)
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise RuntimeError(
            f"masked_select: the mask of shape {shape_str(m.shape)} and the input of shape "
            f"{shape_str(x.shape)} cannot be broadcast together"
        ) from None
    out = xp.broadcast_to(x, shape)[xp.broadcast_to(m, shape)]
    if needs_grad(input):
        node = MaskedSelectBackward0()
        node.in_shape, node.full_shape = x.shape, shape
        record(node, (input,), (m,))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------- flip, roll, tri


class FlipBackward0(Node):
    __slots__ = ("axes",)
    saved_roles = ()

    def backward(self, g):
        return (_xp(g).flip(g, self.axes),)


def flip(input, dims):
    """A copy with the order of elements reversed along `dims`."""
    x = input._data
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    axes = wrap_dims(dims, x.ndim, "flip")
    if len(set(axes)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    out = _xp(x).flip(x, axes).copy() if x.ndim else x.copy()
    return _out(input, out, FlipBackward0, {"axes": axes if x.ndim else ()}, view=False)


class RollBackward0(Node):
    __slots__ = ("shifts", "axes")
    saved_roles = ()

    def backward(self, g):
        xp = _xp(g)
        back = tuple(-s for s in self.shifts)
        if self.axes is None:
            return (xp.roll(g.reshape(-1), back[0]).reshape(g.shape),)
        return (xp.roll(g, back, axis=self.axes),)


def roll(input, shifts, dims=None):
    """Rotate elements along `dims` by `shifts` (the flattened tensor when dims is None)."""
    x = input._data
    xp = _xp(x)
    shifts_t = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    if dims is None:
        if len(shifts_t) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, dims:0")
        out = xp.roll(x.reshape(-1), shifts_t[0]).reshape(x.shape)
        axes = None
    else:
        dims_t = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
        if len(shifts_t) != len(dims_t):
            raise RuntimeError(
                f"shifts and dimensions must align. shifts: {len(shifts_t)}, dims:{len(dims_t)}"
            )
        axes = tuple(wrap_dim(d, x.ndim, "roll") for d in dims_t)
        out = xp.roll(x, shifts_t, axis=axes) if x.ndim else x.copy()
    return _out(input, out, RollBackward0, {"shifts": shifts_t, "axes": axes}, view=False)


class TrilBackward0(Node):
    __slots__ = ("diagonal", "upper")
    saved_roles = ()

    def backward(self, g):
        xp = _xp(g)
        return ((xp.triu if self.upper else xp.tril)(g, self.diagonal),)


class TriuBackward0(TrilBackward0):
    __slots__ = ()


def _tri(input, diagonal, upper):
    x = input._data
    name = "triu" if upper else "tril"
    if x.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    xp = _xp(x)
    out = (xp.triu if upper else xp.tril)(x, diagonal)
    return _out(
        input,
        out,
        TriuBackward0 if upper else TrilBackward0,
        {"diagonal": diagonal, "upper": upper},
        view=False,
    )


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (elements above `diagonal` zeroed)."""
    return _tri(input, diagonal, False)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (elements below `diagonal` zeroed)."""
    return _tri(input, diagonal, True)


def nonzero(input, *, as_tuple=False):
    """Indices of nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-d ones."""
    x = input._data
    xp = _xp(x)
    if x.ndim == 0:
        hit = builtins.bool(x != 0)
        if as_tuple:
            return (_result(xp.zeros(1 if hit else 0, np.int64)),)
        return _result(xp.zeros((1 if hit else 0, 0), np.int64))
    idx = xp.nonzero(x)
    if as_tuple:
        return tuple(_result(i.astype(np.int64, copy=False)) for i in idx)
    return _result(xp.stack(idx, axis=1).astype(np.int64, copy=False))


# -------------------------------------------------------------------------------- indexing


def _index_item(item, x):
    """One index item with tensors and lists turned into arrays on `x`'s device."""
    if isinstance(item, Tensor):
        arr = item._data
        if arr.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if arr.dtype == np.uint8:
            arr = arr.astype(bool)
        if type(arr) is not type(x):
            arr = B.to_device_array(arr, B.device_of(x))
        return builtins.int(arr) if arr.ndim == 0 and arr.dtype.kind in "iu" else arr
    if isinstance(item, range):  # PyTorch indexes with a range as with the list of its values
        return _xp(x).arange(item.start, item.stop, item.step, dtype=np.int64)
    if isinstance(item, list) or B.is_array(item):
        arr = _xp(x).asarray(np.asarray(item) if isinstance(item, list) else item)
        if arr.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return arr
    return item


def _consumed(item):
    """How many input dims an index item uses up."""
    if item is None or item is Ellipsis or isinstance(item, builtins.bool):
        return 0
    if hasattr(item, "dtype") and item.dtype == np.bool_:
        return item.ndim
    return 1


def _convert_index(index, x):
    """Turn an index into one numpy/cupy understands, checked as PyTorch checks it.

    Returns the converted tuple, the grad_fn class to record, and whether indexing copies.
    """
    items = [_index_item(i, x) for i in (index if isinstance(index, tuple) else (index,))]
    out = []
    advanced = False
    last = None  # the kind of the last basic item: PyTorch names the grad_fn after it
    dim = 0  # the input dim the next item applies to, for the checks
    for item in items:
        if item is None:
            out.append(None)
        elif item is Ellipsis:
            dim += x.ndim - builtins.sum(_consumed(i) for i in items)
            out.append(item)
        elif isinstance(item, builtins.bool):
            advanced = True
            out.append(item)
        elif isinstance(item, numbers.Integral):
            if x.ndim == 0:
                raise IndexError(
                    "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                    "in C++ to convert a 0-dim tensor to a number"
                )
            last = SelectBackward0
            dim += 1
            out.append(builtins.int(item))
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("step must be greater than zero")
            last = SliceBackward0
            dim += 1
            out.append(item)
        elif hasattr(item, "dtype"):
            advanced = True
            if item.dtype == np.bool_:
                have = tuple(x.shape[dim : dim + item.ndim])
                if have != tuple(item.shape):
                    raise IndexError(
                        f"The shape of the mask {list(item.shape)} at index {dim} does not match the shape "
                        f"of the indexed tensor {list(x.shape)} at index {dim}"
                    )
            dim += _consumed(item)
            out.append(item)
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                f"indices (got {type(item).__name__})"
            )
    if advanced:
        cls = IndexBackward0
    elif last is not None:
        cls = last
    elif builtins.any(i is None for i in out):
        cls = UnsqueezeIndexBackward0
    else:
        cls = SliceBackward0
    return tuple(out), cls, advanced


class IndexBackward0(Node):
    """Gradient of indexing: scattered back into zeros; repeated advanced indices accumulate."""

    __slots__ = ("in_shape", "index", "advanced")
    saved_roles = ()

    def backward(self, g):
        return (_into_zeros(self.in_shape, self.index, g, self.advanced),)


class SelectBackward0(IndexBackward0):
    __slots__ = ()


class UnsqueezeIndexBackward0(IndexBackward0):
    __slots__ = ()

    def name(self):
        return "UnsqueezeBackward0"


def _index_error(e, index, x):
    msg = str(e)
    if "out of bounds" in msg and "axis" in msg:
        msg = msg.replace("axis", "dimension")
    elif "too many indices" in msg:
        msg = f"too many indices for tensor of dimension {x.ndim}"
    return IndexError(f"{msg} (index {index!r} into a tensor of shape {shape_str(x.shape)})")


def getitem(input, index):
    """`input[index]`: ints, slices, None, Ellipsis, integer and boolean tensors, as in PyTorch."""
    x = input._data
    idx, cls, advanced = _convert_index(index, x)
    if not advanced and Ellipsis not in idx:
        idx = idx + (Ellipsis,)  # numpy then returns a 0-d view rather than a scalar copy
    try:
        out = x[idx]
    except IndexError as e:
        raise _index_error(e, index, x) from None
    view = not advanced
    if needs_grad(input):
        node = cls()
        node.in_shape, node.index, node.advanced = x.shape, idx, advanced
        record(node, (input,))
        if view:
            return _mark_view(_result(out, node, vc=input._vc), input, _DEFAULT)
        return _result(out, node)
    if view:
        return _mark_view(_result(out, vc=input._vc), input, _DEFAULT)
    return _result(out)


class CopySlices(Node):
    """setitem recorded: the old values under the index get no gradient, the new ones do."""

    __slots__ = ("index", "value_shape", "value_dtype")
    saved_roles = ()

    def backward(self, g):
        gv = None
        if self.needs_grad(1):
            gv = astype(sum_to(g[self.index], self.value_shape), self.value_dtype)
        gx = None
        if self.needs_grad(0):
            gx = _zeroed_at(g, self.index)
        return (gx, gv)


def setitem(input, index, value):
    """`input[index] = value` in place (value: a number or a tensor broadcast to the indexed shape)."""
    _check_inplace(input)
    x = input._data
    idx, _, _ = _convert_index(index, x)
    vt = value if isinstance(value, Tensor) else None
    if vt is not None:
        v = vt._data
        if type(v) is not type(x):
            raise RuntimeError(
                f"setitem: the value is on {vt.device} but the tensor is on {input.device}: move one of them"
            )
    elif isinstance(value, numbers.Number):
        v = value
    else:
        v = _xp(x).asarray(np.asarray(value))
    if x.dtype.kind in "iub" and getattr(v, "dtype", None) is not None and v.dtype.kind == "f":
        v = v.astype(x.dtype)
    try:
        x[idx] = v
    except ValueError as e:
        raise RuntimeError(
            f"setitem: cannot assign a value of shape {shape_str(np.shape(v))} to index {index!r} of a "
            f"tensor of shape {shape_str(x.shape)}: {e}"
        ) from None
    except IndexError as e:
        raise _index_error(e, index, x) from None
    input._vc[0] += 1
    if needs_grad(input, vt):
        node = CopySlices()
        node.index = idx
        node.value_shape = vt._data.shape if vt is not None else ()
        node.value_dtype = vt._data.dtype if vt is not None else x.dtype
        record(node, (input, vt))
        node._meta = (x.shape, x.dtype)
        _views.commit(input, node)
