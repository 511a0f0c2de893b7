"""Integer arithmetic of the quantized layers, on numpy or cupy arrays.

The products run in float32 BLAS on the centred integers (q - zero_point): each term is an exact
integer, and so is the sum while it stays below 2**24, as it does for the layer sizes in use; beyond
that the rounding is far below one quantization step. Numpy has no int8 BLAS, so this is no faster
than float32: quantization here buys size on disk and in memory, not speed (that comes from
onnxruntime's int8 kernels on the deployment route).

Rounding follows fbgemm, PyTorch's x86 backend: activations quantized at run time take their range
from the batch with the range halved (0..127, `reduce_range`), and static layers requantize their
output as round((acc * s_in * s_w + bias) / s_out) + z_out.
"""

from __future__ import annotations

import numpy as np

from .... import backend as B
from ....autograd import grad_mode
from ....ops.conv import conv1d, conv2d
from ....ops.misc import pad as _pad
from ....tensor import _wrap
from ...quantized_tensor import (
    QuantizedTensor,
    choose_qparams,
    is_per_channel,
    make_quantized,
    per_channel_affine,
    per_tensor_affine,
    qrange,
    quantize_array,
)

_F32 = np.float32


class PackedWeight:
    """A quantized (or float16) weight ready for the kernels: integers, scales and zero points."""

    __slots__ = ("q", "scale", "zero_point", "axis", "qdtype")

    def __init__(self, q, scale, zero_point, axis, qdtype):
        self.q, self.scale, self.zero_point, self.axis, self.qdtype = q, scale, zero_point, axis, qdtype

    def centred(self):
        """(q - zero_point) as float32, and the scale shaped to multiply the output's channel axis."""
        xp = B.array_module(self.q)
        w = self.q.astype(_F32)
        if self.axis is None:
            if self.zero_point:
                w -= _F32(self.zero_point)
            return w, _F32(self.scale)
        shape = [1] * w.ndim
        shape[self.axis] = -1
        zp = xp.asarray(self.zero_point, dtype=_F32)
        if xp.any(zp):
            w -= zp.reshape(shape)
        return w, xp.asarray(self.scale, dtype=_F32)


def quantize_weight(weight_array, observer):
    """Quantize a float weight array with what `observer` (already run on it) chose: a PackedWeight."""
    scale, zero_point = observer.calculate_qparams()
    qdtype = observer.dtype
    scale = B.to_numpy(scale._data).astype(np.float64)
    zero_point = B.to_numpy(zero_point._data).astype(np.int64)
    if is_per_channel(observer.qscheme):
        axis = observer.ch_axis % weight_array.ndim
        q = quantize_array(weight_array, scale, zero_point, qdtype, axis)
        return PackedWeight(q, scale, zero_point, axis, qdtype)
    s, z = float(scale[0]), int(zero_point[0])
    return PackedWeight(quantize_array(weight_array, s, z, qdtype), s, z, None, qdtype)


def weight_tensor(packed) -> QuantizedTensor:
    axis = packed.axis
    scheme = per_tensor_affine if axis is None else per_channel_affine
    return make_quantized(packed.q, packed.qdtype, packed.scale, packed.zero_point, axis, scheme)


def _centred_input(x: QuantizedTensor):
    a = x._int.astype(_F32)
    if x._zero_point:
        a -= _F32(x._zero_point)
    return a


def requantize(real, scale, zero_point, relu=False):
    """The quint8 integers of the float result `real` at the given output scale and zero point."""
    xp = B.array_module(real)
    q = xp.rint(real / _F32(scale)) + _F32(zero_point)
    qmin, qmax = qrange(B.quint8)
    if relu:
        qmin = max(qmin, int(zero_point))
    return xp.clip(q, qmin, qmax).astype(np.uint8)


# ------------------------------------------------------------------------------------------ linear


def linear_accumulate(x_centred, packed):
    """(x - z_x) @ (W - z_w)^T over the last dim of x, and the per-output weight scale."""
    w, w_scale = packed.centred()
    shape = x_centred.shape
    acc = x_centred.reshape(-1, shape[-1]) @ w.T
    return acc.reshape(shape[:-1] + (w.shape[0],)), w_scale


def linear_static(x: QuantizedTensor, packed, bias, out_scale, out_zero_point, relu=False):
    """A statically quantized linear layer: quint8 in, quint8 out (at the observed output scale)."""
    acc, w_scale = linear_accumulate(_centred_input(x), packed)
    real = acc * (_F32(x._scale) * w_scale)
    if bias is not None:
        real += bias
    q = requantize(real, out_scale, out_zero_point, relu)
    return make_quantized(q, B.quint8, float(out_scale), int(out_zero_point))


def dynamic_input(x, reduce_range=True):
    """Quantize a float activation to quint8 with a range taken from the array itself."""
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, 0, 255, reduce_range)
    q = quantize_array(x, scale, zero_point, B.quint8)
    centred = q.astype(_F32)
    if zero_point:
        centred -= _F32(zero_point)
    return centred, scale


def linear_dynamic(x, packed, bias, reduce_range=True):
    """A dynamically quantized linear layer on a float array: quantize x, multiply, scale back to float."""
    if packed.qdtype is B.float16:
        out = x.astype(_F32, copy=False) @ packed.q.astype(_F32).T
    else:
        centred, x_scale = dynamic_input(x, reduce_range)
        acc, w_scale = linear_accumulate(centred, packed)
        out = acc * (_F32(x_scale) * w_scale)
    if bias is not None:
        out += bias
    return out


# ------------------------------------------------------------------------------------ convolution


def conv_static(x: QuantizedTensor, packed, bias, module, relu=False):
    """A statically quantized convolution with `module`'s geometry: quint8 in, quint8 out."""
    w, w_scale = packed.centred()
    a = _wrap(_centred_input(x))
    conv = conv1d if w.ndim == 3 else conv2d
    with grad_mode.no_grad():
        padding = module.padding
        if module.padding_mode != "zeros":
            a = _pad(a, module._reversed_padding_repeated_twice, mode=module.padding_mode)
            padding = 0
        acc = conv(a, _wrap(w), None, module.stride, padding, module.dilation, module.groups)._data
    channel = (-1,) + (1,) * (w.ndim - 2)
    mult = _F32(x._scale) * w_scale
    real = acc * (mult.reshape(channel) if mult.ndim else mult)
    if bias is not None:
        real += bias.reshape(channel)
    q = requantize(real, module.scale, module.zero_point, relu)
    return make_quantized(q, B.quint8, float(module.scale), int(module.zero_point))
