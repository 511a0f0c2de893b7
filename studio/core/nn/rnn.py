"""Recurrent layers: RNN, LSTM, GRU over whole sequences and their single-step cells.

Each layer and direction runs as one fused op (`studio.core.ops.rnn`) with a hand-written backward
through time. Parameters, their names and their initialisation are PyTorch's, so state dicts move
between the two unchanged.
"""

from __future__ import annotations

import math
import numbers
import warnings

from ..creation import empty, zeros
from ..ops import rnn as _ops
from ..ops.shape import cat, stack
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _positive_int(owner, name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} should be of type int, got: {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{owner}: {name} must be greater than zero. Received: {name}={value}")
    return int(value)


class RNNBase(Module):
    """The machinery shared by RNN, LSTM and GRU: parameters per layer and direction, and the loop.

    Args:
        mode: "RNN_TANH", "RNN_RELU", "LSTM" or "GRU".
        input_size: features of each input step.
        hidden_size: features of the hidden state.
        num_layers: stacked recurrent layers; each takes the previous one's output sequence.
        bias: whether the layers have bias_ih and bias_hh.
        batch_first: input and output are (N, L, H) instead of (L, N, H); hidden states are not affected.
        dropout: dropout on the output of each layer except the last, when training.
        bidirectional: run each layer forwards and backwards and concatenate the two outputs.
    """

    def __init__(
        self,
        mode,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        proj_size=0,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode!r}; expected one of {sorted(_GATES)}")
        name = type(self).__name__
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1:
            raise ValueError(
                "dropout should be a number in range [0, 1] representing the probability of an element "
                f"being zeroed. Received: dropout={dropout!r}"
            )
        hidden_size = _positive_int(name, "hidden_size", hidden_size)
        num_layers = _positive_int(name, "num_layers", num_layers)
        input_size = _positive_int(name, "input_size", input_size, allow_zero=True)
        if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral) or proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable projections, "
                f"got proj_size={proj_size!r}"
            )
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size}, "
                f"hidden_size={hidden_size}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size or hidden_size  # the size of h, which the projection makes smaller
        directions = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else real_hidden * directions
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for pname, shape in shapes:
                    setattr(self, pname + suffix, Parameter(empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(pname + suffix)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as in PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Kept for PyTorch compatibility: parameters are always usable as they are."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        """Per layer and direction, the list [weight_ih, weight_hh, bias_ih, bias_hh, weight_hr] (biases and
        projection if any)."""
        per = self._per_layer
        w = self._flat_weights
        return [w[i : i + per] for i in range(0, len(w), per)]

    @property
    def _per_layer(self) -> int:
        return (4 if self.bias else 2) + (1 if self.proj_size else 0)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s

    # ------------------------------------------------------------------------------------ forward
    def _check_input(self, input):
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D input instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                f"got {input.shape[-1]} (input of shape {tuple(input.shape)})"
            )

    def _check_hidden(self, hx, batch, what):
        directions = 2 if self.bidirectional else 1
        size = self.proj_size if what == "hidden" and self.proj_size else self.hidden_size
        expected = (self.num_layers * directions, batch, size)
        if tuple(hx.shape) != expected:
            raise RuntimeError(
                f"{type(self).__name__}: Expected {what} size {expected}, got {list(hx.shape)}"
            )

    def _prepare(self, input, states):
        """Make input time-major and batched, and states (layers*directions, N, H); None stays None."""
        self._check_input(input)
        batched = input.ndim == 3
        name = type(self).__name__
        if batched:
            x = input.transpose(0, 1) if self.batch_first else input
        else:
            x = input.unsqueeze(1)
            for s in states:
                if s is not None and s.ndim != 2:
                    raise RuntimeError(
                        f"{name}: For unbatched 2-D input, hx should also be 2-D but got {s.ndim}-D tensor"
                    )
        out_states = []
        for s, what in zip(states, ("hidden", "cell")):
            if s is None:
                out_states.append(None)
                continue
            if batched and s.ndim != 3:
                raise RuntimeError(
                    f"{name}: For batched 3-D input, hx should also be 3-D but got {s.ndim}-D tensor"
                )
            s = s if batched else s.unsqueeze(1)
            self._check_hidden(s, x.shape[1], what)
            out_states.append(s)
        return x, batched, out_states

    def _finish(self, output, batched):
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def _run(self, x, states):
        """All layers and directions over time-major x (T, N, I); returns output and final states."""
        directions = 2 if self.bidirectional else 1
        n_states = len(states)
        N = x.shape[1]
        weights = self._flat_weights
        per = self._per_layer
        sizes = [self.proj_size or self.hidden_size, self.hidden_size]  # of h, and of c
        finals = [[] for _ in range(n_states)]
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                w = weights[k * per : (k + 1) * per]
                if not self.bias:
                    w = w[:2] + [None, None] + w[2:]
                init_states = [
                    zeros((N, size), dtype=x.dtype, device=x.device) if s is None else s[k]
                    for s, size in zip(states, sizes)
                ]
                res = self._layer(layer_input, init_states, w, direction == 1)
                outs.append(res[0])
                for i in range(n_states):
                    finals[i].append(res[1 + i])
            layer_input = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, [stack(f, 0) for f in finals]


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked and bidirectional.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as RNNBase.
        nonlinearity: "tanh" (default) or "relu".

    Input shape: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in); h_0
    (D * num_layers, N, H_out) or (D * num_layers, H_out), zeros when not given.
    Output: (output (L, N, D * H_out), h_n (D * num_layers, N, H_out)).
    """

    def __init__(self, *args, **kwargs):
        # PyTorch's positional order: input_size, hidden_size, num_layers, nonlinearity, bias, ...
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)

    def _layer(self, x, states, w, reverse):
        op = _ops.rnn_relu_layer if self.mode == "RNN_RELU" else _ops.rnn_tanh_layer
        return op(x, states[0], *w, reverse=reverse)

    def forward(self, input, hx=None):
        x, batched, (h0,) = self._prepare(input, (hx,))
        output, (h_n,) = self._run(x, [h0])
        return self._finish(output, batched), (h_n if batched else h_n.squeeze(1))


class LSTM(RNNBase):
    """Long short-term memory over sequences, with PyTorch's gates (input, forget, cell, output).

    i, f, g, o = sigma(.), sigma(.), tanh(.), sigma(.) of x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh;
    c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t).

    Args: input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional (as RNNBase).

    Input shape: (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in); (h_0, c_0)
    each (D * num_layers, N, H_out), zeros when not given.
    Output: (output (L, N, D * H_out), (h_n, c_n) each (D * num_layers, N, H_out)).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def _layer(self, x, states, w, reverse):
        if self.proj_size:
            return _projected_lstm_layer(x, states[0], states[1], *w, reverse=reverse)
        return _ops.lstm_layer(x, states[0], states[1], *w, reverse=reverse)

    def forward(self, input, hx=None):
        if hx is None:
            h0 = c0 = None
        else:
            if not isinstance(hx, tuple | list) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0) of two tensors")
            h0, c0 = hx
        x, batched, (h0, c0) = self._prepare(input, (h0, c0))
        if (h0 is None) != (c0 is None):
            raise RuntimeError("LSTM: give both h_0 and c_0, or neither")
        output, (h_n, c_n) = self._run(x, [h0, c0])
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._finish(output, batched), (h_n, c_n)


def _projected_lstm_layer(x, h, c, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=False):
    """One LSTM layer whose hidden state is projected, h_t = (o * tanh(c_t)) W_hr^T, step by step in
    differentiable ops (the fused kernel has no projection). Returns (output, h_n, c_n)."""
    gates_x = F.linear(x, w_ih, b_ih)  # every step's input part at once
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs = [None] * x.shape[0]
    for t in steps:
        gates = gates_x[t] + F.linear(h, w_hh, b_hh)
        i, f, g, o = gates.chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = F.linear(o.sigmoid() * c.tanh(), w_hr)
        outputs[t] = h
    return stack(outputs, 0), h, c


class GRU(RNNBase):
    """Gated recurrent unit over sequences, with PyTorch's gates (reset, update, new).

    r = sigma(W_ir x + b_ir + W_hr h + b_hr), z = sigma(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    Args, input and output shapes: as RNN (without nonlinearity).
    """

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)

    def _layer(self, x, states, w, reverse):
        return _ops.gru_layer(x, states[0], *w, reverse=reverse)

    def forward(self, input, hx=None):
        x, batched, (h0,) = self._prepare(input, (hx,))
        output, (h_n,) = self._run(x, [h0])
        return self._finish(output, batched), (h_n if batched else h_n.squeeze(1))


# -------------------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """One recurrent step: parameters weight_ih, weight_hh, bias_ih, bias_hh (no layer suffix)."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size, allow_zero=True)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        gates = num_chunks * self.hidden_size
        self.weight_ih = Parameter(empty((gates, self.input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((gates, self.hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Check shapes and return the input as a one-step sequence (1, N, I) and states (N, H)."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        N = x.shape[0]
        out = []
        for s in states:
            if s is None:
                out.append(zeros((N, self.hidden_size), dtype=input.dtype, device=input.device))
                continue
            if s.ndim != input.ndim:
                raise RuntimeError(
                    f"{name}: Expected hidden to be {input.ndim}D for {input.ndim}D input, got {s.ndim}D"
                )
            s = s if batched else s.unsqueeze(0)
            if tuple(s.shape) != (N, self.hidden_size):
                raise RuntimeError(
                    f"{name}: hidden has inconsistent shape: got {tuple(s.shape)}, "
                    f"expected {(N, self.hidden_size)}"
                )
            out.append(s)
        return x.unsqueeze(0), batched, out

    @staticmethod
    def _finish(h, batched):
        return h if batched else h.squeeze(0)


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Input (N, H_in) or (H_in); hidden (N, H_out) or (H_out), zeros when not given. Output: h'.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched, (h,) = self._prepare(input, (hx,))
        op = _ops.rnn_relu_layer if self.nonlinearity == "relu" else _ops.rnn_tanh_layer
        _, h_n = op(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish(h_n, batched)


class LSTMCell(RNNCellBase):
    """One LSTM step with PyTorch's gates (i, f, g, o). Returns (h', c').

    Input (N, H_in) or (H_in); hx a tuple (h, c) of (N, H_out) or (H_out), zeros when not given.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        h, c = (None, None) if hx is None else hx
        x, batched, (h, c) = self._prepare(input, (h, c))
        _, h_n, c_n = _ops.lstm_layer(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish(h_n, batched), self._finish(c_n, batched)


class GRUCell(RNNCellBase):
    """One GRU step with PyTorch's gates (r, z, n). Returns h'.

    Input (N, H_in) or (H_in); hidden (N, H_out) or (H_out), zeros when not given.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, batched, (h,) = self._prepare(input, (hx,))
        _, h_n = _ops.gru_layer(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return self._finish(h_n, batched)
