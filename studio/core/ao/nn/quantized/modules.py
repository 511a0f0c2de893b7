"""Statically quantized layers, as `torch.ao.nn.quantized`: quint8 activations in and out, int8 weights.

`convert` makes them from float layers that were observed during calibration (`from_float`). State:
a `_packed_params` child holds the int8 `weight`, its `weight_scale` and `weight_zero_point` (one per
output channel, or one for the tensor) and the float `bias`; the layer's own `scale` and
`zero_point` buffers are its output's quantization. All of it is plain tensors, so a quantized
model's state_dict saves to safetensors at a quarter of the float size.
"""

from __future__ import annotations

import copy

import numpy as np

from .... import backend as B
from ....creation import tensor as _tensor
from ....nn import activation as _act
from ....nn import conv as _conv
from ....nn import dropout as _dropout
from ....nn import linear as _linear
from ....nn import normalization as _norm
from ....nn.module import Module
from ....tensor import Tensor, _wrap
from ...quantized_tensor import QuantizedTensor, make_quantized, quantize_per_tensor
from . import kernels as K

__all__ = [
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "DeQuantize",
    "Dropout",
    "ELU",
    "GroupNorm",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "PackedParams",
    "Quantize",
    "packed_repr",
]


class PackedParams(Module):
    """A quantized weight and its bias as buffers: `weight` (int8, or float16), `weight_scale`,
    `weight_zero_point` (0-d per tensor, 1-d per channel along `axis`) and `bias` (float32 or None)."""

    def __init__(self, packed=None, bias=None):
        super().__init__()
        self.axis = None
        self.qdtype = B.qint8
        if packed is not None:
            self.set(packed, bias)

    def set(self, packed, bias):
        self.axis, self.qdtype = packed.axis, packed.qdtype
        self._buffers["weight"] = _wrap(packed.q)
        if packed.qdtype is B.float16:
            self._buffers["weight_scale"] = self._buffers["weight_zero_point"] = None
        else:
            self._buffers["weight_scale"] = _wrap(np.asarray(packed.scale, np.float32).copy())
            self._buffers["weight_zero_point"] = _wrap(np.asarray(packed.zero_point, np.int32).copy())
        self._buffers["bias"] = None if bias is None else _wrap(_float_array(bias))

    def packed(self) -> K.PackedWeight:
        w = self._buffers["weight"]._data
        if self.qdtype is B.float16:
            return K.PackedWeight(w, None, None, None, B.float16)
        scale = B.to_numpy(self._buffers["weight_scale"]._data)
        zero_point = B.to_numpy(self._buffers["weight_zero_point"]._data)
        if self.axis is None:
            return K.PackedWeight(w, float(scale), int(zero_point), None, self.qdtype)
        return K.PackedWeight(w, scale.astype(np.float64), zero_point, self.axis, self.qdtype)

    def bias_array(self):
        b = self._buffers["bias"]
        return None if b is None else b._data

    def extra_repr(self):
        return f"dtype={self.qdtype}" + ("" if self.axis is None else f", axis={self.axis}")


def _float_array(bias):
    data = bias._data if isinstance(bias, Tensor) else np.asarray(bias)
    return data.astype(np.float32, copy=True)


def packed_repr(module):
    """One line, as PyTorch prints quantized layers: the packed weights are not listed as children."""
    return f"{module._get_name()}({module.extra_repr()})"


class _OutputQParams:
    """`scale` and `zero_point` read as Python numbers (as in PyTorch) but kept as buffers for state_dict."""

    def _init_qparams(self, scale=1.0, zero_point=0):
        self._buffers["scale"] = _tensor(float(scale))
        self._buffers["zero_point"] = _wrap(np.asarray(int(zero_point), np.int64))

    @property
    def scale(self) -> float:
        return float(self._buffers["scale"]._data)

    @scale.setter
    def scale(self, value):
        self._buffers["scale"]._data[...] = float(value)

    @property
    def zero_point(self) -> int:
        return int(self._buffers["zero_point"]._data)

    @zero_point.setter
    def zero_point(self, value):
        self._buffers["zero_point"]._data[...] = int(value)

    def __setattr__(self, name, value):
        if name in ("scale", "zero_point"):
            object.__setattr__(self, name, value)
        else:
            Module.__setattr__(self, name, value)


def output_qparams(mod):
    """The (scale, zero_point) that the observer on `mod`'s output chose, as Python numbers."""
    observer = getattr(mod, "activation_post_process", None)
    if observer is None:
        raise RuntimeError(
            f"{type(mod).__name__} has no observer on its output: run prepare() on the model and calibrate "
            "it before convert()"
        )
    scale, zero_point = observer.calculate_qparams()
    return float(scale._data.ravel()[0]), int(zero_point._data.ravel()[0])


def quantized_weight(mod, weight):
    """Observe and quantize a float weight with the weight observer of `mod`'s qconfig."""
    qconfig = getattr(mod, "qconfig", None)
    if qconfig is None:
        raise RuntimeError(f"{type(mod).__name__} has no qconfig: set model.qconfig before prepare()")
    observer = qconfig.weight()
    observer(weight)
    if observer.dtype is not B.qint8:
        raise RuntimeError(f"Weight observer must have dtype qint8, got {observer.dtype}")
    return K.quantize_weight(weight._data, observer)


def _need_quantized(x, where):
    if not isinstance(x, QuantizedTensor):
        raise RuntimeError(
            f"{where} expects a quantized input (the output of a QuantStub or of another quantized layer), "
            f"got a {type(x).__name__} of {getattr(x, 'dtype', None)}: put a QuantStub before it, and use "
            "modules (nn.ReLU, nn.Flatten) or tensor methods (x.flatten(1)) between quantized layers"
        )
    if x._axis is not None:
        raise RuntimeError(f"{where} expects a per-tensor quantized input, got {x.qscheme()}")


def _weight_repr(module):
    return "" if module._packed_params.axis is None else ", qscheme=studio.core.per_channel_affine"


# ---------------------------------------------------------------------------------------- stubs


class Quantize(Module):
    """Quantizes a float tensor with a fixed scale and zero point (what a calibrated QuantStub becomes)."""

    def __init__(self, scale, zero_point, dtype, factory_kwargs=None):
        super().__init__()
        self.register_buffer("scale", _tensor([float(scale)]))
        self.register_buffer("zero_point", _wrap(np.asarray([int(zero_point)], np.int64)))
        self.dtype = dtype

    def forward(self, X):
        return quantize_per_tensor(X, float(self.scale._data[0]), int(self.zero_point._data[0]), self.dtype)

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        scale, zero_point = output_qparams(mod)
        return cls(scale, zero_point, mod.activation_post_process.dtype)

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}, dtype={self.dtype}"


class DeQuantize(Module):
    """Turns a quantized tensor back into float32 (what a DeQuantStub becomes)."""

    def forward(self, Xq):
        return Xq.dequantize()

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls()


# --------------------------------------------------------------------------------------- linear


class Linear(_OutputQParams, Module):
    """y = x W^T + b on quint8 input with int8 weights; the output is quint8 at `scale`, `zero_point`."""

    _FLOAT_MODULE = (_linear.Linear,)
    _relu = False

    def __init__(self, in_features, out_features, bias_=True, dtype=B.qint8):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        packed = K.PackedWeight(np.zeros((out_features, in_features), np.int8), 1.0, 0, None, dtype)
        self._packed_params = PackedParams(packed, np.zeros(out_features, np.float32) if bias_ else None)
        self._init_qparams()

    __repr__ = packed_repr

    def _get_name(self):
        return "QuantizedLinear" + ("ReLU" if self._relu else "")

    def weight(self) -> QuantizedTensor:
        return K.weight_tensor(self._packed_params.packed())

    def bias(self):
        return self._packed_params.bias

    def set_weight_bias(self, w, b) -> None:
        if not isinstance(w, QuantizedTensor):
            raise TypeError(f"set_weight_bias: expected a quantized weight, got {type(w).__name__}")
        packed = K.PackedWeight(w._int, w._scale, w._zero_point, w._axis, w._qdtype)
        self._packed_params.set(packed, b)

    def forward(self, x):
        _need_quantized(x, self._get_name())
        if not x.shape or x.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{self._get_name()}(in_features={self.in_features}) got input of shape {tuple(x.shape)}"
            )
        pp = self._packed_params
        return K.linear_static(x, pp.packed(), pp.bias_array(), self.scale, self.zero_point, self._relu)

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, scale={self.scale}, "
            f"zero_point={self.zero_point}" + _weight_repr(self)
        )

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        float_mod = mod[0] if cls._relu else mod
        scale, zero_point = output_qparams(mod)
        qlinear = cls(float_mod.in_features, float_mod.out_features, float_mod.bias is not None)
        qlinear._packed_params.set(quantized_weight(mod, float_mod.weight), float_mod.bias)
        qlinear.scale, qlinear.zero_point = scale, zero_point
        return qlinear


# ---------------------------------------------------------------------------------- convolution


class _ConvNd(_OutputQParams, Module):
    """What the quantized convolutions share: the float layer's geometry and packed int8 weights."""

    _n = 2
    _relu = False
    _FLOAT_CONV = _conv.Conv2d

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ):
        super().__init__()
        geometry = self._FLOAT_CONV(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, False, padding_mode
        )
        for name in (
            "in_channels",
            "out_channels",
            "kernel_size",
            "stride",
            "padding",
            "dilation",
            "groups",
            "padding_mode",
            "_reversed_padding_repeated_twice",
        ):
            object.__setattr__(self, name, getattr(geometry, name))
        shape = tuple(geometry.weight.shape)
        packed = K.PackedWeight(np.zeros(shape, np.int8), 1.0, 0, None, B.qint8)
        self._packed_params = PackedParams(packed, np.zeros(out_channels, np.float32) if bias else None)
        self._init_qparams()

    __repr__ = packed_repr

    def _get_name(self):
        return f"QuantizedConv{'ReLU' if self._relu else ''}{self._n}d"

    weight = Linear.weight
    bias = Linear.bias
    set_weight_bias = Linear.set_weight_bias

    def forward(self, input):
        _need_quantized(input, self._get_name())
        if input.ndim != self._n + 2:
            raise ValueError(
                f"{self._get_name()}: expected a batched {self._n + 2}-D input (N, C, ...), got shape "
                f"{tuple(input.shape)}"
            )
        if input.shape[1] != self.in_channels:
            raise RuntimeError(
                f"{self._get_name()}(in_channels={self.in_channels}) got input with {input.shape[1]} channels"
            )
        pp = self._packed_params
        return K.conv_static(input, pp.packed(), pp.bias_array(), self, self._relu)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self._packed_params.bias is None:
            s += ", bias=False"
        return s + f", scale={self.scale}, zero_point={self.zero_point}"

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        conv = mod[0] if cls._relu else mod
        scale, zero_point = output_qparams(mod)
        q = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
            conv.padding_mode,
        )
        q._packed_params.set(quantized_weight(mod, conv.weight), conv.bias)
        q.scale, q.zero_point = scale, zero_point
        return q


class Conv1d(_ConvNd):
    """Quantized 1-D convolution over (N, C, L) quint8 input."""

    _n = 1
    _FLOAT_CONV = _conv.Conv1d


class Conv2d(_ConvNd):
    """Quantized 2-D convolution over (N, C, H, W) quint8 input."""

    _n = 2
    _FLOAT_CONV = _conv.Conv2d


# ------------------------------------------------- layers that compute in float and requantize


class _Requantized(_OutputQParams):
    """A float layer run on the dequantized input, its output quantized at the observed scale.

    The subclasses are the float classes with this mixed in, so they keep their parameters, buffers
    and state_dict keys (plus `scale` and `zero_point`), as PyTorch's quantized versions do.
    """

    _relu = False

    def forward(self, input):
        _need_quantized(input, self._get_name())
        out = super().forward(input.dequantize())
        q = K.requantize(out._data, self.scale, self.zero_point, self._relu)
        return make_quantized(q, B.quint8, self.scale, self.zero_point)

    def _get_name(self):
        return "Quantized" + type(self).__name__

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        inner = mod[0] if cls._relu else mod
        scale, zero_point = output_qparams(mod)
        new = cls.__new__(cls)
        state = copy.copy(inner.__dict__)
        for key in ("_parameters", "_buffers", "_modules", "_forward_hooks", "_forward_pre_hooks"):
            state[key] = type(state[key])(state[key])
        state["_modules"].pop("activation_post_process", None)
        state.pop("qconfig", None)
        new.__dict__.update(state)
        new._forward_hooks.clear()
        new._init_qparams(scale, zero_point)
        return new.eval()


class BatchNorm2d(_Requantized, _norm.BatchNorm2d):
    """Batch normalization (with running statistics) on a quantized (N, C, H, W) tensor."""


class LayerNorm(_Requantized, _norm.LayerNorm):
    """Layer normalization on a quantized tensor."""


class GroupNorm(_Requantized, _norm.GroupNorm):
    """Group normalization on a quantized tensor."""


class ELU(_Requantized, _act.ELU):
    """ELU on a quantized tensor, requantized at the observed output scale."""


class LeakyReLU(_Requantized, _act.LeakyReLU):
    """LeakyReLU on a quantized tensor, requantized at the observed output scale."""


class Dropout(_dropout.Dropout):
    """Dropout in a quantized model: the identity (quantized models run in inference)."""

    def forward(self, input):
        return input

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        return cls(mod.p, mod.inplace)
