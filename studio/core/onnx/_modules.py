"""Converters of whole layers (Linear, Conv2d, LSTM, MultiheadAttention, ...) into ONNX nodes.

Each converter reads the layer's settings and parameters as PyTorch defines them and writes the
same computation in inference form (evaluation mode: dropout is the identity, batch norm uses its
running statistics).
"""

from __future__ import annotations

import math

import numpy as np

from ._graph import Value
from ._registry import _meta, _unsupported, converter


def _pairs(v, n):
    return list(v) if isinstance(v, (tuple, list)) else [v] * n


# ---------------------------------------------------------------------------------------------------
# Core layers
# ---------------------------------------------------------------------------------------------------


def linear(ex, x: Value, w: Value, b: Value | None, shape=None):
    """x W^T + b: Gemm on 2-D inputs, MatMul by W's transpose then Add otherwise.

    The weight keeps its layout and name; onnxruntime folds the Transpose of a constant once.
    """
    g = ex.g
    shape = shape or (*x.shape[:-1], w.shape[0])
    if x.rank == 2:
        inputs = [x, w] + ([b] if b is not None else [])
        return g.op("Gemm", inputs, shape, x.dtype, x.dyn, transB=1)
    y = g.matmul(x, g.transpose(w, (1, 0)))
    return g.binary("Add", y, b) if b is not None else y


@converter("Linear")
def _linear(ex, node, m, path, ins, kw):
    b = ex.leaf(m.bias) if m.bias is not None else None
    return [linear(ex, ins[0], ex.leaf(m.weight), b, _meta(node)[0])]


@converter("Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def _identity(ex, node, m, path, ins, kw):
    return [ins[0]]


@converter("Bilinear")
def _bilinear(ex, node, m, path, ins, kw):
    g = ex.g
    shape, dtype = _meta(node)
    y = g.op(
        "Einsum",
        [ins[0], ex.leaf(m.weight), ins[1]],
        shape,
        dtype,
        ins[0].dyn,
        equation="...i,kij,...j->...k",
    )
    return [g.binary("Add", y, ex.leaf(m.bias)) if m.bias is not None else y]


@converter("Embedding")
def _embedding(ex, node, m, path, ins, kw):
    if m.max_norm is not None:
        raise _unsupported(node, "max_norm renormalises the table during the lookup")
    ids = ins[0]
    shape, dtype = _meta(node)
    return [ex.g.op("Gather", [ex.leaf(m.weight), ids], shape, dtype, ids.dyn, axis=0)]


@converter("Flatten")
def _flatten(ex, node, m, path, ins, kw):
    x = ins[0]
    shape = _meta(node)[0]
    if x.rank > 1 and m.start_dim % x.rank == 1 and m.end_dim % x.rank == x.rank - 1:
        return [ex.g.op("Flatten", [x], shape, x.dtype, {0: x.dyn[0]} if 0 in x.dyn else {}, axis=1)]
    return [ex.g.reshape(x, shape)]


# ---------------------------------------------------------------------------------------------------
# Convolution and pooling
# ---------------------------------------------------------------------------------------------------


def _conv_pads(m, nd, x: Value):
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return [0] * (2 * nd)
        dil, k = _pairs(m.dilation, nd), _pairs(m.kernel_size, nd)
        total = [d * (kk - 1) for d, kk in zip(dil, k)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    p = _pairs(m.padding, nd)
    return p + p


@converter("Conv1d", "Conv2d", "Conv3d")
def _conv(ex, node, m, path, ins, kw):
    if m.padding_mode != "zeros":
        raise _unsupported(node, f"padding_mode={m.padding_mode!r} (only 'zeros' is exported)")
    nd = m.weight.ndim - 2
    x = ins[0]
    shape, dtype = _meta(node)
    inputs = [x, ex.leaf(m.weight)] + ([ex.leaf(m.bias)] if m.bias is not None else [])
    return [
        ex.g.op(
            "Conv",
            inputs,
            shape,
            dtype,
            {0: x.dyn[0]} if 0 in x.dyn else {},
            kernel_shape=_pairs(m.kernel_size, nd),
            strides=_pairs(m.stride, nd),
            pads=_conv_pads(m, nd, x),
            dilations=_pairs(m.dilation, nd),
            group=m.groups,
        )
    ]


@converter("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def _conv_transpose(ex, node, m, path, ins, kw):
    if kw.get("output_size") is not None or (len(node.args) > 1 and node.args[1] is not None):
        raise _unsupported(node, "an explicit output_size argument")
    nd = m.weight.ndim - 2
    x = ins[0]
    shape, dtype = _meta(node)
    p = _pairs(m.padding, nd)
    inputs = [x, ex.leaf(m.weight)] + ([ex.leaf(m.bias)] if m.bias is not None else [])
    return [
        ex.g.op(
            "ConvTranspose",
            inputs,
            shape,
            dtype,
            {0: x.dyn[0]} if 0 in x.dyn else {},
            kernel_shape=_pairs(m.kernel_size, nd),
            strides=_pairs(m.stride, nd),
            pads=p + p,
            dilations=_pairs(m.dilation, nd),
            group=m.groups,
            output_padding=_pairs(m.output_padding, nd),
        )
    ]


def _pool_nd(m, x: Value):
    return x.rank - 2


@converter("MaxPool1d", "MaxPool2d", "MaxPool3d")
def _maxpool(ex, node, m, path, ins, kw):
    if m.return_indices:
        raise _unsupported(node, "return_indices=True")
    x = ins[0]
    nd = _pool_nd(m, x)
    shape, dtype = _meta(node)
    p = _pairs(m.padding, nd)
    return [
        ex.g.op(
            "MaxPool",
            [x],
            shape,
            dtype,
            x.dyn,
            kernel_shape=_pairs(m.kernel_size, nd),
            strides=_pairs(m.stride, nd),
            pads=p + p,
            dilations=_pairs(m.dilation, nd),
            ceil_mode=int(m.ceil_mode),
        )
    ]


@converter("AvgPool1d", "AvgPool2d", "AvgPool3d")
def _avgpool(ex, node, m, path, ins, kw):
    if getattr(m, "divisor_override", None) is not None:
        raise _unsupported(node, "divisor_override")
    x = ins[0]
    nd = _pool_nd(m, x)
    shape, dtype = _meta(node)
    p = _pairs(m.padding, nd)
    return [
        ex.g.op(
            "AveragePool",
            [x],
            shape,
            dtype,
            x.dyn,
            kernel_shape=_pairs(m.kernel_size, nd),
            strides=_pairs(m.stride, nd),
            pads=p + p,
            ceil_mode=int(m.ceil_mode),
            count_include_pad=int(m.count_include_pad),
        )
    ]


@converter("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d")
def _adaptive_avgpool(ex, node, m, path, ins, kw):
    x = ins[0]
    shape, dtype = _meta(node)
    sizes_in, sizes_out = x.shape[2:], shape[2:]
    if all(o == 1 for o in sizes_out):
        return [ex.g.op("GlobalAveragePool", [x], shape, dtype, x.dyn)]
    if any(i % o for i, o in zip(sizes_in, sizes_out)):
        return [_adaptive_by_matmul(ex, x, sizes_in, sizes_out)]
    k = [i // o for i, o in zip(sizes_in, sizes_out)]
    return [ex.g.op("AveragePool", [x], shape, dtype, x.dyn, kernel_shape=k, strides=k)]


def _averaging_matrix(n_in: int, n_out: int, dtype) -> np.ndarray:
    """(n_out, n_in): row i averages PyTorch's adaptive window [floor(i n/o), ceil((i+1) n/o))."""
    a = np.zeros((n_out, n_in), dtype)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _adaptive_by_matmul(ex, x: Value, sizes_in, sizes_out) -> Value:
    """Adaptive average pooling whose windows overlap or differ in size: one matrix product per axis."""
    g = ex.g
    nd = len(sizes_in)
    for axis in range(nd):
        a = _averaging_matrix(sizes_in[axis], sizes_out[axis], x.dtype)
        if axis == nd - 1:
            x = g.matmul(x, g.const(a.T))
        else:  # pool an inner axis: bring it last, pool, put it back
            perm = list(range(x.rank))
            perm[2 + axis], perm[-1] = perm[-1], perm[2 + axis]
            x = g.transpose(g.matmul(g.transpose(x, perm), g.const(a.T)), perm)
    return x


# ---------------------------------------------------------------------------------------------------
# Normalization
# ---------------------------------------------------------------------------------------------------


def _affine_or(ex, m, attr, n, fill, dtype):
    t = getattr(m, attr, None)
    return ex.leaf(t) if t is not None else ex.g.const(np.full(n, fill, dtype))


@converter("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def _batchnorm(ex, node, m, path, ins, kw):
    x = ins[0]
    c = m.num_features
    scale = _affine_or(ex, m, "weight", c, 1.0, x.dtype)
    bias = _affine_or(ex, m, "bias", c, 0.0, x.dtype)
    if m.running_mean is None:
        return [_batchnorm_batch_stats(ex, x, scale, bias, m.eps)]
    return [
        ex.g.op(
            "BatchNormalization",
            [x, scale, bias, ex.leaf(m.running_mean), ex.leaf(m.running_var)],
            x.shape,
            x.dtype,
            x.dyn,
            epsilon=float(m.eps),
        )
    ]


def _channel_shaped(ex, v: Value, rank: int) -> Value:
    return ex.g.reshape(v, (v.shape[0],) + (1,) * (rank - 2)) if rank > 2 else v


def _batchnorm_batch_stats(ex, x, scale, bias, eps):
    """Batch norm without running statistics normalises by the batch's own mean and variance."""
    g = ex.g
    axes = [0] + list(range(2, x.rank))
    mean = g.reduce("ReduceMean", x, axes, True)
    d = g.binary("Sub", x, mean)
    var = g.reduce("ReduceMean", g.binary("Mul", d, d), axes, True)
    y = g.binary("Div", d, g.same("Sqrt", g.binary("Add", var, g.scalar(eps, x))))
    y = g.binary("Mul", y, _channel_shaped(ex, scale, x.rank))
    return g.binary("Add", y, _channel_shaped(ex, bias, x.rank))


@converter("LayerNorm")
def _layernorm(ex, node, m, path, ins, kw):
    x = ins[0]
    n = len(m.normalized_shape)
    shape = tuple(m.normalized_shape)
    scale = ex.leaf(m.weight) if m.weight is not None else ex.g.const(np.ones(shape, x.dtype))
    inputs = [x, scale] + ([ex.leaf(m.bias)] if getattr(m, "bias", None) is not None else [])
    return [ex.g.op("LayerNormalization", inputs, x.shape, x.dtype, x.dyn, axis=-n, epsilon=float(m.eps))]


@converter("GroupNorm")
def _groupnorm(ex, node, m, path, ins, kw):
    """(N, C, *) -> (N, G, rest): normalise over the last axis, then back and per-channel affine."""
    g = ex.g
    x = ins[0]
    n, c = x.shape[0], x.shape[1]
    grouped = g.reshape(x, (n, m.num_groups, math.prod(x.shape[1:]) // m.num_groups))
    mean = g.reduce("ReduceMean", grouped, [2], True)
    d = g.binary("Sub", grouped, mean)
    var = g.reduce("ReduceMean", g.binary("Mul", d, d), [2], True)
    y = g.binary("Div", d, g.same("Sqrt", g.binary("Add", var, g.scalar(m.eps, x))))
    y = g.reshape(y, x.shape)
    if m.affine:
        y = g.binary("Mul", y, _channel_shaped(ex, ex.leaf(m.weight), x.rank))
        y = g.binary("Add", y, _channel_shaped(ex, ex.leaf(m.bias), x.rank))
    del c
    return [y]


# ---------------------------------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------------------------------


def gelu(ex, x: Value, approximate: str) -> Value:
    g = ex.g
    if ex.opset >= 20:
        return g.same("Gelu", x, approximate=approximate)
    half = g.binary("Mul", x, g.scalar(0.5, x))
    if approximate == "tanh":
        cube = g.binary("Mul", g.binary("Mul", x, x), x)
        inner = g.binary("Add", x, g.binary("Mul", cube, g.scalar(0.044715, x)))
        t = g.same("Tanh", g.binary("Mul", inner, g.scalar(math.sqrt(2 / math.pi), x)))
    else:
        t = g.same("Erf", g.binary("Mul", x, g.scalar(1 / math.sqrt(2), x)))
    return g.binary("Mul", half, g.binary("Add", t, g.scalar(1.0, x)))


def softplus(ex, x: Value, beta: float, threshold: float) -> Value:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as PyTorch)."""
    g = ex.g
    bx = g.binary("Mul", x, g.scalar(beta, x)) if beta != 1 else x
    soft = g.same("Softplus", bx)
    if beta != 1:
        soft = g.binary("Div", soft, g.scalar(beta, x))
    big = g.binary("Greater", bx, g.scalar(threshold, x))
    return g.op("Where", [big, x, soft], x.shape, x.dtype, x.dyn)


def silu(ex, x: Value) -> Value:
    return ex.g.binary("Mul", x, ex.g.same("Sigmoid", x))


_SIMPLE = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softsign": "Softsign"}


@converter(*_SIMPLE)
def _simple_activation(ex, node, m, path, ins, kw):
    name = next(c.__name__ for c in type(m).__mro__ if c.__name__ in _SIMPLE)
    return [ex.g.same(_SIMPLE[name], ins[0])]


@converter("LeakyReLU")
def _leaky_relu(ex, node, m, path, ins, kw):
    return [ex.g.same("LeakyRelu", ins[0], alpha=float(m.negative_slope))]


@converter("ELU")
def _elu(ex, node, m, path, ins, kw):
    return [ex.g.same("Elu", ins[0], alpha=float(m.alpha))]


@converter("GELU")
def _gelu(ex, node, m, path, ins, kw):
    return [gelu(ex, ins[0], m.approximate)]


@converter("SiLU")
def _silu(ex, node, m, path, ins, kw):
    return [silu(ex, ins[0])]


@converter("Softplus")
def _softplus(ex, node, m, path, ins, kw):
    return [softplus(ex, ins[0], float(m.beta), float(m.threshold))]


def _softmax_dim(m, x: Value):
    if m.dim is None:  # PyTorch's legacy choice for an implicit dim
        return 0 if x.rank in (0, 1, 3) else 1
    return m.dim


@converter("Softmax")
def _softmax(ex, node, m, path, ins, kw):
    return [ex.g.same("Softmax", ins[0], axis=_softmax_dim(m, ins[0]))]


@converter("LogSoftmax")
def _log_softmax(ex, node, m, path, ins, kw):
    return [ex.g.same("LogSoftmax", ins[0], axis=_softmax_dim(m, ins[0]))]
