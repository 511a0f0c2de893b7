"""Activations: relu and its family, sigmoid-based units, gelu, softplus, softmax and log-softmax.

Each is one node with a hand-written backward; `inplace=True` writes the result into the input.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as B
from .._arrays import astype, wrap_dim
from ..amp.autocast_mode import FP32, FP32_UNLESS_DTYPE, LOWER, autocast_op
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor
from . import _kernels as K
from .elementwise import inplace, inplace_from_output, neg, sigmoid, tanh

_xp = B.array_module

__all__ = [
    "celu",
    "elu",
    "gelu",
    "glu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "logsigmoid",
    "mish",
    "prelu",
    "relu",
    "relu6",
    "selu",
    "sigmoid",
    "silu",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "tanh",
]


def _float(x):
    return x if x.dtype.kind == "f" else x.astype(B.get_default_dtype().np)


# xp.where on large arrays is several times slower than arithmetic with a 0/1 mask, so the
# piecewise functions below blend their branches with masks instead.


def _mask(cond, dtype):
    """A 0/1 array of `dtype` from a boolean condition (a 0/1 tensor in a recorded backward)."""
    return cond.astype(dtype) if type(cond) is np.ndarray else astype(cond, dtype)


def _sigmoid(x):
    """1 / (1 + exp(-x)), computed from exp(-|x|) so that it never overflows."""
    xp = _xp(x)
    e = xp.exp(-xp.abs(x))
    num = e + _mask(x >= 0, x.dtype) * (1.0 - e)  # 1 for x >= 0, exp(x) below
    return num / (1.0 + e)


class ReluBackward0(Node):
    __slots__ = ()
    saved_roles = (None,)  # the output only says where the input was positive

    def backward(self, g):
        (out,) = self.saved
        if K.usable(g, out) and g.shape == out.shape:
            gx = B.numpy.empty_like(g)
            if K.call("relu_bwd", g, out, gx):
                return (gx,)
        return (g * _mask(out > 0, out.dtype),)


def relu(input, inplace=False):
    """max(x, 0)."""
    if inplace:
        done = inplace_from_output(input, lambda x: _xp(x).maximum(x, 0, out=x), ReluBackward0())
        return done if done is not None else _inplace(input, relu)
    x = input._data
    out = None
    if K.usable(x):
        out = B.numpy.empty_like(x)
        if not K.call("relu_fwd", x, out):
            out = None
    if out is None:
        out = _xp(x).maximum(x, x.dtype.type(0))
    if grad_mode._enabled and input._rg:  # needs_grad inlined: a hot op
        node = ReluBackward0()
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


def _softmax_dtype(x, dtype):
    if dtype is not None:
        x = x.astype(B.as_dtype(dtype).np)
    if x.dtype.kind != "f":
        x = x.astype(B.get_default_dtype().np)
    return x


class SoftmaxBackward0(Node):
    __slots__ = ("axis",)
    saved_roles = ("out",)

    def backward(self, g):
        (out,) = self.saved
        gy = g * out
        return (gy - out * gy.sum(axis=self.axis, keepdims=True),)


@autocast_op(cuda=FP32_UNLESS_DTYPE)
def softmax(input, dim=None, dtype=None):
    x = _softmax_dtype(input._data, dtype)
    axis = wrap_dim(dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1), x.ndim, "softmax")
    xp = _xp(x)
    if x.ndim == 0:
        out = xp.ones_like(x)
    else:
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
    if needs_grad(input):
        node = SoftmaxBackward0()
        node.axis = axis if x.ndim else None
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


class LogSoftmaxBackward0(Node):
    __slots__ = ("axis",)
    saved_roles = ("out",)

    def backward(self, g):
        (out,) = self.saved
        xp = _xp(g)
        return (g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True),)


@autocast_op(cuda=FP32_UNLESS_DTYPE)
def log_softmax(input, dim=None, dtype=None):
    x = _softmax_dtype(input._data, dtype)
    axis = wrap_dim(dim if dim is not None else (0 if x.ndim in (0, 1, 3) else 1), x.ndim, "log_softmax")
    xp = _xp(x)
    if x.ndim == 0:
        out = xp.zeros_like(x)
    else:
        shifted = x - x.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
    if needs_grad(input):
        node = LogSoftmaxBackward0()
        node.axis = axis if x.ndim else None
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


def _inplace(input, fn, *args):
    return inplace(input, fn, *args)


# ------------------------------------------------------------------------------ piecewise linear


class LeakyReluBackward0(Node):
    __slots__ = ()
    saved_roles = (None,)  # the local slope

    def backward(self, g):
        (slope,) = self.saved
        return (g * slope,)


class LeakyReluInplaceBackward0(Node):
    """From the output: positive where the input was (the slope is not negative)."""

    __slots__ = ("negative_slope",)

    def backward(self, g):
        (out,) = self.saved
        slope = _mask(out > 0, g.dtype)
        slope *= g.dtype.type(1 - self.negative_slope)
        slope += g.dtype.type(self.negative_slope)
        return (g * slope,)


def _leaky_relu_(x, negative_slope):
    B.scale_where(x, negative_slope, x < 0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x for x > 0, negative_slope * x otherwise."""
    if inplace:
        if negative_slope < 0 and needs_grad(input):
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
                "supported. This is caused by calling in-place forward function with a negative slope, "
                "please call out-of-place version instead."
            )
        node = LeakyReluInplaceBackward0()
        node.negative_slope = negative_slope
        done = inplace_from_output(input, lambda x: _leaky_relu_(x, negative_slope), node)
        return done if done is not None else _inplace(input, leaky_relu, negative_slope)
    x = _float(input._data)
    # the local slope, 1 or negative_slope, is both the forward factor and the derivative
    slope = _mask(x > 0, x.dtype)
    slope *= x.dtype.type(1 - negative_slope)
    slope += x.dtype.type(negative_slope)
    out = x * slope
    if needs_grad(input):
        node = LeakyReluBackward0()
        record(node, (input,), (slope,))
        return _result(out, node)
    return _result(out)


class HardtanhBackward0(Node):
    __slots__ = ()
    saved_roles = (None,)

    def backward(self, g):
        (mask,) = self.saved
        return (g * mask,)


class HardtanhInplaceBackward0(Node):
    """From the output: the gradient passes where it is strictly inside (min_val, max_val)."""

    __slots__ = ("min_val", "max_val")

    def backward(self, g):
        (out,) = self.saved
        return (g * ((out > self.min_val) & (out < self.max_val)).astype(g.dtype),)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clipped to [min_val, max_val]; the gradient is zero outside the open interval."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val, got min_val={min_val}, max_val={max_val}"
        )
    if inplace:
        node = HardtanhInplaceBackward0()
        node.min_val, node.max_val = min_val, max_val
        done = inplace_from_output(input, lambda x: _xp(x).clip(x, min_val, max_val, out=x), node)
        return done if done is not None else _inplace(input, hardtanh, min_val, max_val)
    x = input._data
    xp = _xp(x)
    out = xp.clip(x, min_val, max_val).astype(x.dtype, copy=False)
    if needs_grad(input):
        node = HardtanhBackward0()
        record(node, (input,), (((x > min_val) & (x < max_val)).astype(x.dtype),))
        return _result(out, node)
    return _result(out)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


# ---------------------------------------------------------------------------- exponential units


class EluBackward0(Node):
    __slots__ = ("alpha",)
    saved_roles = (None, "out")

    def backward(self, g):
        x, out = self.saved
        pos = _mask(x > 0, x.dtype)
        d = out + self.alpha  # the derivative alpha * exp(x) where x <= 0
        d -= pos * (d - 1)
        return (g * d,)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    if inplace:
        return _inplace(input, elu, alpha)
    x = _float(input._data)
    xp = _xp(x)
    out = xp.maximum(x, 0) + x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0))
    if needs_grad(input):
        node = EluBackward0()
        node.alpha = alpha
        record(node, (input,), (x, out))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


class SiluBackward0(Node):
    __slots__ = ()
    saved_roles = (0,)

    def backward(self, g):
        (x,) = self.saved
        s = _sigmoid(x)
        return (g * s * (1 + x * (1 - s)),)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    if inplace:
        return _inplace(input, silu)
    x = _float(input._data)
    out = x * _sigmoid(x)
    if needs_grad(input):
        node = SiluBackward0()
        record(node, (input,), (x,))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


class SoftplusBackward0(Node):
    __slots__ = ("beta", "threshold")
    saved_roles = (0,)

    def backward(self, g):
        (x,) = self.saved
        bx = x * self.beta
        s = _sigmoid(bx)
        s += _mask(bx > self.threshold, x.dtype) * (1 - s)  # linear above the threshold
        return (g * s,)


@autocast_op(cuda=FP32)
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    x = _float(input._data)
    xp = _xp(x)
    bx = x * x.dtype.type(beta)
    # log1p(exp(-|z|)) + max(z, 0) never overflows
    soft = (xp.log1p(xp.exp(-xp.abs(bx))) + xp.maximum(bx, 0)) / x.dtype.type(beta)
    out = soft + _mask(bx > threshold, x.dtype) * (x - soft)
    if needs_grad(input):
        node = SoftplusBackward0()
        node.beta, node.threshold = beta, threshold
        record(node, (input,), (x,))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


# ------------------------------------------------------------------------------------------ gelu

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)


def _erfc(x):
    """erfc on arrays: double precision for float64 (series and continued fraction), else a
    Chebyshev fit (Numerical Recipes' erfcc) with relative error below 1.2e-7 in the working type."""
    xp = _xp(x)
    a = xp.abs(x)
    if x.dtype != xp.float64:
        t = 1 / (1 + x.dtype.type(0.5) * a)
        poly = -1.26551223 + t * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
        ans = (t * xp.exp(-a * a + poly)).astype(x.dtype, copy=False)
        return ans + _mask(x < 0, x.dtype) * (2 - 2 * ans)
    out = xp.empty_like(x)
    small = a < 2.5
    zs = x[small]
    # Taylor series of erf: the terms peak near n = x^2, so 64 terms reach double precision below 2.5
    term = zs.copy()
    total = zs.copy()
    z2 = zs * zs
    for n in range(1, 64):
        term = term * (-z2) / n
        total += term / (2 * n + 1)
    out[small] = 1 - 2 * _INV_SQRT_PI * total
    big = ~small
    ab = a[big]
    # Laplace's continued fraction for erfc, evaluated from its tail
    frac = ab.copy()
    for k in range(60, 0, -1):
        frac = ab + (k / 2) / frac
    val = xp.exp(-ab * ab) * _INV_SQRT_PI / frac
    out[big] = xp.where(x[big] > 0, val, 2 - val)
    return out


class NormalCdfBackward0(Node):
    """Phi, the standard normal CDF, as an op: what a recorded exact GELU backward differentiates."""

    __slots__ = ()
    saved_roles = (0,)

    def backward(self, g):
        (x,) = self.saved
        return (g * (_xp(x).exp(-0.5 * x * x) * _INV_SQRT_2PI),)


def _normal_cdf(x):
    """Phi(x) of an array; of a tensor (in a recorded backward) as a differentiable op."""
    if not isinstance(x, Tensor):
        return 0.5 * _erfc(-x * x.dtype.type(_SQRT_HALF))
    out = _normal_cdf(x._data)
    if needs_grad(x):
        return _result(out, record(NormalCdfBackward0(), (x,), (x._data,)))
    return _result(out)


class GeluBackward0(Node):
    __slots__ = ("approximate",)
    saved_roles = (0,)

    def backward(self, g):
        (x,) = self.saved
        xp = _xp(x)
        if self.approximate == "tanh":
            inner = _TANH_C * (x + 0.044715 * x * x * x)
            th = xp.tanh(inner)
            d_inner = _TANH_C * (1 + (3 * 0.044715) * x * x)
            return (g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * d_inner),)
        pdf = xp.exp(-0.5 * x * x) * _INV_SQRT_2PI
        return (g * (_normal_cdf(x) + x * pdf),)


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF (exact, via erf) or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    x = _float(input._data)
    xp = _xp(x)
    if approximate == "tanh":
        inner = x.dtype.type(_TANH_C) * (x + x.dtype.type(0.044715) * x * x * x)
        out = 0.5 * x * (1 + xp.tanh(inner))
    else:
        out = x * (0.5 * _erfc(-x * x.dtype.type(_SQRT_HALF)))
    out = out.astype(x.dtype, copy=False)
    if needs_grad(input):
        node = GeluBackward0()
        node.approximate = approximate
        record(node, (input,), (x,))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)


# --------------------------------------------------------------------- more pointwise activations


def _pointwise(name, forward, derivative, composite):
    """An activation from `forward(x, *args) -> (out, parts)` and `derivative(*parts) -> d out / d x`.

    `composite(x, *args)` is the activation written with differentiable ops, for a recorded backward.
    """

    def backward(self, g):
        return (g * derivative(*self.saved[1]),)

    def decompose(self, x, parts):
        return composite(x, *self.args)

    node_cls = type(
        name,
        (Node,),
        {
            "__slots__": ("args",),
            "backward": backward,
            "decompose": decompose,
            "saved_roles": (0, None),
            "decomposed": True,
        },
    )

    def op(input, *args):
        x = _float(input._data)
        out, parts = forward(x, *args)
        if needs_grad(input):
            node = node_cls()
            node.args = args
            record(node, (input,), (x, parts))
            return _result(out, node)
        return _result(out)

    op.node = node_cls
    return op


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _elu_parts(x, alpha, scale, input_scale):
    """scale * (max(0, x) + min(0, alpha * (exp(x * input_scale) - 1))) and its derivative."""
    xp = _xp(x)
    t = x.dtype.type
    neg = t(alpha) * xp.expm1(xp.minimum(x, 0) * t(input_scale))
    out = (xp.maximum(x, 0) + neg) * t(scale)
    # derivative: scale where x > 0, scale * input_scale * alpha * exp(x * input_scale) below
    d = (neg + t(alpha)) * t(scale * input_scale)
    d += _mask(x > 0, x.dtype) * (t(scale) - d)
    return out, (d,)


def selu(input, inplace=False):
    """scale * (max(0, x) + min(0, alpha * (exp(x) - 1))) with the self-normalizing constants."""
    if inplace:
        return _inplace(input, selu)
    return _selu(input)


def _elu_composite(x, alpha, scale, input_scale):
    return (x.clamp(min=0) + (alpha * (x * input_scale).expm1()).clamp(max=0)) * scale


_selu = _pointwise(
    "SeluBackward0",
    lambda x: _elu_parts(x, _SELU_ALPHA, _SELU_SCALE, 1.0),
    lambda d: d,
    lambda x: _elu_composite(x, _SELU_ALPHA, _SELU_SCALE, 1.0),
)
_celu = _pointwise(
    "CeluBackward0",
    lambda x, alpha: _elu_parts(x, alpha, 1.0, 1.0 / alpha),
    lambda d: d,
    lambda x, alpha: _elu_composite(x, alpha, 1.0, 1.0 / alpha),
)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    if inplace:
        return _inplace(input, celu, alpha)
    return _celu(input, alpha)


def _hardsigmoid_fwd(x):
    xp = _xp(x)
    t = x.dtype.type
    out = xp.clip(x / t(6) + t(0.5), 0, 1).astype(x.dtype, copy=False)
    return out, (_mask((x > -3) & (x < 3), x.dtype) * t(1 / 6),)


_hardsigmoid = _pointwise(
    "HardsigmoidBackward0", _hardsigmoid_fwd, lambda d: d, lambda x: (x / 6 + 0.5).clamp(0, 1)
)


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    if inplace:
        return _inplace(input, hardsigmoid)
    return _hardsigmoid(input)


def _hardswish_fwd(x):
    xp = _xp(x)
    t = x.dtype.type
    out = x * xp.clip(x / t(6) + t(0.5), 0, 1).astype(x.dtype, copy=False)
    # 0 up to -3, x / 3 + 0.5 strictly between, 1 from 3 on: as PyTorch's hardswish backward
    mid = _mask((x > -3) & (x < 3), x.dtype)
    d = mid * (x / t(3) + t(0.5)) + _mask(x >= 3, x.dtype)
    return out, (d,)


_hardswish = _pointwise(
    "HardswishBackward0", _hardswish_fwd, lambda d: d, lambda x: x * (x / 6 + 0.5).clamp(0, 1)
)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    if inplace:
        return _inplace(input, hardswish)
    return _hardswish(input)


def _softplus_plain(x):
    xp = _xp(x)
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)


def _mish_fwd(x):
    th = _xp(x).tanh(_softplus_plain(x))
    return x * th, (x, th)


def _mish_grad(x, th):
    return th + x * _sigmoid(x) * (1 - th * th)


_mish = _pointwise("MishBackward0", _mish_fwd, _mish_grad, lambda x: x * tanh(softplus(x)))


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    if inplace:
        return _inplace(input, mish)
    return _mish(input)


logsigmoid = _pointwise(
    "LogSigmoidBackward0",
    lambda x: (-_softplus_plain(-x), (x,)),
    lambda x: _sigmoid(-x),
    lambda x: -softplus(-x),
)
logsigmoid.__doc__ = "log(sigmoid(x)), computed as -softplus(-x)."


def _softsign_fwd(x):
    den = 1 + _xp(x).abs(x)
    return x / den, (den,)


softsign = _pointwise(
    "SoftsignBackward0", _softsign_fwd, lambda den: 1 / (den * den), lambda x: x / (1 + x.abs())
)
softsign.__doc__ = "x / (1 + |x|)."


def softmin(input, dim=None, dtype=None):
    """softmax(-x) along `dim`."""
    return softmax(neg(input), dim, dtype)


class PreluKernelBackward0(Node):
    __slots__ = ("w_shape", "axes")
    saved_roles = (0, 1)

    def backward(self, g):
        x, w = self.saved
        pos = _mask(x > 0, x.dtype)
        gx = gw = None
        if self.needs_grad(0):
            gx = g * (pos + (1 - pos) * w)
        if self.needs_grad(1):
            gw = (g * (x - pos * x)).sum(axis=self.axes).reshape(self.w_shape)
        return (gx, gw)


@autocast_op(cpu=LOWER, cuda=LOWER)
def prelu(input, weight):
    """max(0, x) + weight * min(0, x), with one weight per channel (dim 1) or one shared weight."""
    x = _float(input._data)
    w = weight._data
    n = w.size
    if n != 1 and (x.ndim < 2 or x.shape[1] != n):
        raise RuntimeError(
            f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} and "
            f"channel size = {x.shape[1] if x.ndim >= 2 else 1}."
        )
    wb = w.reshape((1, n) + (1,) * (x.ndim - 2)) if n != 1 and x.ndim >= 2 else w.reshape(())
    xp = _xp(x)
    out = xp.maximum(x, 0) + wb * xp.minimum(x, 0)
    if needs_grad(input, weight):
        node = PreluKernelBackward0()
        node.w_shape = w.shape
        node.axes = tuple(i for i in range(x.ndim) if not (n != 1 and i == 1))
        record(node, (input, weight), (x, wb))
        node.save_versions(input, weight)
        return _result(out, node)
    return _result(out)


class GluBackward0(Node):
    __slots__ = ("axis",)
    saved_roles = (None, None, 0)
    decomposed = True

    def decompose(self, a, s, x):
        first, second = x.chunk(2, self.axis)
        return first * sigmoid(second)

    def backward(self, g):
        a, s, _ = self.saved
        xp = _xp(g)
        return (xp.concatenate((g * s, g * a * s * (1 - s)), axis=self.axis),)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of the input along `dim`."""
    x = _float(input._data)
    axis = wrap_dim(dim, x.ndim, "glu")
    if x.ndim == 0 or x.shape[axis] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {axis} is size {x.shape[axis] if x.ndim else 0}"
        )
    half = x.shape[axis] // 2
    xp = _xp(x)
    a, b = xp.split(x, [half], axis=axis)
    s = _sigmoid(b)
    out = a * s
    if needs_grad(input):
        node = GluBackward0()
        node.axis = axis
        record(node, (input,), (a, s, x))
        node.save_versions(input)
        return _result(out, node)
    return _result(out)
