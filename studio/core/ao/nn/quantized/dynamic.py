"""Dynamically quantized layers, as `torch.ao.nn.quantized.dynamic`: int8 (or float16) weights, float
activations in and out; each product quantizes its input at run time from the input's own range.

`quantize_dynamic` makes them from float Linear, LSTM and GRU layers. They run inference only.
The recurrent layers project the whole input sequence in one product and the hidden state once per
step, as PyTorch's CPU kernels do, so their outputs match PyTorch's to float rounding.
"""

from __future__ import annotations

import numpy as np

from .... import backend as B
from ....nn import linear as _linear
from ....nn import rnn as _rnn
from ....nn.module import Module
from ....tensor import Tensor, _wrap
from ...quantized_tensor import QuantizedTensor
from . import kernels as K
from .modules import PackedParams, packed_repr

__all__ = ["GRU", "LSTM", "Linear"]


def _weight_dtype(mod):
    qconfig = getattr(mod, "qconfig", None)
    if qconfig is None:
        raise RuntimeError(
            f"{type(mod).__name__} has no qconfig: quantize_dynamic sets one for the listed types"
        )
    return qconfig.weight().dtype


def pack_weight(mod, weight, bias):
    """The weight of `mod` (a float Parameter) packed for the dynamic kernels, with its bias."""
    observer = mod.qconfig.weight()
    if observer.dtype is B.float16:
        packed = K.PackedWeight(weight._data.astype(np.float16), None, None, None, B.float16)
    elif observer.dtype is B.qint8:
        observer(weight)
        packed = K.quantize_weight(weight._data, observer)
    else:
        raise RuntimeError(
            f"dynamic quantization supports qint8 and float16 weights, got dtype {observer.dtype} for "
            f"{type(mod).__name__}"
        )
    return PackedParams(packed, bias)


def _float_input(x, where):
    if not isinstance(x, Tensor) or isinstance(x, QuantizedTensor):
        raise TypeError(f"{where} expects a float Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"{where} expects a floating point input, got {x.dtype}")
    return x._data.astype(np.float32, copy=False)


class Linear(Module):
    """y = x W^T + b with W stored as int8 (per tensor or per channel) or float16; x and y are float."""

    _relu = False

    def __init__(self, in_features, out_features, bias_=True, dtype=B.qint8):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        if dtype is B.float16:
            packed = K.PackedWeight(
                np.zeros((out_features, in_features), np.float16), None, None, None, dtype
            )
        else:
            packed = K.PackedWeight(np.zeros((out_features, in_features), np.int8), 1.0, 0, None, dtype)
        self._packed_params = PackedParams(packed, np.zeros(out_features, np.float32) if bias_ else None)

    __repr__ = packed_repr

    def _get_name(self):
        return "DynamicQuantizedLinear" + ("ReLU" if self._relu else "")

    def weight(self):
        packed = self._packed_params.packed()
        if packed.qdtype is B.float16:
            return _wrap(packed.q.astype(np.float32))
        return K.weight_tensor(packed)

    def bias(self):
        return self._packed_params.bias

    def forward(self, x):
        data = _float_input(x, self._get_name())
        if not data.shape or data.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{self._get_name()}(in_features={self.in_features}) got input of shape {tuple(data.shape)}"
            )
        pp = self._packed_params
        out = K.linear_dynamic(data, pp.packed(), pp.bias_array())
        if self._relu:
            out = B.array_module(out).maximum(out, np.float32(0))
        return _wrap(out)

    def extra_repr(self):
        pp = self._packed_params
        s = f"in_features={self.in_features}, out_features={self.out_features}, dtype={pp.qdtype}"
        if pp.qdtype is not B.float16:
            scheme = "per_tensor_affine" if pp.axis is None else "per_channel_affine"
            s += f", qscheme=studio.core.{scheme}"
        return s

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        float_mod = mod[0] if cls._relu else mod
        if not isinstance(float_mod, _linear.Linear):
            raise TypeError(f"{cls.__name__}.from_float expects a Linear, got {type(float_mod).__name__}")
        dtype = _weight_dtype(mod)
        q = cls(float_mod.in_features, float_mod.out_features, float_mod.bias is not None, dtype)
        q._packed_params = pack_weight(mod, float_mod.weight, float_mod.bias)
        return q


# ---------------------------------------------------------------------------------- recurrent


def _sigmoid(xp, z):
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for very negative z: the result is 0
        return 1 / (1 + xp.exp(-z))


def _lstm_step(xp, g, h, c):
    H = h.shape[1]
    i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
    c = _sigmoid(xp, f) * c + _sigmoid(xp, i) * xp.tanh(gg)
    return _sigmoid(xp, o) * xp.tanh(c), c


def _gru_step(xp, gi, gh, h):
    H = h.shape[1]
    r = _sigmoid(xp, gi[:, :H] + gh[:, :H])
    z = _sigmoid(xp, gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = xp.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    return (1 - z) * n + z * h


class _RNNBase(Module):
    """Weights per layer and direction, packed in children `ih_l{k}[_reverse]` and `hh_l{k}[_reverse]`."""

    _MODE = "LSTM"
    _GATES = 4

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        dtype=B.qint8,
    ):
        super().__init__()
        self.mode = self._MODE
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        self.dtype = dtype
        directions = 2 if bidirectional else 1
        gates = self._GATES * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for d in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                for kind, cols in (("ih", layer_input), ("hh", hidden_size)):
                    w = np.zeros((gates, cols), np.float16 if dtype is B.float16 else np.int8)
                    packed = K.PackedWeight(w, None if dtype is B.float16 else 1.0, 0, None, dtype)
                    b = np.zeros(gates, np.float32) if bias else None
                    self.add_module(kind + suffix, PackedParams(packed, b))

    __repr__ = packed_repr

    def _get_name(self):
        return "DynamicQuantized" + self._MODE

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    @classmethod
    def from_float(cls, mod, use_precomputed_fake_quant=False):
        if not isinstance(mod, _rnn.RNNBase) or mod.mode != cls._MODE:
            raise TypeError(f"{cls.__name__}.from_float expects an nn.{cls._MODE}, got {type(mod).__name__}")
        if getattr(mod, "proj_size", 0):
            raise RuntimeError(f"dynamic quantization of an {cls._MODE} with proj_size is not supported")
        q = cls(
            mod.input_size,
            mod.hidden_size,
            mod.num_layers,
            mod.bias,
            mod.batch_first,
            mod.dropout,
            mod.bidirectional,
            _weight_dtype(mod),
        )
        for name in list(q._modules):
            kind, suffix = name[:2], name[2:]
            weight = getattr(mod, f"weight_{kind}{suffix}")
            bias = getattr(mod, f"bias_{kind}{suffix}") if mod.bias else None
            q._modules[name] = pack_weight(mod, weight, bias)
        return q

    def _layer(self, x, states, ih, hh, reverse):
        """One layer in one direction over time-major x (T, N, I): outputs (T, N, H) and final states."""
        T, N, _ = x.shape
        xp = B.array_module(x)
        gi = K.linear_dynamic(x.reshape(T * N, -1), ih.packed(), ih.bias_array()).reshape(T, N, -1)
        w_hh, b_hh = hh.packed(), hh.bias_array()
        out = xp.empty((T, N, self.hidden_size), np.float32)
        h, c = states[0], states[-1]
        for t in range(T - 1, -1, -1) if reverse else range(T):
            gh = K.linear_dynamic(h, w_hh, b_hh)
            if self._MODE == "LSTM":
                h, c = _lstm_step(xp, gi[t] + gh, h, c)
            else:
                h = _gru_step(xp, gi[t], gh, h)
            out[t] = h
        return out, (h, c) if self._MODE == "LSTM" else (h,)

    def _states(self, hx, x, batched):
        """Initial states as a list (one array per state kind) of (layers * directions, N, H)."""
        shape = (self.num_layers * (2 if self.bidirectional else 1), x.shape[1], self.hidden_size)
        kinds = 2 if self._MODE == "LSTM" else 1
        if hx is None:
            return [B.array_module(x).zeros(shape, np.float32) for _ in range(kinds)]
        given = list(hx) if kinds == 2 else [hx]
        if len(given) != kinds:
            raise RuntimeError(f"{self._get_name()}: expected hx to hold {kinds} tensors, got {len(given)}")
        arrays = [_float_input(s, self._get_name()) for s in given]
        arrays = [a if batched else a[:, None, :] for a in arrays]
        for a in arrays:
            if a.shape != shape:
                raise RuntimeError(f"{self._get_name()}: expected hidden size {shape}, got {tuple(a.shape)}")
        return arrays

    def forward(self, input, hx=None):
        x = _float_input(input, self._get_name())
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{self._get_name()}: expected input of shape (L, N, {self.input_size}) (or batch first, or "
                f"unbatched), got {tuple(x.shape)}"
            )
        batched = x.ndim == 3
        x = (x.transpose(1, 0, 2) if self.batch_first else x) if batched else x[:, None, :]
        states = self._states(hx, x, batched)
        xp = B.array_module(x)
        directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            outs = []
            for d in range(directions):
                k = layer * directions + d
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                out, last = self._layer(
                    x,
                    [s[k] for s in states],
                    self._modules["ih" + suffix],
                    self._modules["hh" + suffix],
                    d == 1,
                )
                outs.append(out)
                for i, s in enumerate(last):
                    finals[i].append(s)
            x = outs[0] if directions == 1 else xp.concatenate(outs, axis=2)
        output = (x.transpose(1, 0, 2) if self.batch_first else x) if batched else x[:, 0, :]
        h = [xp.stack(f) if batched else xp.stack(f)[:, 0, :] for f in finals]
        hidden = (_wrap(h[0]), _wrap(h[1])) if self._MODE == "LSTM" else _wrap(h[0])
        return _wrap(xp.ascontiguousarray(output)), hidden


class LSTM(_RNNBase):
    """An LSTM with int8 (or float16) weights, PyTorch's gate order (i, f, g, o); inference only."""

    _MODE = "LSTM"
    _GATES = 4


class GRU(_RNNBase):
    """A GRU with int8 (or float16) weights, PyTorch's gate order (r, z, n); inference only."""

    _MODE = "GRU"
    _GATES = 3
