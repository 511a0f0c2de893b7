"""Elementwise ops: arithmetic, unary math, comparisons, logic, casts and in-place forms.

Each op's backward node stands right under its forward. Broadcasting is undone by `sum_to`.
"""

from __future__ import annotations

import builtins
import math
import numbers

import numpy as np

from .. import backend as B
from .._arrays import astype, check_same_device, shape_str, sum_to
from ..amp.autocast_mode import FP32, PROMOTE, autocast_op, register_cast
from ..autograd import grad_mode
from ..autograd import views as _views
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor, _wrap
from ._util import operands, to_tensor_operand

_xp = B.array_module
_LN2, _LN10 = math.log(2.0), math.log(10.0)  # Python floats: numpy scalars would promote float32 to float64


def as_operand(value, like):
    """A Python number stays a number; anything else becomes a tensor on `like`'s device."""
    if isinstance(value, Tensor | numbers.Number):
        return (
            value
            if isinstance(value, Tensor)
            else _wrap(_xp(like._data).asarray(value, dtype=_scalar_dtype(like, value)))
        )
    return to_tensor_operand(value, like)


def _scalar_dtype(like, value):
    return B.dtype_with_scalar(B.from_numpy_dtype(like._data.dtype), value).np


def _broadcast_error(where, x, y):
    raise RuntimeError(
        f"{where}: the size of tensor a {shape_str(x.shape)} must match the size of tensor b "
        f"{shape_str(y.shape)} (they cannot be broadcast together)"
    ) from None


# --------------------------------------------------------------------------------- arithmetic


def _in_dtypes(input, bt, x, y):
    """The input dtypes when promotion changed them (their gradients are cast back), else None."""
    if x is input._data and (bt is None or y is bt._data):
        return None
    return (input._data.dtype, None if bt is None else bt._data.dtype)


def _cast_back(grads, dtypes):
    """Cast input gradients back to their inputs' dtypes after a promoting op."""
    return tuple(g if g is None or d is None else astype(g, d) for g, d in zip(grads, dtypes))


class AddBackward0(Node):
    # `other`: the second operand when it records no edge (a number or a constant tensor), for export
    __slots__ = ("shapes", "alpha", "dtypes", "other")
    saved_roles = ()

    def backward(self, g):
        sa, sb = self.shapes
        ga = sum_to(g, sa) if self.needs_grad(0) else None
        gb = None
        if self.needs_grad(1):
            gb = sum_to(g if self.alpha == 1 else g * self.alpha, sb)
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


def add(input, other, *, alpha=1):
    x, y, bt = operands(input, other, "add")
    try:
        out = x + y if alpha == 1 else x + y * alpha
    except ValueError:
        _broadcast_error("add", x, y)
    # needs_grad inlined: add, sub, mul and div are the hottest ops
    if grad_mode._enabled and (input._rg or (bt is not None and bt._rg)):
        node = AddBackward0()
        node.shapes = (x.shape, () if bt is None else y.shape)
        node.alpha = alpha
        node.other = None if bt is not None and bt._rg else other
        node.dtypes = _in_dtypes(input, bt, x, y)
        record(node, (input, bt))
        return _result(out, node)
    return _result(out)


class SubBackward0(AddBackward0):
    __slots__ = ()

    def backward(self, g):
        sa, sb = self.shapes
        ga = sum_to(g, sa) if self.needs_grad(0) else None
        gb = None
        if self.needs_grad(1):
            gb = sum_to(-g if self.alpha == 1 else g * -self.alpha, sb)
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


def _check_sub(input, bt, other):
    if (
        input._data.dtype == np.bool_
        or (bt is not None and bt._data.dtype == np.bool_)
        or isinstance(other, builtins.bool | np.bool_)
    ):
        raise RuntimeError(
            "Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead."
        )


def sub(input, other, *, alpha=1):
    x, y, bt = operands(input, other, "sub")
    _check_sub(input, bt, other)
    try:
        out = x - y if alpha == 1 else x - y * alpha
    except ValueError:
        _broadcast_error("sub", x, y)
    if grad_mode._enabled and (input._rg or (bt is not None and bt._rg)):
        node = SubBackward0()
        node.shapes = (x.shape, () if bt is None else y.shape)
        node.alpha = alpha
        node.other = None if bt is not None and bt._rg else other
        node.dtypes = _in_dtypes(input, bt, x, y)
        record(node, (input, bt))
        return _result(out, node)
    return _result(out)


subtract = sub


def rsub(input, other, *, alpha=1):
    """`other - input`, for the reflected operator with a number on the left."""
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    _check_sub(input, None, other)
    return add(neg(input) if alpha == 1 else mul(input, -alpha), other)


class MulBackward0(Node):
    __slots__ = ("shapes", "dtypes")
    saved_roles = (0, 1)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        ga = sum_to(g * y, sa) if self.needs_grad(0) else None
        gb = sum_to(g * x, sb) if self.needs_grad(1) else None
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


def mul(input, other):
    x, y, bt = operands(input, other, "mul")
    try:
        out = x * y
    except ValueError:
        _broadcast_error("mul", x, y)
    if not grad_mode._enabled:
        return _result(out)
    if bt is None:
        if not input._rg:
            return _result(out)
        node = MulBackward0()
        node.shapes = (x.shape, ())
        node.dtypes = None if x is input._data else (input._data.dtype, None)
        record(node, (input, None), (None, y))
        return _result(out, node)
    a_rg, b_rg = input._rg, bt._rg
    if not (a_rg or b_rg):
        return _result(out)
    node = MulBackward0()
    node.shapes = (x.shape, y.shape)
    node.dtypes = _in_dtypes(input, bt, x, y)
    # each side's gradient reads the other side's values: keep only those, and watch them for edits
    record(node, (input, bt), (x if b_rg else None, y if a_rg else None))
    node._versions = (((input._vc, input._vc[0], x.dtype, x.shape),) if b_rg else ()) + (
        ((bt._vc, bt._vc[0], y.dtype, y.shape),) if a_rg else ()
    )
    return _result(out, node)


class DivBackward0(Node):
    __slots__ = ("shapes", "dtypes")
    saved_roles = (0, 1)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        ga = sum_to(g / y, sa) if self.needs_grad(0) else None
        gb = None
        if self.needs_grad(1):
            gb = sum_to(-g * x / (y * y), sb)
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


def div(input, other, *, rounding_mode=None):
    x, y, bt = operands(input, other, "div")
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                f"'{rounding_mode}'"
            )
        xp = _xp(x)
        try:
            if x.dtype.kind in "iub":
                if (xp.asarray(y) == 0).any():
                    raise RuntimeError("ZeroDivisionError: integer division by zero")
                if rounding_mode == "floor":
                    q = xp.floor_divide(x, y)
                else:
                    q = xp.trunc(x / y).astype(x.dtype)
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    q = x / y
                q = xp.floor(q) if rounding_mode == "floor" else xp.trunc(q)
        except ValueError:
            _broadcast_error("div", x, y)
        if q.dtype.kind == "b":
            q = q.astype(np.int64)
        if needs_grad(input, bt):
            node = FloorDivideBackward0()
            node.shapes = (input._data.shape, () if bt is None else bt._data.shape)
            record(node, (input, bt))
            return _result(q, node)
        return _result(q)
    if x.dtype.kind in "iub":
        # true division of integers gives the default float type, as in PyTorch
        x = x.astype(B.get_default_dtype().np)
        if bt is not None:
            y = y.astype(x.dtype)
    try:
        out = x / y
    except ValueError:
        _broadcast_error("div", x, y)
    if grad_mode._enabled and (input._rg or (bt is not None and bt._rg)):
        node = DivBackward0()
        node.shapes = (x.shape, () if bt is None else y.shape)
        node.dtypes = _in_dtypes(input, bt, x, y)
        record(node, (input, bt), (x, y))
        if bt is not None and bt._rg:
            node.save_versions(input, bt)
        elif bt is not None:
            node.save_versions(bt)
        return _result(out, node)
    return _result(out)


class FloorDivideBackward0(Node):
    """Rounded division is piecewise constant: its gradient is zero."""

    __slots__ = ("shapes",)
    saved_roles = ()

    def backward(self, g):
        xp = _xp(g)
        return tuple(
            xp.zeros(shape, g.dtype) if self.needs_grad(i) else None for i, shape in enumerate(self.shapes)
        )


divide = true_divide = div


def rdiv(input, other):
    """`other / input` with a number on the left."""
    return mul(reciprocal(input), other)


multiply = mul


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


class RemainderBackward0(Node):
    __slots__ = ("shapes",)
    saved_roles = (0, 1)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        gb = None
        if self.needs_grad(1):
            gb = sum_to(-g * xp.floor(x / y), sb)
        return (sum_to(g, sa), gb)


def remainder(input, other):
    x, y, bt = operands(input, other, "remainder")
    out = _xp(x).remainder(x, y)
    if needs_grad(input, bt):
        node = RemainderBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        record(node, (input, bt), (x, y))
        return _result(out, node)
    return _result(out)


fmod = remainder


class PowBackward0(Node):
    """input ** number."""

    __slots__ = ("exponent",)
    saved_roles = (0,)

    def backward(self, g):
        (x,) = self.saved
        e = self.exponent
        if e == 0:
            return (g * 0,)
        return (g * (e * x ** (e - 1)),)


class PowBackward1(Node):
    """input ** tensor."""

    __slots__ = ("shapes", "dtypes")
    saved_roles = (0, 1, "out")

    def backward(self, g):
        x, y, out = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_grad(0):
                # d/dx x**0 is 0 everywhere, also at x = 0 where the formula reads 0 * inf
                ga = sum_to(xp.where(y == 0, 0.0, g * y * x ** (y - 1)), sa)
            if self.needs_grad(1):
                lg = xp.where((x == 0) & (y >= 0), 0.0, g * out * xp.log(x))
                gb = sum_to(lg, sb)
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


@autocast_op(cuda=FP32)
def pow(input, exponent):
    if not isinstance(input, Tensor):
        return rpow(exponent, input)
    x, y, bt = operands(input, exponent, "pow")
    if x.dtype.kind in "iu" and (
        (bt is None and y < 0) or (bt is not None and y.dtype.kind in "iu" and (y < 0).any())
    ):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    try:
        out = x**y
    except ValueError:
        _broadcast_error("pow", x, y)
    if bt is None:
        if needs_grad(input):
            node = PowBackward0()
            node.exponent = y
            record(node, (input,), (x,))
            node.save_versions(input)
            return _result(out, node)
        return _result(out)
    if needs_grad(input, bt):
        node = PowBackward1()
        node.shapes = (x.shape, y.shape)
        node.dtypes = _in_dtypes(input, bt, x, y)
        record(node, (input, bt), (x, y, out))
        node.save_versions(input, bt)
        res = _result(out, node)
        node._versions += ((res._vc, 0, out.dtype, out.shape),)  # backward reads the output too
        return res
    return _result(out)


class PowBackward2(Node):
    """number ** input."""

    __slots__ = ("base",)
    saved_roles = ("out",)

    def backward(self, g):
        (out,) = self.saved
        base = self.base
        if base > 0:
            return (g * out * math.log(base),)
        if base == 0:
            return (_xp(g).zeros_like(g),)
        return (g * math.nan,)


RpowBackward = PowBackward2


def rpow(input, base):
    """`base ** input` with a number as the base."""
    if isinstance(base, Tensor):
        return pow(base, input)
    x = input._data
    if x.dtype.kind in "iub" and isinstance(base, builtins.float):
        x = x.astype(B.get_default_dtype().np)
    out = _xp(x).power(x.dtype.type(base), x) if x.dtype.kind == "f" else base**x
    if needs_grad(input):
        node = PowBackward2()
        node.base = base
        record(node, (input,), (out,))
        res = _result(out, node)
        node._versions = ((res._vc, 0, out.dtype, out.shape),)
        return res
    return _result(out)


float_power = pow


# ------------------------------------------------------------------------------- unary math


def _unary(name, fwd, grad, save="x", float_only=True):
    """Build a unary op from its forward and its derivative; `save` says what backward reads."""

    if save == "none":

        def backward(self, g):
            return (grad(g),)
    else:

        def backward(self, g):
            return (grad(g, self.saved[0]),)

    roles = {"x": (0,), "out": ("out",), "none": ()}[save]
    node_cls = type(name, (Node,), {"__slots__": (), "backward": backward, "saved_roles": roles})

    def op(input):
        x = input._data
        if float_only and x.dtype.kind != "f":
            x = x.astype(B.get_default_dtype().np)
        out = fwd(_xp(x), x)
        if needs_grad(input):
            node = node_cls()
            if save == "x":
                record(node, (input,), (x,))
                node.save_versions(input)
                return _result(out, node)
            if save == "out":
                record(node, (input,), (out,))
                res = _result(out, node)
                # an in-place edit of the output must be caught
                node._versions = ((res._vc, 0, out.dtype, out.shape),)
                return res
            record(node, (input,))
            return _result(out, node)
        return _result(out)

    op.__name__ = name.replace("Backward0", "").lower()
    op.node = node_cls
    return op


def _xp_of(g):
    return _xp(g)


def _neg_fwd(xp, x):
    if x.dtype == np.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert "
            "a mask, use the `~` or `logical_not()` operator instead."
        )
    return -x


# PyTorch's CUDA autocast runs these in float32 (their half-precision results lose too much)
_fp32_on_cuda = autocast_op(cuda=FP32)
neg = _unary("NegBackward0", _neg_fwd, lambda g: -g, save="none", float_only=False)
exp = _fp32_on_cuda(_unary("ExpBackward0", lambda xp, x: xp.exp(x), lambda g, out: g * out, save="out"))
expm1 = _fp32_on_cuda(
    _unary("Expm1Backward0", lambda xp, x: xp.expm1(x), lambda g, out: g * (out + 1), save="out")
)
log = _fp32_on_cuda(_unary("LogBackward0", lambda xp, x: xp.log(x), lambda g, x: g / x))
log2 = _fp32_on_cuda(_unary("Log2Backward0", lambda xp, x: xp.log2(x), lambda g, x: g / (x * _LN2)))
log10 = _fp32_on_cuda(_unary("Log10Backward0", lambda xp, x: xp.log10(x), lambda g, x: g / (x * _LN10)))
log1p = _fp32_on_cuda(_unary("Log1PBackward0", lambda xp, x: xp.log1p(x), lambda g, x: g / (1 + x)))
negative = neg
sqrt = _unary("SqrtBackward0", lambda xp, x: xp.sqrt(x), lambda g, out: g / (2 * out), save="out")
rsqrt = _fp32_on_cuda(
    _unary(
        "RsqrtBackward0",
        lambda xp, x: 1 / xp.sqrt(x),
        lambda g, out: -0.5 * g * out * out * out,
        save="out",
    )
)
square = _unary("PowBackward0", lambda xp, x: x * x, lambda g, x: 2 * g * x, float_only=False)
reciprocal = _fp32_on_cuda(
    _unary("ReciprocalBackward0", lambda xp, x: 1 / x, lambda g, out: -g * out * out, save="out")
)
sin = _unary("SinBackward0", lambda xp, x: xp.sin(x), lambda g, x: g * _xp(x).cos(x))
cos = _unary("CosBackward0", lambda xp, x: xp.cos(x), lambda g, x: -g * _xp(x).sin(x))
tan = _fp32_on_cuda(
    _unary("TanBackward0", lambda xp, x: xp.tan(x), lambda g, out: g * (1 + out * out), save="out")
)
tanh = _unary("TanhBackward0", lambda xp, x: xp.tanh(x), lambda g, out: g * (1 - out * out), save="out")
abs = _unary("AbsBackward0", lambda xp, x: xp.abs(x), lambda g, x: g * _xp(x).sign(x), float_only=False)
absolute = abs


def _sigmoid_fwd(xp, x):
    # exp of a negative argument only, so large inputs neither overflow nor warn
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


sigmoid = _unary("SigmoidBackward0", _sigmoid_fwd, lambda g, out: g * out * (1 - out), save="out")


def _zero_grad_unary(name, fwd):
    return _unary(name, fwd, lambda g: g * 0, save="none", float_only=False)


sign = _zero_grad_unary("SignBackward0", lambda xp, x: xp.sign(x))
floor = _zero_grad_unary("FloorBackward0", lambda xp, x: xp.floor(x) if x.dtype.kind == "f" else x)
ceil = _zero_grad_unary("CeilBackward0", lambda xp, x: xp.ceil(x) if x.dtype.kind == "f" else x)
trunc = _zero_grad_unary("TruncBackward0", lambda xp, x: xp.trunc(x) if x.dtype.kind == "f" else x)
frac = _unary("FracBackward0", lambda xp, x: x - xp.trunc(x), lambda g: g, save="none")
_round0 = _zero_grad_unary("RoundBackward0", lambda xp, x: xp.round(x) if x.dtype.kind == "f" else x)


class RoundBackward1(Node):
    __slots__ = ()
    saved_roles = ()

    def backward(self, g):
        return (_xp(g).zeros_like(g),)


def round(input, *, decimals=0):
    """Round half to even, as PyTorch does; `decimals` rounds to that many decimal places."""
    if decimals == 0:
        return _round0(input)
    x = input._data
    out = _xp(x).round(x, decimals) if x.dtype.kind == "f" else x.copy()
    if needs_grad(input):
        return _result(out, record(RoundBackward1(), (input,)))
    return _result(out)


# ---------------------------------------------------------------------------- clamp and where


class ClampBackward1(Node):
    __slots__ = ()
    saved_roles = (None,)  # the mask of the unclipped elements

    def backward(self, g):
        (mask,) = self.saved
        return (g * mask,)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, as_operand(min, input))
        if max is not None:
            out = minimum(out, as_operand(max, input))
        return out
    x = input._data
    if x.dtype.kind != "f" and (isinstance(min, builtins.float) or isinstance(max, builtins.float)):
        x = x.astype(B.get_default_dtype().np)
    xp = _xp(x)
    out = xp.clip(x, min, max)
    if min is not None and max is not None and min > max:
        out = xp.full_like(x, max)
    if needs_grad(input):
        mask = xp.ones(x.shape, bool)
        if min is not None:
            mask &= x >= min
        if max is not None:
            mask &= x <= max
        node = ClampBackward1()
        record(node, (input,), (mask,))
        return _result(out, node)
    return _result(out)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min, None)


def clamp_max(input, max):
    return clamp(input, None, max)


class MaximumBackward0(Node):
    """The larger side takes the gradient; ties split it in halves, as in PyTorch."""

    __slots__ = ("shapes", "sign", "dtypes")
    saved_roles = (None, None)  # which side is larger is piecewise constant

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        wa = xp.where(x == y, 0.5, (x > y) if self.sign > 0 else (x < y)).astype(x.dtype, copy=False)
        ga = sum_to(g * wa, sa) if self.needs_grad(0) else None
        gb = sum_to(g * (1 - wa), sb) if self.needs_grad(1) else None
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()


class FmaxBackward0(MaximumBackward0):
    __slots__ = ()


class FminBackward0(MaximumBackward0):
    __slots__ = ()


_EXTREMA = {
    "maximum": (1, "maximum", MaximumBackward0),
    "minimum": (-1, "minimum", MinimumBackward0),
    "fmax": (1, "fmax", FmaxBackward0),
    "fmin": (-1, "fmin", FminBackward0),
}


def _extremum(input, other, name):
    sign, fn, node_cls = _EXTREMA[name]
    other = as_operand(other, input)
    x, y, bt = operands(input, other, name)
    try:
        out = getattr(_xp(x), fn)(x, y)
    except ValueError:
        _broadcast_error(name, x, y)
    if needs_grad(input, bt):
        node = node_cls()
        node.shapes = (x.shape, y.shape)
        node.sign = sign
        node.dtypes = _in_dtypes(input, bt, x, y)
        record(node, (input, bt), (x, y))
        return _result(out, node)
    return _result(out)


def maximum(input, other):
    """Elementwise larger of two tensors; NaN wins (fmax ignores NaN instead)."""
    return _extremum(input, other, "maximum")


def minimum(input, other):
    return _extremum(input, other, "minimum")


def fmax(input, other):
    return _extremum(input, other, "fmax")


def fmin(input, other):
    return _extremum(input, other, "fmin")


class WhereBackward0(Node):
    __slots__ = ("shapes", "dtypes")
    saved_roles = (None,)

    def backward(self, g):
        (cond,) = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        ga = sum_to(xp.where(cond, g, 0.0), sa) if self.needs_grad(0) else None
        gb = sum_to(xp.where(cond, 0.0, g), sb) if self.needs_grad(1) else None
        if self.dtypes is not None:
            return _cast_back((ga, gb), self.dtypes)
        return (ga, gb)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{B.from_numpy_dtype(cond.dtype).name}"
        )
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:
        xp = _xp(cond)
        dt = B.dtype_of_python(input if B.scalar_category(input) >= B.scalar_category(other) else other)
        return _result(xp.where(cond, xp.asarray(input, dt.np), xp.asarray(other, dt.np)))
    a = input if isinstance(input, Tensor) else as_operand(input, like)
    b = other if isinstance(other, Tensor) else as_operand(other, like)
    x, y, _ = operands(a, b, "where")
    xp = _xp(x)
    if type(cond) is not type(x):
        check_same_device(cond, x, "where")
    try:
        out = xp.where(cond, x, y)
    except ValueError:
        raise RuntimeError(
            f"where: shapes of condition {shape_str(cond.shape)}, input {shape_str(x.shape)} and "
            f"other {shape_str(y.shape)} cannot be broadcast together"
        ) from None
    if needs_grad(a, b):
        node = WhereBackward0()
        node.shapes = (x.shape, y.shape)
        node.dtypes = _in_dtypes(a, b, x, y)
        record(node, (a, b), (cond,))
        return _result(out, node)
    return _result(out)


class LerpBackward0(Node):
    __slots__ = ("shapes", "weight")
    saved_roles = ()

    def backward(self, g):
        w = self.weight
        sa, sb = self.shapes
        return (sum_to(g * (1 - w), sa), sum_to(g * w, sb))


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    if isinstance(weight, Tensor):
        return add(input, mul(sub(end, input), weight))
    end = as_operand(end, input)
    x, y, _ = operands(input, end, "lerp")
    out = x + weight * (y - x)
    if needs_grad(input, end):
        node = LerpBackward0()
        node.shapes = (x.shape, y.shape)
        node.weight = weight
        record(node, (input, end))
        return _result(out, node)
    return _result(out)


@autocast_op(cuda=PROMOTE)
def addcmul(input, tensor1, tensor2, *, value=1):
    return add(input, mul(mul(tensor1, tensor2), value))


@autocast_op(cuda=PROMOTE)
def addcdiv(input, tensor1, tensor2, *, value=1):
    return add(input, mul(div(tensor1, tensor2), value))


# ---------------------------------------------------------------------- comparisons and logic


def _compare(fn_name):
    def op(input, other):
        if not isinstance(input, Tensor):
            input = as_operand(input, other)
        x, y, _ = operands(input, other, fn_name)
        try:
            return _result(getattr(_xp(x), fn_name)(x, y))
        except ValueError:
            _broadcast_error(fn_name, x, y)

    op.__name__ = fn_name
    return op


eq = _compare("equal")
ne = _compare("not_equal")
lt = _compare("less")
le = _compare("less_equal")
gt = _compare("greater")
ge = _compare("greater_equal")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logical(fn_name):
    def op(input, other):
        other = as_operand(other, input)
        x, y = input._data, other._data
        try:
            return _result(getattr(_xp(x), fn_name)(x, y))
        except ValueError:
            _broadcast_error(fn_name, x, y)

    op.__name__ = fn_name
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def _bitwise(fn_name):
    def op(input, other):
        other = as_operand(other, input)
        x, y, _ = operands(input, other, fn_name)
        if x.dtype.kind == "f":
            raise RuntimeError(f"\"{fn_name}_cpu\" not implemented for '{B.from_numpy_dtype(x.dtype).name}'")
        return _result(getattr(_xp(x), fn_name)(x, y))

    op.__name__ = fn_name
    return op


bitwise_and = _bitwise("bitwise_and")
bitwise_or = _bitwise("bitwise_or")
bitwise_xor = _bitwise("bitwise_xor")


def logical_not(input):
    return _result(_xp(input._data).logical_not(input._data))


def bitwise_not(input):
    x = input._data
    if x.dtype.kind == "f":
        raise TypeError("~ (bitwise_not) is only defined for integer and bool tensors")
    return _result(_xp(x).invert(x))


def isnan(input):
    return _result(_xp(input._data).isnan(input._data))


def isinf(input):
    return _result(_xp(input._data).isinf(input._data))


def isfinite(input):
    return _result(_xp(input._data).isfinite(input._data))


def equal(input, other) -> bool:
    """True when both tensors have the same shape and values."""
    return input._data.shape == other._data.shape and builtins.bool((input._data == other._data).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    other = as_operand(other, input)
    x, y, _ = operands(input, other, "isclose")
    return _result(_xp(x).isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


# --------------------------------------------------------------------------- casts and copies


class ToCopyBackward0(Node):
    __slots__ = ("src_dtype", "src_device")
    saved_roles = ()

    def backward(self, g):
        dev = self.src_device
        if dev is not None:
            g = to_device(g, dev) if isinstance(g, Tensor) else B.to_device_array(g, dev)
        return (astype(g, self.src_dtype),)


def cast(input, dtype):
    d = B.as_dtype(dtype)
    out = input._data.astype(d.np)
    if grad_mode._enabled and input._rg and d.is_floating_point:
        node = ToCopyBackward0()
        node.src_dtype = input._data.dtype
        node.src_device = None
        record(node, (input,))
        return _result(out, node)
    return _result(out)


register_cast(cast)  # autocast casts through it, recorded for autograd


def to_device(input, dev):
    out = B.to_device_array(input._data, dev)
    if needs_grad(input):
        node = ToCopyBackward0()
        node.src_dtype = input._data.dtype
        node.src_device = input.device
        record(node, (input,))
        return _result(out, node)
    return _result(out)


class CloneBackward0(Node):
    __slots__ = ()
    saved_roles = ()

    def backward(self, g):
        return (g,)


def clone(input, *, memory_format=None):
    out = input._data.copy()
    if needs_grad(input):
        node = CloneBackward0()
        record(node, (input,))
        return _result(out, node)
    return _result(out)


# ----------------------------------------------------------------------------------- in place


def _check_inplace(t):
    """PyTorch's refusals of an in-place op with grad mode on; brings a view's grad_fn up to date."""
    if not grad_mode._enabled:
        return
    if t._rg and t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    info = t._view if t.__class__ is Tensor else _views.view_info(t)
    if info is not None:
        _views.check_inplace(t, info)


def _write(t, data, where):
    """Store `data` into `t`'s own memory, so that views of `t` see the change."""
    dst = t._data
    if data.shape != dst.shape:
        shape = np.broadcast_shapes(data.shape, dst.shape) if _broadcastable(data, dst) else data.shape
        raise RuntimeError(
            f"{where}: output with shape {list(dst.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    if data.dtype != dst.dtype and (
        (data.dtype.kind == "f" and dst.dtype.kind in "iub")
        or (data.dtype.kind in "iu" and dst.dtype.kind == "b")
    ):
        raise RuntimeError(
            f"{where}: result type {B.from_numpy_dtype(data.dtype).name} can't be cast to the "
            f"desired output type {B.from_numpy_dtype(dst.dtype).name}"
        )
    if not getattr(dst.flags, "writeable", True):
        raise RuntimeError(
            f"{where}: unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation."
        )
    _xp(dst).copyto(dst, data, casting="unsafe")
    t._vc[0] += 1


def _broadcastable(a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


def inplace(t, fn, *args, **kwargs):
    """Run the out-of-place `fn(t, ...)` and write the result into `t`, as `t.op_(...)` does.

    When the op is recorded, it runs on a copy of `t`'s values, so that what its backward saved is
    not overwritten, and `t` takes the new node as its grad_fn.
    """
    _check_inplace(t)
    rec = grad_mode._enabled and (t._rg or builtins.any(isinstance(a, Tensor) and a._rg for a in args))
    if rec:
        src = _wrap(t._data.copy())
        src._rg, src.grad_fn, src._output_nr, src._accum = t._rg, t.grad_fn, t._output_nr, t._accum
        if t._rg and t.grad_fn is None:
            src._accum = t._accum
        out = fn(src, *args, **kwargs)
        _write(t, out._data, fn.__name__ + "_")
        if out.grad_fn is not None:
            _views.commit(t, out.grad_fn, out._output_nr)
        return t
    prev = grad_mode._enabled
    grad_mode._enabled = False
    try:
        out = fn(t, *args, **kwargs)
    finally:
        grad_mode._enabled = prev
    _write(t, out._data, getattr(fn, "__name__", "op") + "_")
    return t


def inplace_from_output(t, compute, node):
    """An in-place op whose backward reads only its output (relu, hardtanh, ...), run in `t`'s own
    memory: `compute(array)` overwrites the array, and `node` (when the op is recorded) saves that
    same array. It allocates nothing, where the general `inplace` copies `t` first. Returns None for
    a view, which takes the general path (its base's history is rewritten)."""
    _check_inplace(t)
    if (t._view if t.__class__ is Tensor else _views.view_info(t)) is not None:
        return None
    x = t._data
    if x.dtype.kind != "f" or not getattr(x.flags, "writeable", True):
        return None
    compute(x)
    t._vc[0] += 1
    if grad_mode._enabled and t._rg:
        record(node, (t,), (x,))
        node.save_versions(t)  # a later in-place change of the output must be caught
        _views.commit(t, node)
    return t


class FillBackward0(Node):
    __slots__ = ()
    saved_roles = ()

    def backward(self, g):
        return (None,)


def fill_(t, value):
    _check_inplace(t)
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions."
            )
        value = value._data
    if t._data.dtype.kind in "iub" and isinstance(value, builtins.float) and not value.is_integer():
        t._data[...] = value
    else:
        t._data[...] = value
    t._vc[0] += 1
    if grad_mode._enabled and t._rg and t.grad_fn is not None:
        node = FillBackward0()
        record(node, (t,))
        node._meta = (t._data.shape, t._data.dtype)
        _views.commit(t, node)
    return t


class CopyBackwards(Node):
    __slots__ = ("src_shape", "src_dtype")
    saved_roles = ()

    def backward(self, g):
        return (None, astype(sum_to(g, self.src_shape), self.src_dtype))


def copy_(t, src):
    _check_inplace(t)
    src = as_operand(src, t)
    data = B.to_array_like(src._data, t._data)
    try:
        view = _xp(t._data).broadcast_to(data, t._data.shape)
    except ValueError:
        raise RuntimeError(
            f"copy_: the source of shape {shape_str(data.shape)} cannot be broadcast to "
            f"{shape_str(t._data.shape)}"
        ) from None
    _xp(t._data).copyto(t._data, view, casting="unsafe")
    t._vc[0] += 1
    if grad_mode._enabled and (src._rg or (t._rg and t.grad_fn is not None)):
        node = CopyBackwards()
        node.src_shape = data.shape
        node.src_dtype = data.dtype
        record(node, (t, src))
        node._meta = (t._data.shape, t._data.dtype)
        _views.commit(t, node)
    return t


__all__ = [
    n
    for n in dir()
    if not n.startswith("_")
    and n not in ("np", "numbers", "builtins", "B", "Node", "Tensor", "record", "needs_grad", "grad_mode")
]
