"""Reductions over dims: sums, means, extrema, statistics, norms, scans and sorting."""

from __future__ import annotations

import builtins
import collections
import math
import numbers

import numpy as np

from .. import backend as B
from .._arrays import astype, wrap_dim, wrap_dims
from ..amp import autocast_mode as _amp
from ..amp.autocast_mode import FP32, FP32_UNLESS_DTYPE, autocast_op
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor
from .elementwise import maximum, minimum
from .shape import _along, _into_zeros

_xp = B.array_module

__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "argsort",
    "count_nonzero",
    "cumsum",
    "logsumexp",
    "max",
    "mean",
    "min",
    "norm",
    "prod",
    "return_types",
    "sort",
    "std",
    "std_mean",
    "sum",
    "topk",
    "var",
    "var_mean",
]


# ------------------------------------------------------------------------------------ helpers


def _named_result(name):
    cls = collections.namedtuple(name, ["values", "indices"])
    cls.__qualname__ = f"return_types.{name}"
    cls.__module__ = __name__
    cls.__repr__ = lambda self: (
        f"studio.core.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    )
    return cls


class return_types:  # noqa: N801 - PyTorch's name
    """The named tuples returned by reductions with indices, like `torch.return_types`."""

    max = _named_result("max")
    min = _named_result("min")
    sort = _named_result("sort")
    topk = _named_result("topk")


def _axes(dim, ndim, where):
    """Reduced axes as a sorted tuple; None and an empty sequence mean every dim (as in PyTorch)."""
    if dim is None or (isinstance(dim, tuple | list) and len(dim) == 0):
        return tuple(range(ndim))
    axes = wrap_dims(dim, ndim, where)
    return axes if ndim else ()


def _keep_shape(shape, axes):
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


_SMALL = 4096  # below this many elements, writing the gradient out beats `broadcast_to`'s ~2.5 us overhead


def _expand_back(g, in_shape, axes, keepdim):
    """Broadcast a reduced gradient back over the reduced axes of `in_shape`."""
    if not keepdim and g.ndim:
        g = g.reshape(_keep_shape(in_shape, axes))
    xp = _xp(g)
    if type(g) is np.ndarray:
        n = 1
        for s in in_shape:
            n *= s
        if n <= _SMALL:
            out = xp.empty(in_shape, g.dtype)
            out[...] = g
            return out
    return xp.broadcast_to(g, in_shape)


def _keep(a, in_shape, axes, keepdim):
    """A reduced array with its reduced axes restored as size 1, for broadcasting against the input."""
    return a if keepdim else a.reshape(_keep_shape(in_shape, axes))


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _int_to_long(x, dtype):
    """Sums and products of ints and bools accumulate in int64, as PyTorch's do."""
    if dtype is not None:
        return x.astype(B.as_dtype(dtype).np)
    if x.dtype.kind in "biu":
        return x.astype(np.int64)
    return x


def _check_nonempty(x, axes, where):
    for a in axes:
        if x.shape[a] == 0:
            raise IndexError(f"{where}(): Expected reduction dim {a} to have non-zero size.")
    if not axes and x.size == 0:
        raise RuntimeError(
            f"{where}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
            "reduction dim with the 'dim' argument."
        )


# ------------------------------------------------------------------------------- sum and mean


class SumBackward0(Node):
    __slots__ = ("in_shape", "axes", "keepdim", "in_dtype")
    saved_roles = ()

    def backward(self, g):
        if g.dtype != self.in_dtype:  # a tensor's dtype never equals numpy's: it is cast (or kept)
            g = astype(g, self.in_dtype)
        return (_expand_back(g, self.in_shape, self.axes, self.keepdim),)


class SumBackward1(SumBackward0):
    __slots__ = ()


def _numpy_names(dim, keepdim, axis, keepdims, where):
    """PyTorch's numpy spellings: `axis` for `dim` and `keepdims` for `keepdim`."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{where}() received both dim and its alias axis")
        dim = axis
    return dim, keepdim if keepdims is None else keepdims


@autocast_op(cuda=FP32_UNLESS_DTYPE, inline=True)
def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Sum over `dim` (int, tuple, or None for every dim); ints and bools sum as int64."""
    if _amp.active and not _amp._inside:
        return _amp.dispatch(sum, input, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names(dim, keepdim, axis, keepdims, "sum")
    x = input._data
    axes = _axes(dim, x.ndim, "sum")
    xs = _int_to_long(x, dtype)
    if xs.dtype == np.float16:  # accumulate half precision in float32, as PyTorch does
        with np.errstate(over="ignore"):
            out = xs.sum(axis=axes, keepdims=keepdim, dtype=np.float32).astype(np.float16)
    else:
        out = xs.sum(axis=axes, keepdims=keepdim)
    if grad_mode._enabled and input._rg:  # needs_grad inlined: a hot op
        node = SumBackward0() if dim is None else SumBackward1()
        node.in_shape, node.axes, node.keepdim, node.in_dtype = x.shape, axes, keepdim, x.dtype
        record(node, (input,))
        return _result(out, node)
    return _result(out)


class MeanBackward0(Node):
    __slots__ = ("in_shape", "axes", "keepdim", "count", "in_dtype")
    saved_roles = ()

    def backward(self, g):
        g = g / self.count
        if g.dtype != self.in_dtype:
            g = astype(g, self.in_dtype)
        return (_expand_back(g, self.in_shape, self.axes, self.keepdim),)


class MeanBackward1(MeanBackward0):
    __slots__ = ()


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Mean over `dim`; the input must be floating point (or `dtype` given)."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _numpy_names(dim, keepdim, axis, keepdims, "mean")
    x = input._data
    in_dtype = x.dtype
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    if not B.is_float_np(x.dtype):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {B.from_numpy_dtype(x.dtype).name}"
        )
    axes = _axes(dim, x.ndim, "mean")
    count = _count(x.shape, axes)
    xp = _xp(x)
    if count == 0:
        shape = (
            _keep_shape(x.shape, axes)
            if keepdim
            else tuple(s for i, s in enumerate(x.shape) if i not in axes)
        )
        out = xp.full(shape, np.nan, x.dtype)
    else:
        out = xp.mean(x, axis=axes, keepdims=keepdim)  # float16 accumulates in float32 here
    if grad_mode._enabled and input._rg:  # needs_grad inlined: a hot op
        node = MeanBackward0() if dim is None else MeanBackward1()
        node.in_shape, node.axes, node.keepdim = x.shape, axes, keepdim
        node.count, node.in_dtype = builtins.max(count, 1), in_dtype
        record(node, (input,))
        return _result(out, node)
    return _result(out)


class ProdBackward0(Node):
    """Product of all other factors, by cumulative products from both sides (exact with zeros).

    Recorded, it goes through the product as a chain of multiplications (exact with zeros too).
    """

    __slots__ = ("axes", "keepdim")
    saved_roles = (0,)
    decomposed = True

    def decompose(self, x):
        rest = [i for i in range(x.ndim) if i not in self.axes]
        flat = x.permute(*(rest + list(self.axes))).reshape(tuple(x.shape[i] for i in rest) + (-1,))
        if flat.shape[-1] == 0:
            out = flat.sum(-1) * 0 + 1  # the empty product
        else:
            out = flat[..., 0]
            for i in range(1, flat.shape[-1]):
                out = out * flat[..., i]
        return out.reshape(_keep_shape(x.shape, self.axes)) if self.keepdim else out

    def backward(self, g):
        (x,) = self.saved
        xp = _xp(x)
        axes = self.axes
        rest = tuple(i for i in range(x.ndim) if i not in axes)
        perm = rest + axes
        xm = x.transpose(perm)
        lead = xm.shape[: len(rest)]
        flat = xm.reshape(lead + (-1,))
        ones = xp.ones(lead + (1,), x.dtype)
        left = xp.concatenate([ones, xp.cumprod(flat[..., :-1], axis=-1)], axis=-1)
        right = xp.flip(xp.cumprod(xp.flip(flat[..., 1:], -1), axis=-1), -1)
        right = xp.concatenate([right, ones], axis=-1)
        gk = g.reshape(_keep_shape(x.shape, axes)).transpose(perm).reshape(lead + (1,))
        gx = (left * right * gk).reshape(xm.shape).transpose(tuple(np.argsort(perm).tolist()))
        return (gx,)


class ProdBackward1(ProdBackward0):
    __slots__ = ()


@autocast_op(cpu=FP32, cuda=FP32_UNLESS_DTYPE)
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over `dim` (one dim or None for all); ints and bools multiply as int64."""
    x = input._data
    if isinstance(dim, tuple | list):
        raise TypeError(f"prod(): dim must be an int or None, got {dim!r}")
    axes = _axes(dim, x.ndim, "prod")
    xs = _int_to_long(x, dtype)
    out = xs.prod(axis=axes, keepdims=keepdim)
    if needs_grad(input) and xs.dtype.kind == "f":
        node = ProdBackward0() if dim is None else ProdBackward1()
        node.axes, node.keepdim = axes, keepdim
        record(node, (input,), (xs,))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


# ----------------------------------------------------------------------------- var and std


def _correction(dim, correction, unbiased):
    if isinstance(dim, builtins.bool):  # the legacy call var(x, unbiased)
        return None, (1 if dim else 0)
    if unbiased is not None:
        return dim, (1 if unbiased else 0)
    return dim, (1 if correction is None else correction)


def _var_parts(input, dim, correction, unbiased, keepdim, where):
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dim, corr = _correction(dim, correction, unbiased)
    axes = _axes(dim, x.ndim, where)
    n = _count(x.shape, axes)
    xp = _xp(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_k = (
            x.sum(axis=axes, keepdims=True) / x.dtype.type(builtins.max(n, 1))
            if n
            else (xp.full(_keep_shape(x.shape, axes), np.nan, x.dtype))
        )
        d = x - mean_k
        denom = x.dtype.type(builtins.max(n - corr, 0))
        var_out = (d * d).sum(axis=axes, keepdims=keepdim) / denom
    return x, axes, d, denom, var_out, mean_k


def _variance(x, axes, keepdim, denom):
    """The variance written with differentiable ops: how var and std record their backward."""
    d = x - x.mean(axes, keepdim=True)
    return (d * d).sum(axes, keepdim=keepdim) / denom


class VarBackward0(Node):
    __slots__ = ("axes", "keepdim", "denom")
    saved_roles = (None, 0)
    decomposed = True

    def decompose(self, d, x):
        return _variance(x, self.axes, self.keepdim, self.denom)

    def backward(self, g):
        d, _ = self.saved
        gk = _keep(g, d.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return ((gk * (2 / self.denom)) * d,)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=1):
    """Variance over `dim` with `correction` (1: Bessel's); `unbiased` is the legacy spelling."""
    x, axes, d, denom, out, _ = _var_parts(input, dim, correction, unbiased, keepdim, "var")
    if needs_grad(input):
        node = VarBackward0()
        node.axes, node.keepdim, node.denom = axes, keepdim, denom
        record(node, (input,), (d, x))
        return _result(out, node)
    return _result(out)


class StdBackward0(Node):
    __slots__ = ("axes", "keepdim", "denom")
    saved_roles = (None, None, 0)
    decomposed = True

    def decompose(self, d, out, x):
        return _variance(x, self.axes, self.keepdim, self.denom).sqrt()

    def backward(self, g):
        d, out, _ = self.saved
        xp = _xp(d)
        gk = _keep(g, d.shape, self.axes, self.keepdim)
        ok = _keep(out, d.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = xp.where(ok == 0, 0, gk / (ok * self.denom)).astype(d.dtype, copy=False)
        return (scale * d,)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=1):
    """Standard deviation over `dim` (see `var`)."""
    x, axes, d, denom, v, _ = _var_parts(input, dim, correction, unbiased, keepdim, "std")
    out = _xp(v).sqrt(v)
    if needs_grad(input):
        node = StdBackward0()
        node.axes, node.keepdim, node.denom = axes, keepdim, denom
        record(node, (input,), (d, out, x))
        return _result(out, node)
    return _result(out)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=1):
    """(var, mean) over `dim`."""
    dim, corr = _correction(dim, correction, unbiased)
    return var(input, dim, keepdim=keepdim, correction=corr), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=1):
    """(std, mean) over `dim`."""
    dim, corr = _correction(dim, correction, unbiased)
    return std(input, dim, keepdim=keepdim, correction=corr), mean(input, dim, keepdim)


# --------------------------------------------------------------------------------- extrema


class AmaxBackward0(Node):
    """Gradient split evenly among the elements equal to the extremum."""

    __slots__ = ("axes", "keepdim")
    saved_roles = (None, None)  # which elements are extreme is piecewise constant

    def backward(self, g):
        x, out = self.saved
        mask = x == _keep(out, x.shape, self.axes, self.keepdim)
        count = mask.sum(axis=self.axes, keepdims=True)
        gk = _keep(g, x.shape, self.axes, self.keepdim)
        return (astype(gk / count, x.dtype) * mask,)


class AminBackward0(AmaxBackward0):
    __slots__ = ()


class MaxBackward1(AmaxBackward0):
    __slots__ = ()


class MinBackward1(AmaxBackward0):
    __slots__ = ()


def _extreme_all(input, axes, keepdim, largest, node_cls, where, full=False):
    x = input._data
    _check_nonempty(x, () if full or not x.ndim else axes, where)
    out = x.max(axis=axes, keepdims=keepdim) if largest else x.min(axis=axes, keepdims=keepdim)
    if needs_grad(input):
        node = node_cls()
        node.axes, node.keepdim = axes, keepdim
        record(node, (input,), (x, out))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


def amax(input, dim=(), keepdim=False):
    """Maximum over `dim` (every dim when empty); ties share the gradient evenly."""
    return _extreme_all(input, _axes(dim, input._data.ndim, "amax"), keepdim, True, AmaxBackward0, "amax")


def amin(input, dim=(), keepdim=False):
    """Minimum over `dim` (every dim when empty); ties share the gradient evenly."""
    return _extreme_all(input, _axes(dim, input._data.ndim, "amin"), keepdim, False, AminBackward0, "amin")


class MaxBackward0(Node):
    """Gradient of max/min along a dim: it flows to the selected index only."""

    __slots__ = ("axis", "keepdim", "in_shape")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        if not self.in_shape:
            return (+g,)  # a copy of an array; a tensor as it is
        gk = _keep(g, self.in_shape, (self.axis,), self.keepdim)
        return (_into_zeros(self.in_shape, _along(idx, self.axis), gk),)


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _extreme_dim(input, dim, keepdim, largest, where):
    x = input._data
    xp = _xp(x)
    axis = wrap_dim(dim, x.ndim, where)
    cls = return_types.max if largest else return_types.min
    if x.ndim == 0:
        values = x.copy()
        idx_k = xp.zeros((), np.int64)
        indices = idx_k
    else:
        _check_nonempty(x, (axis,), where)
        idx_k = (xp.argmax if largest else xp.argmin)(x, axis=axis, keepdims=True)
        values = xp.take_along_axis(x, idx_k, axis=axis)
        indices = idx_k.astype(np.int64, copy=False)
        if not keepdim:
            values = values.squeeze(axis)
            indices = indices.squeeze(axis)
    if needs_grad(input):
        node = MaxBackward0() if largest else MinBackward0()
        node.axis, node.keepdim, node.in_shape = axis, keepdim, x.shape
        record(node, (input,), (idx_k,))
        return cls(_result(values, node), _result(indices))
    return cls(_result(values), _result(indices))


def max(input, dim=None, keepdim=False):
    """The maximum: of all elements, or `(values, indices)` along `dim`; `max(a, b)` is `maximum`."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        return _extreme_all(input, tuple(range(input._data.ndim)), False, True, MaxBackward1, "max", True)
    return _extreme_dim(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False):
    """The minimum: of all elements, or `(values, indices)` along `dim`; `min(a, b)` is `minimum`."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        return _extreme_all(input, tuple(range(input._data.ndim)), False, False, MinBackward1, "min", True)
    return _extreme_dim(input, dim, keepdim, False, "min")


def _arg_extreme(input, dim, keepdim, largest, where):
    x = input._data
    xp = _xp(x)
    fn = xp.argmax if largest else xp.argmin
    if dim is None:
        _check_nonempty(x, (), where)
        out = xp.asarray(fn(x.reshape(-1)), dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * x.ndim)
        return _result(out)
    axis = wrap_dim(dim, x.ndim, where)
    if x.ndim == 0:
        return _result(xp.zeros((), np.int64))
    _check_nonempty(x, (axis,), where)
    return _result(fn(x, axis=axis, keepdims=keepdim).astype(np.int64, copy=False))


def argmax(input, dim=None, keepdim=False):
    """Index of the maximum (of the flattened tensor when `dim` is None)."""
    return _arg_extreme(input, dim, keepdim, True, "argmax")


def argmin(input, dim=None, keepdim=False):
    """Index of the minimum (of the flattened tensor when `dim` is None)."""
    return _arg_extreme(input, dim, keepdim, False, "argmin")


# ------------------------------------------------------------------------ logsumexp and norm


class LogsumexpBackward0(Node):
    __slots__ = ("axes", "keepdim")
    saved_roles = (0, "out")

    def backward(self, g):
        x, out = self.saved
        xp = _xp(x)
        ok = _keep(out, x.shape, self.axes, self.keepdim)
        gk = _keep(g, x.shape, self.axes, self.keepdim)
        return (gk * xp.exp(x - ok),)


@autocast_op(cuda=FP32)
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) over `dim`, computed without overflow by shifting by the maximum."""
    x = input._data
    if x.dtype.kind != "f":
        x = x.astype(B.get_default_dtype().np)
    axes = _axes(dim, x.ndim, "logsumexp")
    xp = _xp(x)
    if x.size == 0:
        out = xp.log(xp.exp(x).sum(axis=axes, keepdims=keepdim))
    else:
        m = x.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0).astype(x.dtype, copy=False)  # all -inf rows stay -inf
        with np.errstate(divide="ignore"):
            s = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        out = s if keepdim else s.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
    if needs_grad(input):
        node = LogsumexpBackward0()
        node.axes, node.keepdim = axes, keepdim
        record(node, (input,), (x, out))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


class LinalgVectorNormBackward0(Node):
    __slots__ = ("axes", "keepdim", "p")
    saved_roles = (0, "out")

    def backward(self, g):
        x, out = self.saved
        xp = _xp(x)
        p = self.p
        gk = _keep(g, x.shape, self.axes, self.keepdim)
        ok = _keep(out, x.shape, self.axes, self.keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            if p == 0:
                gx = xp.zeros_like(x)
            elif p == 1:
                gx = xp.sign(x) * gk
            elif p == 2:
                gx = xp.where(ok == 0, 0, x / ok) * gk
            elif math.isinf(p):
                ax = xp.abs(x)
                mask = ax == ok
                count = mask.sum(axis=self.axes, keepdims=True)
                gx = xp.sign(x) * mask * (gk / count)
            else:
                ax = xp.abs(x)
                ratio = xp.where(ok == 0, 0, ax / ok)
                gx = xp.where(ax == 0, 0, xp.sign(x) * ratio ** (p - 1)) * gk
        return (astype(gx, x.dtype),)


@autocast_op(cuda=FP32)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over `dim` (every dim when None): p is 'fro', inf, -inf, 0 or any number."""
    x = input._data
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    if x.dtype.kind != "f":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {B.from_numpy_dtype(x.dtype).name}"
        )
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or not isinstance(p, numbers.Real):
        raise RuntimeError(f"norm: p must be 'fro' or a number (inf and -inf included), got {p!r}")
    p = builtins.float(p)
    axes = _axes(dim, x.ndim, "norm")
    xp = _xp(x)
    ax = xp.abs(x)
    if p == 2:
        out = xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
    elif p == 1:
        out = ax.sum(axis=axes, keepdims=keepdim)
    elif p == 0:
        out = (x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype)
    elif p == math.inf:
        out = ax.max(axis=axes, keepdims=keepdim)
    elif p == -math.inf:
        out = ax.min(axis=axes, keepdims=keepdim)
    else:
        with np.errstate(divide="ignore"):
            out = (ax**p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)
    out = xp.asarray(out).astype(x.dtype, copy=False)
    if needs_grad(input):
        node = LinalgVectorNormBackward0()
        node.axes, node.keepdim, node.p = axes, keepdim, p
        record(node, (input,), (x, out))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------ scans, logic


class CumsumBackward0(Node):
    __slots__ = ("axis", "in_dtype")
    saved_roles = ()

    def backward(self, g):
        xp = _xp(g)
        if g.ndim == 0:
            return (astype(g, self.in_dtype),)
        rev = xp.flip(xp.cumsum(xp.flip(g, self.axis), axis=self.axis), self.axis)
        return (astype(rev, self.in_dtype),)


@autocast_op(cuda=FP32_UNLESS_DTYPE)
def cumsum(input, dim, *, dtype=None):
    """Running sum along `dim`; ints and bools accumulate as int64."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "cumsum")
    xs = _int_to_long(x, dtype)
    out = xs.copy() if x.ndim == 0 else _xp(xs).cumsum(xs, axis=axis)
    if needs_grad(input) and xs.dtype.kind == "f":
        node = CumsumBackward0()
        node.axis, node.in_dtype = axis, x.dtype
        record(node, (input,))
        return _result(out, node)
    return _result(out)


def _logical_reduce(input, dim, keepdim, where, fn):
    x = input._data
    axes = _axes(dim, x.ndim, where)
    out = getattr(x.astype(bool, copy=False), fn)(axis=axes, keepdims=keepdim)
    if x.dtype == np.uint8:
        out = _xp(x).asarray(out).astype(np.uint8)
    return _result(out)


def all(input, dim=None, keepdim=False):
    """Whether every element (along `dim`) is nonzero."""
    return _logical_reduce(input, dim, keepdim, "all", "all")


def any(input, dim=None, keepdim=False):
    """Whether some element (along `dim`) is nonzero."""
    return _logical_reduce(input, dim, keepdim, "any", "any")


def count_nonzero(input, dim=None):
    """The number of nonzero elements (along `dim`), as int64."""
    x = input._data
    axes = _axes(dim, x.ndim, "count_nonzero")
    return _result(_xp(x).asarray((x != 0).sum(axis=axes)).astype(np.int64, copy=False))


# ------------------------------------------------------------------------------------- sorting


def _argsort(x, axis, descending):
    """Stable argsort; descending keeps equal elements in their original order (NaN first)."""
    xp = _xp(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(rev, axis)


class SortBackward0(Node):
    """Values picked along a dim by indices: their gradients go back to those positions."""

    __slots__ = ("axis", "in_shape")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        if not self.in_shape:
            return (+g,)  # a copy of an array; a tensor as it is
        return (_into_zeros(self.in_shape, _along(idx, self.axis), g),)


class TopkBackward0(SortBackward0):
    __slots__ = ()


def _sorted_result(input, x, idx, axis, node_cls, cls):
    xp = _xp(x)
    values = xp.take_along_axis(x, idx, axis=axis)
    indices = idx.astype(np.int64, copy=False)
    if needs_grad(input):
        node = node_cls()
        node.axis, node.in_shape = axis, x.shape
        record(node, (input,), (idx,))
        return cls(_result(values, node), _result(indices))
    return cls(_result(values), _result(indices))


def sort(input, dim=-1, descending=False, stable=False):
    """`(values, indices)` sorted along `dim`; the sort is always stable."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "sort")
    if x.ndim == 0:
        return _scalar_pair(input, x, return_types.sort, SortBackward0)
    return _sorted_result(input, x, _argsort(x, axis, descending), axis, SortBackward0, return_types.sort)


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort `input` along `dim` (stable)."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "argsort")
    if x.ndim == 0:
        return _result(_xp(x).zeros((), np.int64))
    return _result(_argsort(x, axis, descending).astype(np.int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """`(values, indices)` of the k largest (or smallest) elements along `dim`, in order."""
    x = input._data
    axis = wrap_dim(dim, x.ndim, "topk")
    n = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range: k={k} for a dim of size {n}")
    if x.ndim == 0:
        return _scalar_pair(input, x, return_types.topk, TopkBackward0)
    xp = _xp(x)
    if 0 < k < n:
        # partition first, then sort only the k chosen: O(n + k log k) rather than a full sort
        part = xp.argpartition(x, n - k if largest else k - 1, axis=axis)
        chosen = part[(slice(None),) * axis + (slice(n - k, n) if largest else slice(0, k),)]
        order = _argsort(xp.take_along_axis(x, chosen, axis=axis), axis, largest)
        idx = xp.take_along_axis(chosen, order, axis=axis)
    else:
        idx = _argsort(x, axis, largest)[(slice(None),) * axis + (slice(0, k),)]
    return _sorted_result(input, x, idx, axis, TopkBackward0, return_types.topk)


def _scalar_pair(input, x, cls, node_cls):
    """sort/topk of a 0-d tensor: itself, at index 0."""
    xp = _xp(x)
    if needs_grad(input):
        node = node_cls()
        node.axis, node.in_shape = 0, ()
        record(node, (input,), (None,))
        return cls(_result(x.copy(), node), _result(xp.zeros((), np.int64)))
    return cls(_result(x.copy()), _result(xp.zeros((), np.int64)))
