"""Standard gamma draws with the implicit reparameterization gradient dx/dalpha = -(dF/dalpha) / f,
computed as PyTorch computes it (a series for small x, Rice's saddle point for large alpha, and a
bivariate rational approximation between), so that Gamma, Beta and Dirichlet have rsample."""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..autograd.graph import Node
from ..autograd.record import _result, needs_grad, record
from ..ops.special import _polygamma_array

_xp = B.array_module
# the rational approximation's coefficients: rows multiply 1, u, u^2; columns are p0..p3, q0..q3 in v
_COEF_UV = (
    (0.16009398, -0.094634809, 0.025146376, -0.0030648343, 1, 0.32668115, 0.10406089, 0.0014179084),
    (
        0.53487893,
        0.1298071,
        0.065735949,
        -0.0015649758,
        0.16639465,
        0.020070113,
        -0.0035938915,
        -0.00058392623,
    ),
    (
        0.040121004,
        -0.0065914022,
        -0.0026286047,
        -0.0013441777,
        0.017050642,
        -0.0021309326,
        0.00085092367,
        -1.5247877e-07,
    ),
)


def _small_x(xp, alpha, x):
    """Taylor series of the incomplete gamma function, for x < 0.8."""
    numer, denom = xp.ones_like(x), alpha
    series1, series2 = numer / denom, numer / (denom * denom)
    for i in range(1, 6):
        numer = numer * (-x / i)
        denom = denom + 1
        series1 = series1 + numer / denom
        series2 = series2 + numer / (denom * denom)
    pow_x_alpha = x**alpha
    gamma_pdf = x ** (alpha - 1) * xp.exp(-x)
    gamma_cdf = pow_x_alpha * series1
    gamma_cdf_alpha = (xp.log(x) - _polygamma_array(xp, 0, alpha)) * gamma_cdf - pow_x_alpha * series2
    result = -gamma_cdf_alpha / gamma_pdf
    return xp.where(xp.isnan(result), 0.0, result)


def _large_alpha(xp, alpha, x):
    """Rice's saddle point expansion, for alpha > 8."""
    near = (0.9 * alpha <= x) & (x <= 1.1 * alpha)
    numer_1 = 1 + 24 * alpha * (1 + 12 * alpha)
    numer_2 = 1440 * (alpha * alpha) + 6 * x * (53 - 120 * x) - 65 * x * x / alpha + alpha * (107 + 3600 * x)
    at_mode = numer_1 * numer_2 / (1244160 * (alpha * alpha) * (alpha * alpha))
    denom = xp.sqrt(8 * alpha)
    term2 = denom / (alpha - x)
    term3 = (x - alpha - alpha * xp.log(x / alpha)) ** -1.5
    term23 = xp.where(x < alpha, term2 - term3, term2 + term3)
    term1 = xp.log(x / alpha) * term23 - xp.sqrt(2 / alpha) * (alpha + x) / ((alpha - x) * (alpha - x))
    stirling = 1 + 1 / (12 * alpha) * (1 + 1 / (24 * alpha))
    return xp.where(near, at_mode, -stirling * x * term1 / denom)


def _rational(xp, alpha, x):
    u, v = xp.log(x / alpha), xp.log(alpha)
    c = [a + u * (b + u * d) for a, b, d in zip(*_COEF_UV)]
    p = c[0] + v * (c[1] + v * (c[2] + v * c[3]))
    q = c[4] + v * (c[5] + v * (c[6] + v * c[7]))
    return xp.exp(p / q)


def standard_gamma_grad(alpha, x):
    """d x / d alpha for standard gamma draws x of concentration alpha (arrays)."""
    xp = _xp(x)
    a, s = alpha.astype(np.float64), x.astype(np.float64)
    with np.errstate(all="ignore"):
        small = s < 0.8
        big = (~small) & (a > 8.0)
        safe_a = xp.where(small | big, 2.0, a)
        out = _rational(xp, safe_a, xp.where(small | big, 2.0, s))
        out = xp.where(big, _large_alpha(xp, xp.where(big, a, 10.0), xp.where(big, s, 5.0)), out)
        out = xp.where(small, _small_x(xp, xp.where(small, a, 1.0), xp.where(small, s, 0.5)), out)
    return out.astype(x.dtype, copy=False)


class StandardGammaBackward0(Node):
    __slots__ = ()

    def backward(self, g):
        alpha, x = self.saved
        return (g * standard_gamma_grad(alpha, x),)


def standard_gamma(concentration):
    """Draws of Gamma(concentration, 1), differentiable in the concentration."""
    alpha = concentration._data
    xp = _xp(alpha)
    draws = B.rng(None, xp).standard_gamma(alpha.astype(np.float64))
    tiny = float(np.finfo(alpha.dtype).tiny)
    x = xp.maximum(draws, tiny).astype(alpha.dtype, copy=False)  # a draw of 0 would break log_prob
    node = None
    if needs_grad(concentration):
        node = StandardGammaBackward0()
        record(node, (concentration,), (alpha, x))
    return _result(x, node)
