"""Elementwise ops: arithmetic, unary math, comparisons, logic, casts and in-place forms.

Each op's backward node stands right under its forward. Broadcasting is undone by `sum_to`.
"""

from __future__ import annotations

import builtins
import numbers

import numpy as np

from .. import backend as B
from ..autograd import grad_mode
from ..autograd.graph import Node
from ..tensor import Tensor, _result, _wrap, edge, record
from ._util import operands, shape_str, sum_to, to_tensor_operand

_xp = B.array_module


def as_operand(value, like):
    """A Python number stays a number; anything else becomes a tensor on `like`'s device."""
    if isinstance(value, Tensor | numbers.Number):
        return value if isinstance(value, Tensor) else _wrap(
            _xp(like._data).asarray(value, dtype=_scalar_dtype(like, value))
        )
    return to_tensor_operand(value, like)


def _scalar_dtype(like, value):
    return B.dtype_with_scalar(B.from_numpy_dtype(like._data.dtype), value).np


def _rec(a, b):
    """Whether a binary op on `a` and `b` (b may be a number) must be recorded."""
    return grad_mode._enabled and (a._rg or (b.__class__ is Tensor and b._rg))


def _broadcast_error(where, x, y):
    raise RuntimeError(
        f"{where}: the size of tensor a {shape_str(x.shape)} must match the size of tensor b "
        f"{shape_str(y.shape)} (they cannot be broadcast together)"
    ) from None


# --------------------------------------------------------------------------------- arithmetic


class AddBackward0(Node):
    __slots__ = ("shapes", "alpha")

    def backward(self, g):
        sa, sb = self.shapes
        gb = None
        if self.next_functions[1][0] is not None:
            gb = sum_to(g if self.alpha == 1 else g * self.alpha, sb)
        return (sum_to(g, sa), gb)


def add(input, other, *, alpha=1):
    x, y, bt = operands(input, other, "add")
    try:
        out = x + y if alpha == 1 else x + y * alpha
    except ValueError:
        _broadcast_error("add", x, y)
    if _rec(input, bt):
        node = AddBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        node.alpha = alpha
        record(node, (input, bt))
        return _result(out, node)
    return _result(out)


class SubBackward0(AddBackward0):
    __slots__ = ()

    def backward(self, g):
        sa, sb = self.shapes
        gb = None
        if self.next_functions[1][0] is not None:
            gb = sum_to(-g if self.alpha == 1 else g * -self.alpha, sb)
        return (sum_to(g, sa), gb)


def sub(input, other, *, alpha=1):
    x, y, bt = operands(input, other, "sub")
    if x.dtype == np.bool_:
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead."
        )
    try:
        out = x - y if alpha == 1 else x - y * alpha
    except ValueError:
        _broadcast_error("sub", x, y)
    if _rec(input, bt):
        node = SubBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        node.alpha = alpha
        record(node, (input, bt))
        return _result(out, node)
    return _result(out)


subtract = sub


def rsub(input, other, *, alpha=1):
    """`other - input`, for the reflected operator with a number on the left."""
    return add(neg(input) if alpha == 1 else mul(input, -alpha), other)


class MulBackward0(Node):
    __slots__ = ("shapes",)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        ga = sum_to(g * y, sa) if self.next_functions[0][0] is not None else None
        gb = sum_to(g * x, sb) if self.next_functions[1][0] is not None else None
        return (ga, gb)


def mul(input, other):
    x, y, bt = operands(input, other, "mul")
    try:
        out = x * y
    except ValueError:
        _broadcast_error("mul", x, y)
    if _rec(input, bt):
        node = MulBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        record(node, (input, bt), (x if bt is not None and bt._rg else None, y))
        node.save_versions(input if bt is not None and bt._rg else None, bt if input._rg else None)
        return _result(out, node)
    return _result(out)


class DivBackward0(Node):
    __slots__ = ("shapes",)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        ga = sum_to(g / y, sa) if self.next_functions[0][0] is not None else None
        gb = None
        if self.next_functions[1][0] is not None:
            gb = sum_to(-g * x / (y * y), sb)
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
        if x.dtype.kind in "iub":
            if (xp.asarray(y) == 0).any():
                raise RuntimeError("ZeroDivisionError")
            q = xp.floor_divide(x, y) if rounding_mode == "floor" else xp.trunc(x / y).astype(x.dtype)
        else:
            q = x / y
            q = xp.floor(q) if rounding_mode == "floor" else xp.trunc(q)
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
    if _rec(input, bt):
        node = DivBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        record(node, (input, bt), (x, y))
        node.save_versions(input if bt is not None and bt._rg else None, bt)
        return _result(out, node)
    return _result(out)


divide = true_divide = div


def rdiv(input, other):
    """`other / input` with a number on the left."""
    return mul(reciprocal(input), other)


multiply = mul


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


class RemainderBackward0(Node):
    __slots__ = ("shapes",)

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        gb = None
        if self.next_functions[1][0] is not None:
            gb = sum_to(-g * xp.floor(x / y), sb)
        return (sum_to(g, sa), gb)


def remainder(input, other):
    x, y, bt = operands(input, other, "remainder")
    out = _xp(x).remainder(x, y)
    if _rec(input, bt):
        node = RemainderBackward0()
        node.shapes = (x.shape, y.shape if bt is not None else ())
        record(node, (input, bt), (x, y))
        return _result(out, node)
    return _result(out)


fmod = remainder


class PowBackward0(Node):
    """input ** number."""

    __slots__ = ("exponent",)

    def backward(self, g):
        (x,) = self.saved
        e = self.exponent
        if e == 0:
            return (g * 0,)
        return (g * (e * x ** (e - 1)),)


class PowBackward1(Node):
    """input ** tensor."""

    __slots__ = ("shapes",)

    def backward(self, g):
        x, y, out = self.saved
        sa, sb = self.shapes
        xp = _xp(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = sum_to(g * y * x ** (y - 1), sa)
        if self.next_functions[1][0] is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = xp.where((x == 0) & (y >= 0), 0, g * out * xp.log(x))
            gb = sum_to(lg.astype(g.dtype, copy=False), sb)
        return (ga, gb)


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
        if grad_mode._enabled and input._rg:
            node = PowBackward0()
            node.exponent = y
            record(node, (input,), (x,))
            node.save_versions(input)
            return _result(out, node)
        return _result(out)
    if _rec(input, bt):
        node = PowBackward1()
        node.shapes = (x.shape, y.shape)
        record(node, (input, bt), (x, y, out))
        node.save_versions(input, bt)
        return _result(out, node)
    return _result(out)


class RpowBackward(Node):
    __slots__ = ("base",)

    def backward(self, g):
        (out,) = self.saved
        return (g * out * np.log(self.base) if self.base > 0 else g * 0,)


def rpow(input, base):
    """`base ** input` with a number as the base."""
    if isinstance(base, Tensor):
        return pow(base, input)
    x = input._data
    if x.dtype.kind in "iub" and isinstance(base, builtins.float):
        x = x.astype(B.get_default_dtype().np)
    out = _xp(x).power(x.dtype.type(base), x) if x.dtype.kind == "f" else base**x
    if grad_mode._enabled and input._rg:
        node = RpowBackward()
        node.base = base
        record(node, (input,), (out,))
        return _result(out, node)
    return _result(out)


float_power = pow


# ------------------------------------------------------------------------------- unary math


def _unary(name, fwd, grad, save="x", float_only=True):
    """Build a unary op from its forward and its derivative; `save` says what backward reads."""

    def backward(self, g):
        return (grad(g, *self.saved),)

    node_cls = type(name, (Node,), {"__slots__": (), "backward": backward})

    def op(input):
        x = input._data
        if float_only and x.dtype.kind != "f":
            x = x.astype(B.get_default_dtype().np)
        out = fwd(_xp(x), x)
        if grad_mode._enabled and input._rg:
            node = node_cls()
            saved = (x,) if save == "x" else (out,) if save == "out" else ()
            record(node, (input,), saved)
            if save == "x":
                node.save_versions(input)
            return _result(out, node)
        return _result(out)

    op.__name__ = name.replace("Backward0", "").lower()
    op.node = node_cls
    return op


def _xp_of(g):
    return _xp(g)


neg = _unary("NegBackward0", lambda xp, x: -x, lambda g: -g, save="none", float_only=False)
exp = _unary("ExpBackward0", lambda xp, x: xp.exp(x), lambda g, out: g * out, save="out")
expm1 = _unary("Expm1Backward0", lambda xp, x: xp.expm1(x), lambda g, out: g * (out + 1), save="out")
log = _unary("LogBackward0", lambda xp, x: xp.log(x), lambda g, x: g / x)
log2 = _unary("Log2Backward0", lambda xp, x: xp.log2(x), lambda g, x: g / (x * np.log(2.0)))
log10 = _unary("Log10Backward0", lambda xp, x: xp.log10(x), lambda g, x: g / (x * np.log(10.0)))
log1p = _unary("Log1PBackward0", lambda xp, x: xp.log1p(x), lambda g, x: g / (1 + x))
negative = neg
sqrt = _unary("SqrtBackward0", lambda xp, x: xp.sqrt(x), lambda g, out: g / (2 * out), save="out")
rsqrt = _unary(
    "RsqrtBackward0",
    lambda xp, x: 1 / xp.sqrt(x),
    lambda g, out: -0.5 * g * out * out * out,
    save="out",
)
square = _unary("PowBackward0", lambda xp, x: x * x, lambda g, x: 2 * g * x, float_only=False)
reciprocal = _unary("ReciprocalBackward0", lambda xp, x: 1 / x, lambda g, out: -g * out * out, save="out")
sin = _unary("SinBackward0", lambda xp, x: xp.sin(x), lambda g, x: g * _xp(x).cos(x))
cos = _unary("CosBackward0", lambda xp, x: xp.cos(x), lambda g, x: -g * _xp(x).sin(x))
tan = _unary("TanBackward0", lambda xp, x: xp.tan(x), lambda g, out: g * (1 + out * out), save="out")
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


def round(input, *, decimals=0):
    if decimals == 0:
        return _round0(input)
    x = input._data
    return _result(_xp(x).round(x, decimals))


# ---------------------------------------------------------------------------- clamp and where


class ClampBackward1(Node):
    __slots__ = ()

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
    if grad_mode._enabled and input._rg:
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
    __slots__ = ("shapes", "sign")

    def backward(self, g):
        x, y = self.saved
        sa, sb = self.shapes
        gt = (x > y) if self.sign > 0 else (x < y)
        tie = (x == y) * 0.5
        wa = (gt + tie).astype(g.dtype, copy=False)
        ga = sum_to(g * wa, sa) if self.next_functions[0][0] is not None else None
        gb = sum_to(g * (1 - wa), sb) if self.next_functions[1][0] is not None else None
        return (ga, gb)


def _extremum(input, other, sign, name):
    other = as_operand(other, input)
    x, y, bt = operands(input, other, name)
    xp = _xp(x)
    try:
        out = xp.maximum(x, y) if sign > 0 else xp.minimum(x, y)
    except ValueError:
        _broadcast_error(name, x, y)
    if _rec(input, bt):
        node = MaximumBackward0() if sign > 0 else MinimumBackward0()
        node.shapes = (x.shape, y.shape)
        node.sign = sign
        record(node, (input, bt), (x, y))
        return _result(out, node)
    return _result(out)


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()


def maximum(input, other):
    return _extremum(input, other, 1, "maximum")


def minimum(input, other):
    return _extremum(input, other, -1, "minimum")


fmax, fmin = maximum, minimum


class WhereBackward0(Node):
    __slots__ = ("shapes",)

    def backward(self, g):
        (cond,) = self.saved
        sa, sb = self.shapes
        zero = g.dtype.type(0)
        xp = _xp(g)
        ga = sum_to(xp.where(cond, g, zero), sa) if self.next_functions[0][0] is not None else None
        gb = sum_to(xp.where(cond, zero, g), sb) if self.next_functions[1][0] is not None else None
        return (ga, gb)


def where(condition, input=None, other=None):
    if input is None and other is None:
        from .shape import nonzero

        return nonzero(condition, as_tuple=True)
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {B.from_numpy_dtype(cond.dtype).name}")
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    if like is None:
        xp = _xp(cond)
        return _result(xp.where(cond, input, other))
    a = input if isinstance(input, Tensor) else as_operand(input, like)
    b = other if isinstance(other, Tensor) else as_operand(other, like)
    x, y, _ = operands(a, b, "where")
    xp = _xp(x)
    try:
        out = xp.where(cond, x, y)
    except ValueError:
        raise RuntimeError(
            f"where: shapes of condition {shape_str(cond.shape)}, input {shape_str(x.shape)} and "
            f"other {shape_str(y.shape)} cannot be broadcast together"
        ) from None
    if grad_mode._enabled and (a._rg or b._rg):
        node = WhereBackward0()
        node.shapes = (x.shape, y.shape)
        record(node, (a, b), (cond,))
        return _result(out, node)
    return _result(out)


class LerpBackward0(Node):
    __slots__ = ("shapes", "weight")

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
    if grad_mode._enabled and (input._rg or end._rg):
        node = LerpBackward0()
        node.shapes = (x.shape, y.shape)
        node.weight = weight
        record(node, (input, end))
        return _result(out, node)
    return _result(out)


def addcmul(input, tensor1, tensor2, *, value=1):
    return add(input, mul(mul(tensor1, tensor2), value))


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
            raise RuntimeError(f'"{fn_name}_cpu" not implemented for \'{B.from_numpy_dtype(x.dtype).name}\'')
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

    def backward(self, g):
        if self.src_device is not None:
            g = B.to_device_array(g, self.src_device)
        return (g.astype(self.src_dtype, copy=False),)


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


def to_device(input, dev):
    out = B.to_device_array(input._data, dev)
    if grad_mode._enabled and input._rg:
        node = ToCopyBackward0()
        node.src_dtype = input._data.dtype
        node.src_device = input.device
        record(node, (input,))
        return _result(out, node)
    return _result(out)


class CloneBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        return (g,)


def clone(input, *, memory_format=None):
    out = input._data.copy()
    if grad_mode._enabled and input._rg:
        node = CloneBackward0()
        record(node, (input,))
        return _result(out, node)
    return _result(out)


# ----------------------------------------------------------------------------------- in place


def _check_inplace(t):
    if grad_mode._enabled and t._rg and t.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )


def _write(t, data, where):
    """Store `data` into `t`'s own memory, so that views of `t` see the change."""
    dst = t._data
    if data.shape != dst.shape:
        try:
            np.broadcast_shapes(data.shape, dst.shape)
        except ValueError:
            pass
        raise RuntimeError(
            f"{where}: output with shape {list(dst.shape)} doesn't match the broadcast shape "
            f"{list(np.broadcast_shapes(data.shape, dst.shape)) if _broadcastable(data, dst) else list(data.shape)}"
        )
    if data.dtype != dst.dtype:
        if data.dtype.kind == "f" and dst.dtype.kind in "iub" or (data.dtype.kind in "iu" and dst.dtype.kind == "b"):
            raise RuntimeError(
                f"{where}: result type {B.from_numpy_dtype(data.dtype).name} can't be cast to the "
                f"desired output type {B.from_numpy_dtype(dst.dtype).name}"
            )
    if not dst.flags.writeable if hasattr(dst.flags, "writeable") else False:
        raise RuntimeError(f"{where}: the tensor is a read-only expanded view and cannot be written")
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
    rec = grad_mode._enabled and (
        t._rg or builtins.any(isinstance(a, Tensor) and a._rg for a in args)
    )
    if rec:
        src = _wrap(t._data.copy())
        src._rg, src.grad_fn, src._output_nr, src._accum = t._rg, t.grad_fn, t._output_nr, t._accum
        if t._rg and t.grad_fn is None:
            src._accum = t._accum
        out = fn(src, *args, **kwargs)
        _write(t, out._data, fn.__name__ + "_")
        if out.grad_fn is not None:
            t.grad_fn = out.grad_fn
            t._output_nr = out._output_nr
            t._rg = True
        return t
    prev = grad_mode._enabled
    grad_mode._enabled = False
    try:
        out = fn(t, *args, **kwargs)
    finally:
        grad_mode._enabled = prev
    _write(t, out._data, getattr(fn, "__name__", "op") + "_")
    return t


class FillBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        return (None,)


def fill_(t, value):
    _check_inplace(t)
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with {value._data.ndim} dimensions."
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
        t.grad_fn = node
        t._output_nr = 0
    return t


class CopyBackwards(Node):
    __slots__ = ("src_shape", "src_dtype")

    def backward(self, g):
        return (None, sum_to(g, self.src_shape).astype(self.src_dtype, copy=False))


def copy_(t, src):
    _check_inplace(t)
    src = as_operand(src, t)
    data = B.to_device_array(src._data, t.device) if type(src._data) is not type(t._data) else src._data
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
        t.grad_fn = node
        t._output_nr = 0
        t._rg = True
    return t


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("np", "numbers", "builtins", "B", "Node", "Tensor", "edge", "record", "grad_mode")]
