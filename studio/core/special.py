"""`studio.core.special`: the gamma and error functions of `torch.special` under their names there;
other names raise an AttributeError that names the PyTorch function."""

from __future__ import annotations

import math as _math

from ._missing import module_getattr as _module_getattr
from .ops.special import digamma, erf, erfc, erfinv, gammainc, gammaincc, polygamma, xlogy
from .ops.special import lgamma as gammaln

psi = digamma

__all__ = [
    "digamma",
    "erf",
    "erfc",
    "erfinv",
    "gammainc",
    "gammaincc",
    "gammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "xlogy",
]


def ndtr(input):
    """The standard normal distribution function."""
    return 0.5 * (1 + erf(input * _math.sqrt(0.5)))


def ndtri(input):
    """The inverse of the standard normal distribution function."""
    return _math.sqrt(2) * erfinv(2 * input - 1)


def __getattr__(name):
    return _module_getattr(__name__, "torch.special", name)
