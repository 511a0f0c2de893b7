"""Special functions: `lgamma`, `digamma`, `polygamma`, `erf`, `erfc`, `erfinv` and `xlogy`, computed
with the array module's elementary functions (numpy and cupy have no gamma or error functions).

Each is evaluated in float64 and cast back, to double precision: gamma by Lanczos' approximation,
digamma and polygamma by recurrence up to x >= 20 then their asymptotic series, erf by its Maclaurin
series below 3 and the continued fraction of erfc above, erfinv by Giles' approximation polished
with Newton steps. Their gradients are the next function of the family, so they differentiate twice.
"""

from __future__ import annotations

import math

import numpy as np

from .. import backend as B
from .._arrays import sum_to
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..tensor import Tensor
from ._util import operands
from .elementwise import _unary, as_operand, where

_xp = B.array_module
_LANCZOS_G = 7.0
_LANCZOS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)
_BERNOULLI = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6)  # B_2, B_4, ... B_14
_SHIFT = 20.0  # the asymptotic series of the polygammas are exact to double precision from here
_SQRT_PI = math.sqrt(math.pi)


def _f64(xp, x):
    return x.astype(np.float64) if x.dtype != np.float64 else x


def _lgamma_positive(xp, x):
    """log Gamma(x) for x >= 0.5 (Lanczos, g = 7, nine terms)."""
    z = x - 1.0
    a = xp.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], start=1):
        a = a + c / (z + i)
    t = z + _LANCZOS_G + 0.5
    return 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(a)


def _lgamma_array(xp, x):
    d = _f64(xp, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflect = d < 0.5
        pos = _lgamma_positive(xp, xp.where(reflect, 1.0 - d, d))
        sin = xp.abs(xp.sin(math.pi * (d - xp.floor(d))))  # exact zeros at the poles
        neg = math.log(math.pi) - xp.log(sin) - pos
        out = xp.where(reflect, neg, pos)
        out = xp.where((d == 1.0) | (d == 2.0), 0.0, out)  # exact zeros, as the C library gives
        out = xp.where(xp.isinf(d), xp.inf, out)
    return out.astype(x.dtype, copy=False)


def _polygamma_array(xp, n, x):
    """The n-th derivative of digamma: recurrence up to x >= 20, then the asymptotic series."""
    d = _f64(xp, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if n <= 1:
            reflect = d < 0.5
            y = xp.where(reflect, 1.0 - d, d)
        else:
            reflect, y = None, d
        acc = xp.zeros_like(y)
        sign = (-1.0) ** (n + 1)
        finite = xp.where(xp.isfinite(y), y, _SHIFT)
        steps = int(max(0.0, math.ceil(_SHIFT - float(finite.min())))) if y.size else 0
        for _ in range(steps):
            low = y < _SHIFT
            term = -1.0 / y if n == 0 else sign * math.factorial(n) / y ** (n + 1)
            acc = acc + xp.where(low, term, 0.0)
            y = xp.where(low, y + 1.0, y)
        out = acc + _polygamma_series(xp, n, y)
        if reflect is not None:
            out = xp.where(reflect, _reflected(xp, n, d, out), out)
        out = _poles(xp, n, d, out)
    return out.astype(x.dtype, copy=False)


def _polygamma_series(xp, n, y):
    inv = 1.0 / y
    if n == 0:
        total = xp.log(y) - 0.5 * inv
        for k, b in enumerate(_BERNOULLI, start=1):
            total = total - b / (2 * k) * inv ** (2 * k)
        return total
    sign = (-1.0) ** (n + 1)
    total = math.factorial(n - 1) * inv**n + 0.5 * math.factorial(n) * inv ** (n + 1)
    for k, b in enumerate(_BERNOULLI, start=1):
        total = total + b * math.factorial(2 * k + n - 1) / math.factorial(2 * k) * inv ** (2 * k + n)
    return sign * total


def _reflected(xp, n, x, at_one_minus_x):
    """digamma(x) = digamma(1 - x) - pi / tan(pi x); trigamma(x) = pi^2 / sin^2(pi x) - trigamma(1 - x)."""
    if n == 0:
        return at_one_minus_x - math.pi / xp.tan(math.pi * x)
    return (math.pi / xp.sin(math.pi * x)) ** 2 - at_one_minus_x


def _poles(xp, n, x, out):
    """digamma is -inf at 0 and nan at the negative integers, as in PyTorch."""
    if n:
        return out
    pole = (x <= 0) & (x == xp.floor(x))
    return xp.where(pole, xp.where(x == 0, -xp.inf, xp.nan), out)


def _erfc_large(xp, a):
    """erfc(a) for a >= 3 by its continued fraction, evaluated from the 60th term back."""
    f = a
    for k in range(60, 0, -1):
        f = a + (k / 2) / f
    return xp.exp(-a * a) / _SQRT_PI / f


def _erf_small(xp, a):
    """erf(a) for |a| <= 3 by its Maclaurin series (80 terms: exact to double precision there)."""
    term, total, a2 = a, a, a * a
    for k in range(1, 80):
        term = term * (-a2) / k
        total = total + term / (2 * k + 1)
    return total * (2 / _SQRT_PI)


def _erf_parts(xp, x):
    d = _f64(xp, x)
    a = xp.abs(d)
    small = a < 3.0
    near = _erf_small(xp, xp.minimum(a, 3.0))
    far = _erfc_large(xp, xp.maximum(a, 3.0))
    return d, small, near, far


def _erf_array(xp, x):
    d, small, near, far = _erf_parts(xp, x)
    out = xp.sign(d) * xp.where(small, near, 1.0 - far)
    return xp.where(xp.isnan(d), xp.nan, out).astype(x.dtype, copy=False)


def _erfc_array(xp, x):
    d, small, near, far = _erf_parts(xp, x)
    out = xp.where(small, 1.0 - xp.sign(d) * near, xp.where(d > 0, far, 2.0 - far))
    return xp.where(xp.isnan(d), xp.nan, out).astype(x.dtype, copy=False)


def _erfinv_array(xp, x):
    d = _f64(xp, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -xp.log((1.0 - d) * (1.0 + d))
        central = _giles(w - 2.5, _GILES_CENTRAL)
        tail = _giles(xp.sqrt(w) - 3.0, _GILES_TAIL)
        y = xp.where(w < 5.0, central, tail) * d
        y, a = xp.abs(y), xp.abs(d)
        tail_side = a > 0.5
        log_q = xp.log(1.0 - a)
        for _ in range(4):  # Newton on erf(y) = |d|; in the tails on log erfc(y) = log(1 - |d|), near linear
            slope = 2 / _SQRT_PI * xp.exp(-y * y)
            c = _erfc_array(xp, y)
            step = xp.where(tail_side, (log_q - xp.log(c)) * c, _erf_array(xp, y) - a) / slope
            y = y - xp.where(xp.isfinite(step), step, 0.0)
        y = xp.sign(d) * y
        y = xp.where(xp.abs(d) == 1.0, xp.sign(d) * xp.inf, y)
        y = xp.where(xp.abs(d) > 1.0, xp.nan, y)
    return y.astype(x.dtype, copy=False)


# Giles (2010), "Approximating the erfinv function": the single-precision polynomials
_GILES_CENTRAL = (
    2.81022636e-08,
    3.43273939e-07,
    -3.5233877e-06,
    -4.39150654e-06,
    0.00021858087,
    -0.00125372503,
    -0.00417768164,
    0.246640727,
    1.50140941,
)
_GILES_TAIL = (
    -0.000200214257,
    0.000100950558,
    0.00134934322,
    -0.00367342844,
    0.00573950773,
    -0.0076224613,
    0.00943887047,
    1.00167406,
    2.83297682,
)


def _giles(w, coefficients):
    p = coefficients[0]
    for c in coefficients[1:]:
        p = c + p * w
    return p


def _on(x, tensor_op, array_fn):
    """Call the differentiable op on a tensor (a recorded backward), the array function otherwise."""
    return tensor_op(x) if isinstance(x, Tensor) else array_fn(_xp(x), x)


def _digamma_grad(g, x):
    return g * _on(x, digamma, _digamma_array)


def _trigamma_grad(g, x):
    return g * _on(x, _trigamma, lambda xp, a: _polygamma_array(xp, 1, a))


def _digamma_array(xp, x):
    return _polygamma_array(xp, 0, x)


lgamma = _unary("LgammaBackward0", _lgamma_array, _digamma_grad)
digamma = _unary("DigammaBackward0", _digamma_array, _trigamma_grad)
erf = _unary("ErfBackward0", _erf_array, lambda g, x: g * (2 / _SQRT_PI) * _xp(x).exp(-x * x))
erfc = _unary("ErfcBackward0", _erfc_array, lambda g, x: g * (-2 / _SQRT_PI) * _xp(x).exp(-x * x))
erfinv = _unary(
    "ErfinvBackward0", _erfinv_array, lambda g, out: g * (_SQRT_PI / 2) * _xp(out).exp(out * out), save="out"
)
_polygamma_ops = {}


def _polygamma_op(n):
    if n not in _polygamma_ops:

        def grad(g, x):
            return g * _on(x, _polygamma_op(n + 1), lambda xp, a: _polygamma_array(xp, n + 1, a))

        _polygamma_ops[n] = _unary("PolygammaBackward0", lambda xp, x: _polygamma_array(xp, n, x), grad)
    return _polygamma_ops[n]


def _trigamma(x):
    return _polygamma_op(1)(x)


def polygamma(n, input):
    """The n-th derivative of digamma (n >= 0)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative n. (got n={n!r})")
    return digamma(input) if n == 0 else _polygamma_op(n)(input)


def xlogy(input, other):
    """input * log(other), and 0 where input is 0 unless other is nan."""
    if not isinstance(input, Tensor):
        input = as_operand(input, other)
    other = as_operand(other, input)
    if not isinstance(other, Tensor):
        return (
            where(input == 0, input * 0, input * math.log(other)) if not math.isnan(other) else input * other
        )
    zero = (input == 0) & ~other.isnan()
    safe = where(zero, other.new_ones(()), other)  # keeps log(0) out of the places that give 0
    return where(zero, safe.new_zeros(()), input * safe.log())


_TINY = 1e-300


def _gammainc_array(xp, a, x):
    """The regularized lower incomplete gamma function P(a, x): its series below x = a + 1, the
    continued fraction of 1 - P (modified Lentz) above; 300 terms of either reach double precision
    for the shapes a distribution meets."""
    a, x = _f64(xp, a), _f64(xp, x)
    with np.errstate(all="ignore"):
        log_front = a * xp.log(x) - x - _lgamma_array(xp, a)
        use_series = x < a + 1
        sa, sx = xp.where(use_series, a, 1.0), xp.where(use_series, x, 0.5)
        term = 1.0 / sa
        total = term
        for n in range(1, 300):
            term = term * sx / (sa + n)
            total = total + term
        series = total * xp.exp(sa * xp.log(sx) - sx - _lgamma_array(xp, sa))
        ca, cx = xp.where(use_series, 1.0, a), xp.where(use_series, 5.0, x)
        b = cx + 1.0 - ca
        c = xp.full_like(b, 1.0 / _TINY)
        d = 1.0 / b
        h = d
        for i in range(1, 300):
            an = -i * (i - ca)
            b = b + 2.0
            d = an * d + b
            d = xp.where(xp.abs(d) < _TINY, _TINY, d)
            c = b + an / c
            c = xp.where(xp.abs(c) < _TINY, _TINY, c)
            d = 1.0 / d
            h = h * d * c
        fraction = 1.0 - xp.exp(log_front) * h
        out = xp.where(use_series, series, fraction)
        out = xp.where(x == 0, 0.0, xp.where(xp.isinf(x) & (x > 0), 1.0, out))
        out = xp.where((x < 0) | (a < 0) | xp.isnan(a) | xp.isnan(x), xp.nan, out)
    return out


class IgammaBackward0(Node):
    """d P(a, x) / dx is the gamma density; PyTorch has no derivative in a either."""

    __slots__ = ("shapes",)

    def backward(self, g):
        a, x = self.saved
        xp = _xp(g)
        if self.needs_grad(0):
            raise RuntimeError("derivative for aten::igamma is not implemented")
        with np.errstate(all="ignore"):
            density = xp.exp((a - 1) * xp.log(x) - x - _lgamma_array(xp, a))
        return (None, sum_to(g * density.astype(g.dtype, copy=False), self.shapes[1]))


def gammainc(input, other):
    """The regularized lower incomplete gamma function P(input, other) (torch.special.gammainc)."""
    if not isinstance(input, Tensor):
        input = as_operand(input, other)
    a, x, _ = operands(input, other, "gammainc")
    if not isinstance(x, type(a)):
        x = _xp(a).asarray(x, dtype=a.dtype)
    if a.dtype.kind != "f":
        a, x = a.astype(B.get_default_dtype().np), x.astype(B.get_default_dtype().np)
    xp = _xp(a)
    out = _gammainc_array(xp, a, x).astype(a.dtype, copy=False)
    node = None
    if needs_grad(input, other):
        node = IgammaBackward0()
        node.shapes = (a.shape, x.shape)
        record(node, (input, other), (a, x))
    return _result(out, node)


def gammaincc(input, other):
    """1 - gammainc(input, other), the regularized upper incomplete gamma function."""
    return 1 - gammainc(input, other)


__all__ = ["digamma", "erf", "erfc", "erfinv", "gammainc", "gammaincc", "lgamma", "polygamma", "xlogy"]
