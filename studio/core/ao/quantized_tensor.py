"""Quantized tensors: integers read as `(q - zero_point) * scale`, per tensor or per channel.

`QuantizedTensor` keeps the integer array (int8, uint8 or int32) with its scale and zero point, as
`torch.quantize_per_tensor` makes them. Its `_data` holds the values it stands for (float32), so any
ordinary op applied to it computes on the dequantized values; the quantized layers read the
integers. Shape methods (`view`, `reshape`, `flatten`, ...) keep a per-tensor quantized tensor
quantized, as they do in PyTorch.
"""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend as B
from .._format import format_tensor
from ..tensor import Tensor, _wrap

__all__ = [
    "QuantizedTensor",
    "qscheme",
    "per_tensor_affine",
    "per_tensor_symmetric",
    "per_channel_affine",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
    "quantize_per_tensor",
    "quantize_per_channel",
    "quantize_per_tensor_dynamic",
]


class qscheme:
    """How a tensor is quantized, like `torch.qscheme`: per tensor or per channel, affine or symmetric."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"studio.core.{self.name}"

    def __reduce__(self):
        return (_qscheme_by_name, (self.name,))


per_tensor_affine = qscheme("per_tensor_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_affine = qscheme("per_channel_affine")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
_QSCHEMES = {
    q.name: q
    for q in (
        per_tensor_affine,
        per_tensor_symmetric,
        per_channel_affine,
        per_channel_symmetric,
        per_channel_affine_float_qparams,
    )
}


def _qscheme_by_name(name):
    return _QSCHEMES[name]


def is_per_tensor(scheme) -> bool:
    return scheme in (per_tensor_affine, per_tensor_symmetric)


def is_per_channel(scheme) -> bool:
    return scheme in (per_channel_affine, per_channel_symmetric, per_channel_affine_float_qparams)


def qrange(qdtype):
    """The full integer range (qmin, qmax) of a quantized dtype."""
    info = np.iinfo(qdtype.np)
    return int(info.min), int(info.max)


def check_qdtype(qdtype, where):
    if qdtype not in B.QUANTIZED_DTYPES:
        raise RuntimeError(
            f"{where}: dtype must be one of studio.core.qint8, quint8 or qint32, got {qdtype!r}"
        )


def quantize_array(x, scale, zero_point, qdtype, axis=None):
    """round(x / scale) + zero_point, clamped to `qdtype`'s range; per channel along `axis` when given."""
    xp = B.array_module(x)
    qmin, qmax = qrange(qdtype)
    x = x.astype(np.float32, copy=False)
    # x times the float32 inverse of the scale, as fbgemm rounds (dividing differs at a few ties)
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        inv = (np.float32(1) / np.asarray(B.to_numpy(scale), dtype=np.float32)).reshape(shape)
        inv, zero_point = xp.asarray(inv), xp.asarray(zero_point, dtype=np.float32).reshape(shape)
    else:
        inv, zero_point = np.float32(1) / np.float32(scale), np.float32(zero_point)
    q = xp.rint(x * inv) + zero_point
    return xp.clip(q, qmin, qmax).astype(qdtype.np)


def dequantize_array(q, scale, zero_point, axis=None):
    xp = B.array_module(q)
    if axis is None:
        return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
    shape = [1] * q.ndim
    shape[axis] = -1
    s = xp.asarray(scale, dtype=np.float32).reshape(shape)
    z = xp.asarray(zero_point, dtype=np.float32).reshape(shape)
    return (q.astype(np.float32) - z) * s


class QuantizedTensor(Tensor):
    """A tensor of integers with a scale and zero point (per tensor, or per channel along `axis`)."""

    __slots__ = ("_int", "_qdtype", "_qscheme", "_scale", "_zero_point", "_axis")

    @property
    def dtype(self):
        return self._qdtype

    @property
    def is_quantized(self) -> bool:
        return True

    def is_floating_point(self) -> bool:
        return False

    def element_size(self) -> int:
        return self._int.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._int.nbytes)

    def int_repr(self) -> Tensor:
        """The stored integers, as a plain tensor of int8, uint8 or int32."""
        return _wrap(self._int.copy())

    def dequantize(self) -> Tensor:
        """The float32 values this tensor stands for."""
        return _wrap(self._data.copy())

    def qscheme(self):
        return self._qscheme

    def q_scale(self) -> float:
        self._need_per_tensor("q_scale")
        return float(self._scale)

    def q_zero_point(self) -> int:
        self._need_per_tensor("q_zero_point")
        return int(self._zero_point)

    def q_per_channel_scales(self) -> Tensor:
        self._need_per_channel("q_per_channel_scales")
        return _wrap(np.asarray(self._scale, dtype=np.float64).copy())

    def q_per_channel_zero_points(self) -> Tensor:
        self._need_per_channel("q_per_channel_zero_points")
        return _wrap(np.asarray(self._zero_point, dtype=np.int64).copy())

    def q_per_channel_axis(self) -> int:
        self._need_per_channel("q_per_channel_axis")
        return int(self._axis)

    def _need_per_tensor(self, what):
        if self._axis is not None:
            raise RuntimeError(f"{what}: expected a per-tensor quantized tensor, got {self._qscheme}")

    def _need_per_channel(self, what):
        if self._axis is None:
            raise RuntimeError(f"{what}: expected a per-channel quantized tensor, got {self._qscheme}")

    def requires_grad_(self, requires_grad=True):
        if requires_grad:
            raise RuntimeError("quantized tensors do not support gradients: dequantize() first")
        return self

    def detach(self):
        return self

    def __repr__(self):
        body = format_tensor(_wrap(self._data)).rstrip(")")
        if self._axis is None:
            q = f"scale={float(self._scale)}, zero_point={int(self._zero_point)}"
        else:
            scales = ", ".join(f"{float(s):.4g}" for s in np.asarray(self._scale).ravel())
            zps = ", ".join(str(int(z)) for z in np.asarray(self._zero_point).ravel())
            q = f"scale=tensor([{scales}]), zero_point=tensor([{zps}]), axis={self._axis}"
        return (
            f"{body}, size={tuple(self._int.shape)}, dtype=studio.core.{self._qdtype.name},\n"
            f"       quantization_scheme=studio.core.{self._qscheme.name}, {q})"
        )

    # shape changes keep a per-tensor quantization: they move integers, not values
    def _reshaped(self, fn):
        if self._axis is not None:
            return fn(_wrap(self._data))
        return make_quantized(fn(_wrap(self._int))._data, self._qdtype, self._scale, self._zero_point)

    def view(self, *shape):
        return self._reshaped(lambda t: t.view(*shape))

    def reshape(self, *shape):
        return self._reshaped(lambda t: t.reshape(*shape))

    def flatten(self, start_dim=0, end_dim=-1):
        return self._reshaped(lambda t: t.flatten(start_dim, end_dim))

    def squeeze(self, dim=None):
        return self._reshaped(lambda t: t.squeeze(dim))

    def unsqueeze(self, dim):
        return self._reshaped(lambda t: t.unsqueeze(dim))

    def permute(self, *dims):
        return self._reshaped(lambda t: t.permute(*dims))

    def transpose(self, dim0, dim1):
        return self._reshaped(lambda t: t.transpose(dim0, dim1))

    def contiguous(self, memory_format=None):
        return self._reshaped(lambda t: t.contiguous())

    def clone(self, *, memory_format=None):
        return self._reshaped(lambda t: t.clone())

    def __getitem__(self, index):
        return self._reshaped(lambda t: t[index])


def make_quantized(q, qdtype, scale, zero_point, axis=None, scheme=None) -> QuantizedTensor:
    """A QuantizedTensor around the integer array `q` (not copied)."""
    t = _wrap(dequantize_array(q, scale, zero_point, axis), cls=QuantizedTensor)
    t._int = q
    t._qdtype = qdtype
    t._qscheme = scheme or (per_tensor_affine if axis is None else per_channel_affine)
    t._scale = scale
    t._zero_point = zero_point
    t._axis = axis
    return t


def _float_input(input, where):
    if not isinstance(input, Tensor) or isinstance(input, QuantizedTensor):
        raise TypeError(f"{where}: expected a float Tensor, got {type(input).__name__}")
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{where}: expected a floating point tensor, got {input.dtype}")
    return input._data


def quantize_per_tensor(input, scale, zero_point, dtype) -> QuantizedTensor:
    """Quantize `input` with one scale and zero point: q = clamp(round(x / scale) + zero_point)."""
    x = _float_input(input, "quantize_per_tensor")
    check_qdtype(dtype, "quantize_per_tensor")
    scale = float(scale.item() if isinstance(scale, Tensor) else scale)
    zero_point = int(zero_point.item() if isinstance(zero_point, Tensor) else zero_point)
    if not scale > 0:
        raise RuntimeError(f"quantize_per_tensor: scale must be positive, got {scale}")
    return make_quantized(quantize_array(x, scale, zero_point, dtype), dtype, scale, zero_point)


def quantize_per_channel(input, scales, zero_points, axis, dtype) -> QuantizedTensor:
    """Quantize `input` with one scale and zero point per slice along `axis`."""
    x = _float_input(input, "quantize_per_channel")
    check_qdtype(dtype, "quantize_per_channel")
    if not isinstance(axis, numbers.Integral) or not -x.ndim <= axis < x.ndim:
        raise RuntimeError(f"quantize_per_channel: axis {axis} is out of range for a {x.ndim}-d tensor")
    axis = int(axis) % x.ndim
    s = B.to_numpy(scales._data if isinstance(scales, Tensor) else np.asarray(scales)).astype(np.float64)
    z = B.to_numpy(zero_points._data if isinstance(zero_points, Tensor) else np.asarray(zero_points))
    if s.shape != (x.shape[axis],) or z.shape != (x.shape[axis],):
        raise RuntimeError(
            f"quantize_per_channel: expected {x.shape[axis]} scales and zero points (the size of axis "
            f"{axis}), got {s.shape} and {z.shape}"
        )
    z = z.astype(np.int64)
    q = quantize_array(x, s, z, dtype, axis)
    return make_quantized(q, dtype, s, z, axis)


def choose_qparams(min_val, max_val, qmin, qmax, reduce_range=False):
    """Scale and zero point covering [min_val, max_val] (and 0), as fbgemm chooses them at run time."""
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    min_val, max_val = min(float(min_val), 0.0), max(float(max_val), 0.0)
    scale = (max_val - min_val) / (qmax - qmin)
    if np.float32(scale) == 0 or not np.isfinite(np.float32(1.0) / np.float32(scale)):
        scale = 0.1
    small = 6.1e-5  # a smaller scale loses precision in the float requantization
    if scale < small:
        amplifier = small / scale
        scale = small
        if min_val == 0.0:
            max_val = small * (qmax - qmin)
        elif max_val == 0.0:
            min_val = -small * (qmax - qmin)
        else:
            min_val, max_val = min_val * amplifier, max_val * amplifier
    from_min, from_max = qmin - min_val / scale, qmax - max_val / scale
    err_min = abs(qmin) - abs(min_val / scale)
    err_max = abs(qmax) - abs(max_val / scale)
    initial = from_min if err_min < err_max else from_max
    zero_point = qmin if initial < qmin else qmax if initial > qmax else int(np.rint(initial))
    return float(np.float32(scale)), zero_point


def quantize_per_tensor_dynamic(input, dtype, reduce_range) -> QuantizedTensor:
    """Quantize `input` with a scale and zero point chosen from its own range."""
    x = _float_input(input, "quantize_per_tensor_dynamic")
    if dtype not in (B.qint8, B.quint8):
        raise RuntimeError(f"quantize_per_tensor_dynamic: dtype must be qint8 or quint8, got {dtype!r}")
    qmin, qmax = qrange(dtype)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    scale, zero_point = choose_qparams(lo, hi, qmin, qmax, reduce_range)
    return make_quantized(quantize_array(x, scale, zero_point, dtype), dtype, scale, zero_point)
