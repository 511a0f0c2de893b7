"""Pooling: max_pool1d/2d (with indices), avg_pool2d and adaptive_avg_pool2d, with hand-written backward.

When the stride equals the kernel and there is no padding (the common case) windows are a reshape
of the input; otherwise they are a strided view of the padded input, and backward loops only over
the kernel offsets with slice-adds.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend as B
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import _wrap
from . import _kernels as K
from .conv import _pad2d
from .misc import pad
from .shape import gather, stack

_xp = B.array_module


def _pair(value, name, where, n=2):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"{where}: {name} must be a single int or a tuple of {n} ints, got {value}")
    return value


def _no_stride(stride):
    """PyTorch's pooling default: no stride (None or an empty list) means stride = kernel_size."""
    return stride is None or (not isinstance(stride, numbers.Integral) and len(stride) == 0)


def _as_4d(x, nd, where):
    """View a pooling input as (N, C, H, W); returns the view and how to undo it on an output."""
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{where}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor for input, but got input of "
            f"size: [{', '.join(str(s) for s in x.shape)}]"
        )
    batched = x.ndim == nd + 2
    x4 = x if batched else x[None]
    if nd == 1:
        x4 = x4[:, :, None, :]
    return x4, batched


def _from_4d(out4, nd, batched):
    out = out4[:, :, 0, :] if nd == 1 else out4
    return out if batched else out[0]


def _out_len(size, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = size + 2 * p - eff
    o = (num + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= size + p:
        o -= 1  # the last window must start inside the input or its left padding
    return o


def _geometry(x4, kernel, stride, padding, dilation, ceil_mode, where):
    h, w = x4.shape[2:]
    for k, s, p, d in zip(kernel, stride, padding, dilation):
        if k < 1 or s < 1 or d < 1:
            raise RuntimeError(
                f"{where}: kernel_size, stride and dilation must be positive, got kernel_size={kernel}, "
                f"stride={stride}, dilation={dilation}"
            )
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{where}: pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    ho = _out_len(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    wo = _out_len(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    if ho < 1 or wo < 1:
        raise RuntimeError(
            f"{where}: Given input size: ({x4.shape[1]}x{h}x{w}). Calculated output size: "
            f"({x4.shape[1]}x{ho}x{wo}). Output size is too small"
        )
    # padding on the right/bottom can grow by what ceil_mode's last window needs
    pads = []
    for size, o, k, s, p, d in zip((h, w), (ho, wo), kernel, stride, padding, dilation):
        need = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(0, need - size - p)))
    return ho, wo, tuple(pads)


# ------------------------------------------------------------------------------------ max pool


def _offset_slices(kernel, stride, dilation, out_hw):
    """For each kernel offset (i, j): the (rows, cols) slices of the padded input it reads."""
    sh, sw = stride
    dh, dw = dilation
    ho, wo = out_hw
    for i in range(kernel[0]):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kernel[1]):
            yield i * kernel[1] + j, rows, slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)


def _overlapping(kernel, stride, dilation):
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def _windows_tile(kernel, stride, dilation, pads):
    """Windows side by side without gaps, overlap or padding (what the compiled kernels cover)."""
    return kernel == stride and dilation == (1, 1) and not any(p for pair in pads for p in pair)


def _index_dtype(xp, count):
    return xp.int8 if count <= 127 else xp.int16 if count <= 32767 else xp.int32


def _padded_taps(x4, pads, value, kernel, stride, dilation, out_hw):
    """The strided views of `x4` padded by `pads` (with differentiable ops) that each kernel offset reads."""
    (pt, pb), (pl, pr) = pads
    if pt or pb or pl or pr:
        x4 = pad(x4, (pl, pr, pt, pb), value=value)
    return [x4[:, :, rows, cols] for _, rows, cols in _offset_slices(kernel, stride, dilation, out_hw)]


class MaxPool2DWithIndicesBackward0(Node):
    """Backward of max pooling; recorded, it goes through picking the saved maxima (a gather)."""

    __slots__ = ("geom", "in_shape")
    saved_roles = (None, 0)
    decomposed = True

    def decompose(self, idx, x4):
        x4_shape, kernel, stride, dilation, pads = self.geom
        taps = _padded_taps(x4, pads, -math.inf, kernel, stride, dilation, idx.shape[2:])
        which = _wrap(_xp(idx).asarray(idx, dtype=np.int64)[:, :, None])
        return gather(stack(taps, 2), 2, which)[:, :, 0].reshape(self._meta[0])

    def backward(self, g):
        (idx, _) = self.saved
        xp = _xp(g)
        x4_shape, kernel, stride, dilation, pads = self.geom
        n, c, h, w = x4_shape
        ho, wo = idx.shape[2:]
        kh, kw = kernel
        g4 = g.reshape(n, c, ho, wo)
        (pt, pb), (pl, pr) = pads
        # the kernel reads the gradient in any layout: a convolution's input gradient arrives as a
        # transposed view, and a contiguous copy of it would cost as much as the pooling
        if _windows_tile(kernel, stride, dilation, pads) and K.floating(g4):
            gx = xp.empty(x4_shape, dtype=g.dtype)
            if K.call("maxpool_bwd", g4, idx, kh, kw, gx):
                return (gx.reshape(self.in_shape),)
        hp, wp = h + pt + pb, w + pl + pr
        tiled = kernel == stride and dilation == (1, 1) and (hp, wp) == (ho * kh, wo * kw)
        # when the windows tile the input every element is written below, so no zero fill is needed
        full = (xp.empty if tiled else xp.zeros)((n, c, hp, wp), dtype=g.dtype)
        # multiplying by the 0/1 mask is several times faster than a masked copy or where()
        if _overlapping(kernel, stride, dilation):
            for k, rows, cols in _offset_slices(kernel, stride, dilation, (ho, wo)):
                full[:, :, rows, cols] += g4 * (idx == k).astype(g.dtype)
        else:
            # windows do not overlap: each input element gets the gradient of at most one window
            for k, rows, cols in _offset_slices(kernel, stride, dilation, (ho, wo)):
                xp.multiply(g4, (idx == k).astype(g.dtype), out=full[:, :, rows, cols])
        gx = full[:, :, pt : pt + h, pl : pl + w] if (pt or pb or pl or pr) else full
        return (gx.reshape(self.in_shape),)


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd, where):
    x = input._data
    x4, batched = _as_4d(x, nd, where)
    kernel = _pair(kernel_size, "kernel_size", where, nd)
    stride = kernel if _no_stride(stride) else _pair(stride, "stride", where, nd)
    padding = _pair(padding, "padding", where, nd)
    dilation = _pair(dilation, "dilation", where, nd)
    if nd == 1:
        kernel, stride, padding, dilation = (1,) + kernel, (1,) + stride, (0,) + padding, (1,) + dilation
    ho, wo, pads = _geometry(x4, kernel, stride, padding, dilation, ceil_mode, where)
    xp = _xp(x4)
    w = x4.shape[3]
    kw = kernel[1]
    rec = needs_grad(input)
    best, idx = _max_pool_compiled(x4, kernel, stride, dilation, pads, (ho, wo))
    offsets = () if best is not None else _offset_slices(kernel, stride, dilation, (ho, wo))
    low = -xp.inf if x4.dtype.kind == "f" else xp.iinfo(x4.dtype).min
    xpad = _pad2d(x4, pads, low) if best is None else None
    # a running maximum over the kernel offsets, each a strided view: no window copies, no argmax
    for k, rows, cols in offsets:
        v = xpad[:, :, rows, cols]
        if best is None:
            best = xp.array(v, copy=True)
            if rec or return_indices:
                idx = xp.zeros(best.shape, dtype=_index_dtype(xp, kernel[0] * kw))
            continue
        if idx is not None:
            # arithmetic select: far faster than a masked copy; strict > keeps the first maximum,
            # and the last NaN wins, as in PyTorch
            idx += (k - idx) * ((v > best) | (v != v) if v.dtype.kind == "f" else (v > best))
        xp.maximum(best, v, out=best)
    out = _from_4d(best, nd, batched)
    indices = None
    if return_indices:
        idx64 = idx.astype(xp.int64)
        rows = xp.arange(ho)[:, None] * stride[0] - pads[0][0] + (idx64 // kw) * dilation[0]
        cols = xp.arange(wo) * stride[1] - pads[1][0] + (idx64 % kw) * dilation[1]
        indices = _result(_from_4d((rows * w + cols).astype(xp.int64), nd, batched))
    if rec:
        node = MaxPool2DWithIndicesBackward0()
        node.geom = (x4.shape, kernel, stride, dilation, pads)
        node.in_shape = x.shape
        record(node, (input,), (idx, x4))
        res = _result(out, node)
    else:
        res = _result(out)
    return (res, indices) if return_indices else res


def _max_pool_compiled(x4, kernel, stride, dilation, pads, out_hw):
    """The maxima and their window offsets from the compiled kernel, or (None, None)."""
    kh, kw = kernel
    if not (_windows_tile(kernel, stride, dilation, pads) and kh * kw <= 127 and K.usable(x4)):
        return None, None
    out = B.numpy.empty(x4.shape[:2] + out_hw, dtype=x4.dtype)
    idx = B.numpy.empty(out.shape, dtype=B.numpy.int8)
    planes = x4.shape[0] * x4.shape[1]
    args = (x4.reshape((planes,) + x4.shape[2:]),) + ((kh, kw) if kernel != (2, 2) else ())
    args += (out.reshape((planes,) + out_hw), idx.reshape((planes,) + out_hw))
    if K.call("maxpool_fwd" if kernel != (2, 2) else "maxpool2x2_fwd", *args):
        return out, idx
    return None, None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling over (N, C, H, W) or (C, H, W); the stride defaults to the kernel size."""
    args = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool(input, *args, 2, "max_pool2d")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-D max pooling over (N, C, L) or (C, L); the stride defaults to the kernel size."""
    args = (kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _max_pool(input, *args, 1, "max_pool1d")


# ------------------------------------------------------------------------------------ avg pool


class AvgPool2DBackward0(Node):
    """Backward of average pooling; recorded, it goes through the window sums as slices."""

    __slots__ = ("geom", "in_shape")
    saved_roles = (None, 0)
    decomposed = True

    def decompose(self, div, x4):
        x4_shape, kernel, stride, pads, out_hw = self.geom
        taps = _padded_taps(x4, pads, 0.0, kernel, stride, (1, 1), out_hw)
        total = taps[0]
        for t in taps[1:]:
            total = total + t
        return (total / div).reshape(self._meta[0])

    def backward(self, g):
        (div, _) = self.saved
        xp = _xp(g)
        x4_shape, kernel, stride, pads, out_hw = self.geom
        n, c, h, w = x4_shape
        gd = g.reshape((n, c) + out_hw) / div
        gd = gd.astype(g.dtype, copy=False)
        (pt, pb), (pl, pr) = pads
        full = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
        overlap = _overlapping(kernel, stride, (1, 1))
        for _, rows, cols in _offset_slices(kernel, stride, (1, 1), out_hw):
            if overlap:
                full[:, :, rows, cols] += gd
            else:
                full[:, :, rows, cols] = gd
        gx = full[:, :, pt : pt + h, pl : pl + w] if (pt or pb or pl or pr) else full
        return (gx.reshape(self.in_shape),)


def _avg_divisor(xp, size, o, k, s, p):
    """Per output position: the window length counting padding, and counting only the input."""
    start = xp.arange(o) * s - p
    end = xp.minimum(start + k, size + p)
    with_pad = end - start
    clipped = xp.minimum(end, size) - xp.maximum(start, 0)
    return with_pad, clipped


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """2-D average pooling over (N, C, H, W) or (C, H, W); the stride defaults to the kernel size."""
    where = "avg_pool2d"
    x = input._data
    if x.dtype.kind != "f":
        raise RuntimeError(f"{where}: expected a floating point input, got {x.dtype}")
    x4, batched = _as_4d(x, 2, where)
    kernel = _pair(kernel_size, "kernel_size", where)
    stride = kernel if _no_stride(stride) else _pair(stride, "stride", where)
    padding = _pair(padding, "padding", where)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{where}: divisor must be not zero")
    ho, wo, pads = _geometry(x4, kernel, stride, padding, (1, 1), ceil_mode, where)
    xp = _xp(x4)
    h, w = x4.shape[2:]
    kh, kw = kernel
    xpad = _pad2d(x4, pads)
    total = None
    for _, rows, cols in _offset_slices(kernel, stride, (1, 1), (ho, wo)):
        if total is None:
            total = xp.array(xpad[:, :, rows, cols], copy=True)
        else:
            total += xpad[:, :, rows, cols]
    if divisor_override is not None:
        div = x.dtype.type(divisor_override)
    elif all(a == 0 and b == 0 for a, b in pads) or count_include_pad and all(b <= a for a, b in pads):
        div = x.dtype.type(kh * kw)  # every window has the full kernel size
    else:
        ph, ch = _avg_divisor(xp, h, ho, kh, stride[0], padding[0])
        pw, cw = _avg_divisor(xp, w, wo, kw, stride[1], padding[1])
        div = (ph[:, None] * pw if count_include_pad else ch[:, None] * cw).astype(x.dtype)
    out4 = total / div
    out = _from_4d(out4, 2, batched)
    if needs_grad(input):
        node = AvgPool2DBackward0()
        node.geom = (x4.shape, kernel, stride, pads, (ho, wo))
        node.in_shape = x.shape
        record(node, (input,), (div, x4))
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------- adaptive pool


def _adaptive_matrix(xp, size, out, dtype):
    """(out, size) averaging matrix: row i averages input[floor(i*size/out) : ceil((i+1)*size/out)]."""
    i = xp.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = xp.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2DBackward0(Node):
    __slots__ = ("in_shape", "x4_shape")
    saved_roles = (None, None)  # the averaging matrices

    def backward(self, g):
        ah, aw = self.saved
        n, c = self.x4_shape[:2]
        g4 = g.reshape(n, c, ah.shape[0], aw.shape[0])
        gx = B.matmul(B.matmul(ah.T, g4), aw)
        return (gx.reshape(self.in_shape),)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (H_out, W_out) whatever the input size; None keeps that input dim."""
    where = "adaptive_avg_pool2d"
    x = input._data
    x4, batched = _as_4d(x, 2, where)
    n, c, h, w = x4.shape
    if isinstance(output_size, numbers.Integral):
        output_size = (output_size, output_size)
    ho = h if output_size[0] is None else int(output_size[0])
    wo = w if output_size[1] is None else int(output_size[1])
    if ho < 1 or wo < 1:
        raise RuntimeError(f"{where}: output_size must be positive, got {tuple(output_size)}")
    xp = _xp(x4)
    ah = _adaptive_matrix(xp, h, ho, x.dtype)
    aw = _adaptive_matrix(xp, w, wo, x.dtype)
    if h % ho == 0 and w % wo == 0:
        out4 = x4.reshape(n, c, ho, h // ho, wo, w // wo).mean(axis=(3, 5), dtype=x.dtype)
    else:
        out4 = B.matmul(B.matmul(ah, x4), aw.T)
    out = _from_4d(out4, 2, batched)
    if needs_grad(input):
        node = AdaptiveAvgPool2DBackward0()
        node.in_shape = x.shape
        node.x4_shape = x4.shape
        record(node, (input,), (ah, aw))
        return _result(out, node)
    return _result(out)
