"""Dropout, embedding lookup, padding, one-hot encoding, Lp normalization and cosine similarity."""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend as B
from .._arrays import astype, shape_str, sum_to, wrap_dim
from ..amp.autocast_mode import FP32, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from .elementwise import inplace as _inplace
from .elementwise import maximum
from .reduce import norm
from .shape import _into_zeros, _zeroed_at

_xp = B.array_module


# ------------------------------------------------------------------------------------- dropout


class NativeDropoutBackward0(Node):
    __slots__ = ()
    saved_roles = (None,)  # the scaled keep-mask

    def backward(self, g):
        (mask,) = self.saved
        return (g * mask,)


def _dropout(input, p, training, inplace, mask_shape_of, where):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if inplace:
        return _inplace(input, lambda t: _dropout(t, p, training, False, mask_shape_of, where))
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"{where}: expected a floating point input, got {x.dtype}")
    xp = _xp(x)
    shape = mask_shape_of(x.shape)
    if p == 1.0:
        mask = xp.zeros(shape, dtype=x.dtype)
    else:
        draw = B.rng(None, xp).random(shape, dtype=xp.float32 if x.dtype != xp.float64 else xp.float64)
        mask = (draw >= p) * x.dtype.type(1.0 / (1.0 - p))
    out = x * mask
    if needs_grad(input):
        node = NativeDropoutBackward0()
        record(node, (input,), (mask,))
        return _result(out, node)
    return _result(out)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (when training)."""
    return _dropout(input, p, training, inplace, lambda shape: shape, "dropout")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (N, C, L) with probability p; scale the rest by 1 / (1 - p)."""
    ndim = input.ndim
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will result in an "
            "error in a future release. To retain the behavior and silence this warning, please use dropout "
            "instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial "
            "dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            UserWarning,
            stacklevel=2,
        )
    elif ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and "
            "assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), "
            "where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.",
            UserWarning,
            stacklevel=2,
        )

    def channels(shape):
        return tuple(shape[:2]) + (1,) * (len(shape) - 2) if len(shape) >= 2 else tuple(shape)

    return _dropout(input, p, training, inplace, channels, "dropout2d")


# ----------------------------------------------------------------------------------- embedding


class EmbeddingBackward0(Node):
    __slots__ = ("num_weights", "padding_idx", "scale_grad_by_freq")
    saved_roles = (None,)

    def backward(self, g):
        (idx,) = self.saved
        d = g.shape[-1]
        flat = idx.reshape(-1)
        rows = g.reshape(-1, d)
        if self.scale_grad_by_freq:
            counts = _xp(flat).bincount(flat, minlength=self.num_weights)
            rows = rows / astype(counts[flat][:, None], g.dtype)
        gw = _into_zeros((self.num_weights, d), (flat,), rows, True)
        if self.padding_idx is not None:
            gw = _zeroed_at(gw, self.padding_idx, own=True)
        return (None, gw)


def embedding(
    input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False
):
    """Rows of `weight` picked by the integer indices in `input`: output shape input.shape + (dim,)."""
    idx = input._data
    w = weight._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; "
            f"but got {B.from_numpy_dtype(idx.dtype).name} instead"
        )
    if w.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got weight of shape {shape_str(w.shape)}")
    num = w.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx + num if padding_idx < 0 else padding_idx
    # `sparse=True` is accepted: the gradient is PyTorch's sparse one in dense form (there is no sparse
    # layout here), which SparseAdam and the other optimizers read alike
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError(
            f"index out of range in self: embedding of {num} rows "
            f"got indices in [{int(idx.min())}, {int(idx.max())}]"
        )
    xp = _xp(w)
    if max_norm is not None:
        # rows that are looked up are renormalized in place, outside autograd, as in PyTorch
        used = xp.unique(idx.reshape(-1))
        norms = (xp.abs(w[used]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[used] *= scale[:, None]
        weight._vc[0] += 1
    out = xp.take(w, idx, axis=0)
    if needs_grad(weight):
        node = EmbeddingBackward0()
        node.num_weights = num
        node.padding_idx = padding_idx
        node.scale_grad_by_freq = scale_grad_by_freq
        record(node, (input, weight), (idx,))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------------------ pad


def _pad_index(xp, n, left, right, mode):
    """Source index along one dim for each output position of a reflect/replicate/circular pad."""
    pos = xp.arange(-left, n + right)
    if mode == "replicate":
        return xp.clip(pos, 0, n - 1)
    if mode == "circular":
        return pos % n
    period = 2 * (n - 1)
    if period == 0:
        return xp.zeros_like(pos)
    pos = xp.abs(pos) % period
    return xp.where(pos >= n, period - pos, pos)


class ConstantPadNdBackward0(Node):
    __slots__ = ("src", "dst", "in_shape")
    saved_roles = ()

    def backward(self, g):
        return (_into_zeros(self.in_shape, self.src, g[self.dst]),)


class IndexPadBackward0(Node):
    """Backward of reflect/replicate/circular padding: scatter-add along each padded dim."""

    __slots__ = ("axes", "sizes", "saved_roles")  # saved: one constant index array per padded dim

    def name(self):
        return "ReflectionPadBackward0"

    def backward(self, g):
        xp = _xp(g)
        for axis, n, idx in reversed(list(zip(self.axes, self.sizes, self.saved))):
            moved = xp.moveaxis(g, axis, 0)
            acc = _into_zeros((n,) + tuple(moved.shape[1:]), (idx,), moved, True)
            g = xp.moveaxis(acc, 0, axis)
        return (g,)


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: pad = (left_last, right_last, left_prev, right_prev, ...)."""
    x = input._data
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2, got pad={pad}")
    k = len(pad) // 2
    if k > x.ndim:
        raise RuntimeError(
            f"Padding length too large: pad={pad} pads {k} dims of an input with {x.ndim} dims"
        )
    xp = _xp(x)
    axes = [x.ndim - 1 - i for i in range(k)]
    pairs = [(pad[2 * i], pad[2 * i + 1]) for i in range(k)]
    if mode == "constant":
        out_shape = list(x.shape)
        src = [slice(None)] * x.ndim
        dst = [slice(None)] * x.ndim
        for axis, (lo, hi) in zip(axes, pairs):
            n = x.shape[axis]
            size = n + lo + hi
            if size < 0:
                raise RuntimeError(
                    f"The input size {n}, plus negative padding {lo} "
                    f"and {hi} resulted in a negative output size, "
                    f"which is invalid. Check dimension {axis} of your input."
                )
            out_shape[axis] = size
            src[axis] = slice(max(0, -lo), n - max(0, -hi))
            dst[axis] = slice(max(0, lo), max(0, lo) + max(0, n - max(0, -lo) - max(0, -hi)))
        out = xp.full(out_shape, 0 if value is None else value, dtype=x.dtype)
        src, dst = tuple(src), tuple(dst)
        out[dst] = x[src]
        if needs_grad(input):
            node = ConstantPadNdBackward0()
            node.src, node.dst, node.in_shape = src, dst, x.shape
            record(node, (input,))
            return _result(out, node)
        return _result(out)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(
            f"pad: unsupported padding mode {mode!r}; use constant, reflect, replicate or circular"
        )
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument.')
    if x.ndim < k + 1:
        raise RuntimeError(
            f"pad: {mode} padding of {k} dims expects a ({k + 1}D or {k + 2}D) input, got input of shape "
            f"{shape_str(x.shape)}"
        )
    indices = []
    out = x
    for axis, (lo, hi) in zip(axes, pairs):
        n = x.shape[axis]
        if lo < 0 or hi < 0:
            raise RuntimeError(f"pad: negative padding is only supported in constant mode, got pad={pad}")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, but got: "
                f"padding ({lo}, {hi}) at dimension {axis} of input {list(x.shape)}"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(
                "Padding value causes wrapping around more than "
                f"once: padding ({lo}, {hi}) at dimension {axis} "
                f"of input {list(x.shape)}"
            )
        idx = _pad_index(xp, n, lo, hi, mode)
        indices.append(idx)
        out = xp.take(out, idx, axis=axis)
    if needs_grad(input):
        node = IndexPadBackward0()
        node.axes = tuple(axes)
        node.sizes = tuple(x.shape[a] for a in axes)
        node.saved_roles = (None,) * len(indices)
        record(node, (input,), tuple(indices))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------------- one-hot


def one_hot(tensor, num_classes=-1):
    """int64 one-hot encoding: shape tensor.shape + (num_classes,), num_classes = max + 1 when -1."""
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    xp = _xp(t)
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    if t.size:
        if t.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if t.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (t[..., None] == xp.arange(num_classes)).astype(xp.int64)
    return _result(out)


# ------------------------------------------------------------------------------ normalization


class NormalizeBackward0(Node):
    __slots__ = ("axis", "p", "eps")
    saved_roles = (0, None, None)
    decomposed = True

    def decompose(self, x, n, d):
        return x / norm(x, self.p, self.axis, keepdim=True).clamp(min=self.eps)

    def backward(self, g):
        x, n, d = self.saved
        xp = _xp(g)
        p = self.p
        if p == 2:
            dn = x / xp.where(n > 0, n, 1)
        elif p == float("inf"):
            hit = xp.abs(x) == n
            dn = xp.sign(x) * hit / hit.sum(axis=self.axis, keepdims=True)
        else:
            dn = xp.sign(x) * xp.abs(x) ** (p - 1) / xp.where(n > 0, n, 1) ** (p - 1)
        proj = (g * x).sum(axis=self.axis, keepdims=True) / (d * d) * (n > self.eps)
        return (g / d - proj * dn,)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """x / max(||x||_p, eps) along `dim`."""
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"normalize: expected a floating point input, got {x.dtype}")
    xp = _xp(x)
    axis = wrap_dim(dim, x.ndim, "normalize")
    a = xp.abs(x)
    if p == float("inf"):
        n = a.max(axis=axis, keepdims=True)
    elif p == 2:
        n = xp.sqrt((x * x).sum(axis=axis, keepdims=True))
    elif p > 0:
        n = (a**p).sum(axis=axis, keepdims=True) ** (1.0 / p)
    else:
        raise RuntimeError(f"normalize: p must be positive, got p={p}")
    d = xp.maximum(n, x.dtype.type(eps))
    res = x / d
    if out is not None:
        out._data[...] = res
        out._vc[0] += 1
        return out
    if needs_grad(input):
        node = NormalizeBackward0()
        node.axis, node.p, node.eps = axis, float(p), eps
        record(node, (input,), (x, n, d))
        node.save_versions(input)
        return _result(res, node)
    return _result(res)


class CosineSimilarityBackward0(Node):
    __slots__ = ("axis", "shapes", "eps")
    saved_roles = (None, None, None, None, None, 0, 1)
    decomposed = True

    def decompose(self, a, b, n1, n2, cos, x1, x2):
        x1, x2 = x1.expand(a.shape), x2.expand(b.shape)
        n1 = maximum((x1 * x1).sum(self.axis, keepdim=True).sqrt(), self.eps)
        n2 = maximum((x2 * x2).sum(self.axis, keepdim=True).sqrt(), self.eps)
        return ((x1 / n1) * (x2 / n2)).sum(self.axis)

    def backward(self, g):
        x1, x2, n1, n2, cos, _, _ = self.saved
        xp = _xp(g)
        g = xp.expand_dims(g, self.axis)
        c = xp.expand_dims(cos, self.axis)
        s1, s2 = self.shapes
        g1 = g2 = None
        if self.needs_grad(0):
            g1 = sum_to(g * (x2 / (n1 * n2) - c * x1 / (n1 * n1)), s1)
        if self.needs_grad(1):
            g2 = sum_to(g * (x1 / (n1 * n2) - c * x2 / (n2 * n2)), s2)
        return (g1, g2)


@autocast_op(cuda=FP32)
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim` (inputs broadcast)."""
    a, b = x1._data, x2._data
    if a.dtype != b.dtype:
        raise RuntimeError(
            f"cosine_similarity: expected both inputs to have the same dtype, got {a.dtype} and {b.dtype}"
        )
    xp = _xp(a)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(
            f"cosine_similarity: the size of tensor a {shape_str(a.shape)} must match the size of tensor b "
            f"{shape_str(b.shape)} (they cannot be broadcast together)"
        ) from None
    ndim = len(shape)
    axis = wrap_dim(dim, ndim, "cosine_similarity")
    a = xp.broadcast_to(a, shape)
    b = xp.broadcast_to(b, shape)
    small = a.dtype.type(eps)
    n1 = xp.maximum(xp.sqrt((a * a).sum(axis=axis, keepdims=True)), small)
    n2 = xp.maximum(xp.sqrt((b * b).sum(axis=axis, keepdims=True)), small)
    cos = ((a / n1) * (b / n2)).sum(axis=axis)
    if needs_grad(x1, x2):
        node = CosineSimilarityBackward0()
        node.axis, node.eps = axis, small
        node.shapes = (x1._data.shape, x2._data.shape)
        record(node, (x1, x2), (a, b, n1, n2, cos, x1._data, x2._data))
        node.save_versions(x1, x2)
        return _result(cos, node)
    return _result(cos)
