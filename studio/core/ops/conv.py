"""Convolutions through BLAS: conv1d, conv2d and conv_transpose2d with hand-written backward.

Columns are copied once from a strided view of the padded input. With many columns per group
they are laid out (C, kh, kw, N, Ho, Wo), so that one big GEMM gives the output and one the weight
gradient; with few (first layers) they are laid out (N, C, kh, kw, Ho, Wo) and a GEMM per sample
writes the output straight in (N, C_out, Ho, Wo). The input gradient is a col2im that loops only
over the kh*kw kernel offsets with slice-adds. 1-D convolutions run as 2-D ones of height 1.
"""

from __future__ import annotations

import numbers

from .. import backend as B
from ..amp.autocast_mode import LOWER, autocast_op
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from . import _kernels as K
from .linalg import matmul
from .misc import pad
from .shape import _into_zeros, stack

_xp = B.array_module

# columns per group (C/groups * kh * kw) below which the per-sample GEMM layout is faster
_BATCH_MAJOR_BELOW = 128


def _tuple(value, n, name, where):
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"{where}: expected {name} to be a single integer or a tuple of {n}, got {value}")
    return value


def _size_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ------------------------------------------------------------------------------- column helpers


def _pad2d(x, pads, value=0):
    """Pad the last two dims of a 4-D array by ((top, bottom), (left, right)) with `value`."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    xp = _xp(x)
    n, c, h, w = x.shape
    out = xp.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out


def im2col(x, kernel, stride, dilation, out_hw, batch_major=False):
    """Columns of a padded (N, C, Hp, Wp) array: a contiguous (C, kh, kw, N, Ho, Wo) copy, or
    (N, C, kh, kw, Ho, Wo) when `batch_major`."""
    xp = _xp(x)
    n, c = x.shape[:2]
    kh, kw = kernel
    sh, sw = stride
    dh, dw = dilation
    ho, wo = out_hw
    if K.floating(x) and x.dtype.isnative:
        n_, c_ = (n * c, 1) if batch_major else (c, n)
        out = B.numpy.empty((n_, kh, kw, c_, ho, wo), dtype=x.dtype)
        planes = x.reshape((n_, 1) + x.shape[2:]) if batch_major else x.transpose(1, 0, 2, 3)
        if K.call("im2col", planes, sh, sw, dh, dw, out):
            return out.reshape((n, c, kh, kw, ho, wo) if batch_major else (c, kh, kw, n, ho, wo))
    s_n, s_c, s_h, s_w = x.strides
    if batch_major:
        shape, strides = (n, c, kh, kw, ho, wo), (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw)
    else:
        shape, strides = (c, kh, kw, n, ho, wo), (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw)
    return xp.ascontiguousarray(xp.lib.stride_tricks.as_strided(x, shape, strides))


def col2im(cols, padded_hw, kernel, stride, dilation, batch_major=False):
    """Sum (C, kh, kw, N, Ho, Wo) columns back into a (C, N, Hp, Wp) array, or (N, C, kh, kw, Ho, Wo)
    ones into (N, C, Hp, Wp) when `batch_major`: one slice-add per kernel offset."""
    xp = _xp(cols)
    kh, kw = cols.shape[2:4] if batch_major else cols.shape[1:3]
    ho, wo = cols.shape[-2:]
    lead = cols.shape[:2] if batch_major else (cols.shape[0], cols.shape[3])
    sh, sw = stride
    dh, dw = dilation
    if K.usable(cols):
        out = B.numpy.empty(lead + tuple(padded_hw), dtype=cols.dtype)
        # the kernel takes (A, kh, kw, B, Ho, Wo): batch-major columns are (N * C, kh, kw, 1, Ho, Wo)
        blocks = cols.reshape((-1, kh, kw, 1, ho, wo)) if batch_major else cols
        if K.call("col2im", blocks, sh, sw, dh, dw, out.reshape((blocks.shape[0], -1) + tuple(padded_hw))):
            return out
    out = xp.zeros(lead + tuple(padded_hw), dtype=cols.dtype)
    for i in range(kh):
        r0 = i * dh
        rows = slice(r0, r0 + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            c0 = j * dw
            part = cols[:, :, i, j] if batch_major else cols[:, i, j]
            out[:, :, rows, c0 : c0 + sw * (wo - 1) + 1 : sw] += part
    return out


def _matmul_groups(a, b):
    """(..., G, m, k) @ (..., G, k, n), with a plain (batched) GEMM when there is a single group."""
    if a.shape[-3] == 1 and b.shape[-3] == 1:
        return B.matmul(a[..., 0, :, :], b[..., 0, :, :])[..., None, :, :]
    return B.matmul(a, b)


# --------------------------------------------------------------------------------- convolution


def _taps(kernel, stride, dilation, out_hw):
    """(i, j, index) for each kernel offset: `index` cuts the (N, C, Ho, Wo) positions of the padded
    input that offset (i, j) meets."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    return [
        (
            i,
            j,
            (
                slice(None),
                slice(None),
                slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                slice(j * dw, j * dw + sw * (wo - 1) + 1, sw),
            ),
        )
        for i in range(kh)
        for j in range(kw)
    ]


class ConvolutionBackward0(Node):
    """Backward of conv1d/conv2d; recorded, it goes through the convolution as slices and a product."""

    __slots__ = ("geom", "in_shape", "w_shape", "has_bias", "batch_major")
    saved_roles = (None, 1, 0, 2)
    decomposed = True

    def decompose(self, cols, w, x, b):
        n, c, hp, wp, pads, kernel, stride, dilation, groups, ho, wo = self.geom
        (pt, pb), (pl, pr) = pads
        if pt or pb or pl or pr:
            x = pad(x, (pl, pr, pt, pb))
        taps = [x[index] for _, _, index in _taps(kernel, stride, dilation, (ho, wo))]
        cols = stack(taps, 2).reshape(n, groups, -1, ho * wo)
        o = w.shape[0]
        out = matmul(w.reshape(groups, o // groups, -1), cols).reshape(n, o, ho, wo)
        if b is not None:
            out = out + b.reshape(1, o, 1, 1)
        return out.reshape(self._meta[0])

    def backward(self, g):
        cols, w4, _, _ = self.saved
        xp = _xp(g)
        n, c, hp, wp, pads, kernel, stride, dilation, groups, ho, wo = self.geom
        o = w4.shape[0]
        g4 = g.reshape(n, o, ho, wo)
        length = ho * wo if self.batch_major else n * ho * wo
        want_gb = self.has_bias and self.needs_grad(2)
        if self.batch_major:
            go = g4.reshape(n, groups, o // groups, length)
            gb = _channel_sums(g4) if want_gb else None
        else:
            go, gb = _channels_first(g4, want_gb)
            go = go.reshape(groups, o // groups, length)
        wm = w4.reshape(groups, o // groups, -1)
        gx = gw = None
        if self.needs_grad(1):
            if self.batch_major:
                cols4 = cols.reshape(n, groups, -1, length)
                gw = _matmul_groups(go, xp.swapaxes(cols4, -1, -2)).sum(axis=0)
            else:
                gw = _matmul_groups(go, cols.reshape(groups, -1, length).transpose(0, 2, 1))
            gw = gw.reshape(self.w_shape)
        if self.needs_grad(0):
            gx = self._input_grad(_matmul_groups(xp.swapaxes(wm, -1, -2), go))
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _input_grad(self, gcols):
        n, c, hp, wp, pads, kernel, stride, dilation, groups, ho, wo = self.geom
        (pt, pb), (pl, pr) = pads
        lead = (n, c) + tuple(kernel) if self.batch_major else (c,) + tuple(kernel) + (n,)
        gcols = gcols.reshape(lead + (ho, wo))
        full = col2im(gcols, (hp, wp), kernel, stride, dilation, batch_major=self.batch_major)
        gx = full[:, :, pt : hp - pb, pl : wp - pr]
        return (gx if self.batch_major else gx.transpose(1, 0, 2, 3)).reshape(self.in_shape)


def _channel_sums(g4):
    """(N, O, Ho, Wo) summed over all but O (the bias gradient): the contiguous axis first is faster."""
    return g4.reshape(g4.shape[0], g4.shape[1], -1).sum(axis=2).sum(axis=0)


def _channels_first(g4, want_sums):
    """(N, O, Ho, Wo) as a contiguous (O, N, Ho, Wo) copy, and its channel sums when wanted."""
    n, o = g4.shape[:2]
    if K.usable(g4):
        go = B.numpy.empty((o, n) + g4.shape[2:], dtype=g4.dtype)
        sums = B.numpy.empty(o, dtype=B.numpy.float64)
        if K.call("channels_first_grad", g4.reshape(n, o, -1), go.reshape(o, n, -1), sums, want_sums):
            return go, (sums.astype(g4.dtype) if want_sums else None)
    go = _xp(g4).ascontiguousarray(g4.transpose(1, 0, 2, 3))
    return go, (g4.sum(axis=(0, 2, 3)) if want_sums else None)


def _conv_padding(padding, kernel, dilation, stride, nd, where):
    """Per-dim (low, high) padding; 'same' pads asymmetrically for even kernels, like PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{where}: padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{where}: invalid padding string {padding!r}, should be one of 'valid', 'same'")
    p = _tuple(padding, nd, "padding", where)
    if any(v < 0 for v in p):
        raise RuntimeError(f"{where}: negative padding is not supported, got padding={p}")
    return tuple((v, v) for v in p)


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd, where):
    x, w = input._data, weight._data
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {where}, but got input of "
            f"size: {_size_str(x.shape)}"
        )
    if w.ndim != nd + 2:
        raise RuntimeError(
            f"{where}: expected weight to be {nd + 2}-D (out_channels, in_channels/groups, *kernel), "
            f"got weight of size {_size_str(w.shape)}"
        )
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        raise RuntimeError(f"{where}: input type ({x.dtype}) and weight type ({w.dtype}) should be the same")
    groups = int(groups)
    in_shape = x.shape
    batched = x.ndim == nd + 2
    xb = x if batched else x[None]
    c_in = xb.shape[1]
    o = w.shape[0]
    if groups < 1 or o % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got "
            f"weight of size {_size_str(w.shape)} instead"
        )
    if c_in != w.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {_size_str(w.shape)}, expected input"
            f"{_size_str(xb.shape)} to have {w.shape[1] * groups} channels, but got {c_in} channels instead"
        )
    if bias is not None and bias._data.shape != (o,):
        raise RuntimeError(f"{where}: expected bias of shape ({o},), got {tuple(bias._data.shape)}")
    stride = _tuple(stride, nd, "stride", where)
    dilation = _tuple(dilation, nd, "dilation", where)
    kernel = w.shape[2:]
    pads = _conv_padding(padding, kernel, dilation, stride, nd, where)
    if nd == 1:  # a 1-D convolution is a 2-D one of height 1
        xb = xb[:, :, None, :]
        w = w[:, :, None, :]
        kernel, stride, dilation, pads = (1,) + kernel, (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    n = xb.shape[0]
    hp = xb.shape[2] + pads[0][0] + pads[0][1]
    wp = xb.shape[3] + pads[1][0] + pads[1][1]
    ho = (hp - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    wo = (wp - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    if ho < 1 or wo < 1:
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise RuntimeError(
            f"{where}: Calculated padded input size per channel: ({hp} x {wp}). Kernel size: "
            f"({eff[0]} x {eff[1]}). Kernel size can't be greater than actual input size"
        )
    wm = w.reshape(groups, o // groups, -1)
    # Small kernels-by-channels (first layers) run fastest as one GEMM per sample, straight into
    # (N, O, Ho, Wo); larger ones as one big GEMM over all samples, transposed afterwards.
    batch_major = wm.shape[-1] < _BATCH_MAJOR_BELOW
    cols = im2col(_pad2d(xb, pads), kernel, stride, dilation, (ho, wo), batch_major)
    if batch_major:
        out = _matmul_groups(wm, cols.reshape(n, groups, -1, ho * wo)).reshape(n, o, ho, wo)
        if bias is not None:
            out += bias._data[:, None, None]
    else:
        res = _matmul_groups(wm, cols.reshape(groups, -1, n * ho * wo)).reshape(o, n, ho, wo)
        out = _batch_first(res, bias._data if bias is not None else None)
    out_shape = (n, o) + ((wo,) if nd == 1 else (ho, wo))
    if not batched:
        out_shape = out_shape[1:]
    out = out.reshape(out_shape)
    tensors = (input, weight) + ((bias,) if bias is not None else ())
    if needs_grad(*tensors):
        node = ConvolutionBackward0()
        node.geom = (n, c_in, hp, wp, pads, kernel, stride, dilation, groups, ho, wo)
        node.in_shape = in_shape
        node.w_shape = weight._data.shape
        node.has_bias = bias is not None
        node.batch_major = batch_major
        b = bias._data if bias is not None else None
        record(node, tensors, (cols if weight._rg else None, w, xb, b))
        node.save_versions(weight)
        return _result(out, node)
    return _result(out)


def _batch_first(res, bias):
    """(O, N, Ho, Wo) products as a (N, O, Ho, Wo) output, plus the bias."""
    xp = _xp(res)
    o, n = res.shape[:2]
    out = xp.empty((n, o) + res.shape[2:], dtype=res.dtype)
    b = bias if bias is not None else B.numpy.zeros(o, dtype=res.dtype)
    if K.usable(res, out, b) and K.call(
        "channels_first_out", res.reshape(o, n, -1), b, bias is not None, out.reshape(n, o, -1)
    ):
        return out
    if bias is not None:
        xp.add(res.transpose(1, 0, 2, 3), bias[:, None, None], out=out)
    else:
        out[...] = res.transpose(1, 0, 2, 3)
    return out


@autocast_op(cpu=LOWER, cuda=LOWER)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution. Input (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, k)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


@autocast_op(cpu=LOWER, cuda=LOWER)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution. Input (N, C_in, H, W) or (C_in, H, W), weight (C_out, C_in/groups, kh, kw)."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


# ----------------------------------------------------------------------- transposed convolution


class ConvolutionBackward1(Node):
    """Backward of a transposed convolution: its input gradient is a plain convolution."""

    __slots__ = ("geom", "in_shape", "has_bias")
    saved_roles = (None, 1, 0, 2)
    decomposed = True

    def name(self):
        return "ConvolutionBackward0"

    def decompose(self, x4_for_w, w, x4, b):
        n, h, wd, buf_hw, crop, kernel, stride, dilation, groups = self.geom
        c_in, c_out = w.shape[0], w.shape[1] * groups
        xm = x4.permute(1, 0, 2, 3).reshape(groups, c_in // groups, n * h * wd)
        wm = w.reshape(groups, c_in // groups, -1)
        cols = matmul(wm.transpose(1, 2), xm).reshape(c_out, kernel[0], kernel[1], n, h, wd)
        full = None
        for i, j, index in _taps(kernel, stride, dilation, (h, wd)):
            part = _into_zeros((c_out, n) + tuple(buf_hw), index, cols[:, i, j])
            full = part if full is None else full + part
        out_hw = self._meta[0][-2:]
        (ph, pw), o = crop, full.permute(1, 0, 2, 3)
        out = o[:, :, ph : ph + out_hw[0], pw : pw + out_hw[1]]
        if b is not None:
            out = out + b.reshape(1, c_out, 1, 1)
        return out.reshape(self._meta[0])

    def backward(self, g):
        x4, w, _, _ = self.saved
        xp = _xp(g)
        n, h, wd, buf_hw, crop, kernel, stride, dilation, groups = self.geom
        c_in = w.shape[0]
        c_out = g.shape[-3]
        g4 = g if g.ndim == 4 else g[None]
        ph, pw = crop
        full = xp.zeros((n, c_out) + tuple(buf_hw), dtype=g.dtype)
        full[:, :, ph : ph + g4.shape[2], pw : pw + g4.shape[3]] = g4
        gcols = im2col(full, kernel, stride, dilation, (h, wd))
        length = n * h * wd
        gcols = gcols.reshape(groups, -1, length)
        wm = w.reshape(groups, c_in // groups, -1)
        gx = gw = gb = None
        if self.needs_grad(0):
            gx = _matmul_groups(wm, gcols).reshape(c_in, n, h, wd).transpose(1, 0, 2, 3)
            gx = gx.reshape(self.in_shape)
        if self.needs_grad(1):
            xm = xp.ascontiguousarray(x4.transpose(1, 0, 2, 3)).reshape(groups, c_in // groups, length)
            gw = _matmul_groups(xm, gcols.transpose(0, 2, 1)).reshape(w.shape)
        if self.has_bias and self.needs_grad(2):
            gb = g4.sum(axis=(0, 2, 3))
        return (gx, gw, gb) if self.has_bias else (gx, gw)


@autocast_op(cpu=LOWER, cuda=LOWER)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution. Input (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw)."""
    where = "conv_transpose2d"
    x, w = input._data, weight._data
    if x.ndim not in (3, 4):
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to {where}, but got input of size: "
            f"{_size_str(x.shape)}"
        )
    if w.ndim != 4:
        raise RuntimeError(f"{where}: expected a 4-D weight, got weight of size {_size_str(w.shape)}")
    if x.dtype != w.dtype or (bias is not None and bias._data.dtype != x.dtype):
        raise RuntimeError(f"{where}: input type ({x.dtype}) and weight type ({w.dtype}) should be the same")
    groups = int(groups)
    x4 = x if x.ndim == 4 else x[None]
    n, c_in, h, wd = x4.shape
    if c_in != w.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {_size_str(w.shape)}, expected input{_size_str(x4.shape)} "
            f"to have {w.shape[0]} channels, but got {c_in} channels instead"
        )
    if groups < 1 or c_in % groups:
        raise RuntimeError(f"{where}: in_channels ({c_in}) must be divisible by groups ({groups})")
    stride = _tuple(stride, 2, "stride", where)
    padding = _tuple(padding, 2, "padding", where)
    output_padding = _tuple(output_padding, 2, "output_padding", where)
    dilation = _tuple(dilation, 2, "dilation", where)
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(
                f"{where}: output padding must be smaller than either stride or dilation, but got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    kernel = w.shape[2:]
    c_out = w.shape[1] * groups
    out_hw = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip((h, wd), stride, padding, dilation, kernel, output_padding)
    )
    if out_hw[0] < 1 or out_hw[1] < 1:
        raise RuntimeError(
            f"{where}: the output size {out_hw} is too small for input of size {_size_str(x.shape)}"
        )
    full_hw = tuple(
        (size - 1) * s + d * (k - 1) + 1 for size, s, d, k in zip((h, wd), stride, dilation, kernel)
    )
    buf_hw = tuple(max(f, p + o) for f, p, o in zip(full_hw, padding, out_hw))
    xp = _xp(x4)
    length = n * h * wd
    xm = xp.ascontiguousarray(x4.transpose(1, 0, 2, 3)).reshape(groups, c_in // groups, length)
    wm = w.reshape(groups, c_in // groups, -1)
    cols = _matmul_groups(wm.transpose(0, 2, 1), xm).reshape(c_out, kernel[0], kernel[1], n, h, wd)
    full = col2im(cols, buf_hw, kernel, stride, dilation)
    ph, pw = padding
    res = full[:, :, ph : ph + out_hw[0], pw : pw + out_hw[1]].transpose(1, 0, 2, 3)
    out = xp.empty((n, c_out) + out_hw, dtype=x.dtype)
    if bias is not None:
        xp.add(res, bias._data[:, None, None], out=out)
    else:
        out[...] = res
    if x.ndim == 3:
        out = out[0]
    tensors = (input, weight) + ((bias,) if bias is not None else ())
    if needs_grad(*tensors):
        node = ConvolutionBackward1()
        node.geom = (n, h, wd, buf_hw, padding, kernel, stride, dilation, groups)
        node.in_shape = x.shape
        node.has_bias = bias is not None
        b = bias._data if bias is not None else None
        record(node, tensors, (x4 if weight._rg else None, w, x4, b))
        node.save_versions(input if weight._rg else None, weight)
        return _result(out, node)
    return _result(out)
