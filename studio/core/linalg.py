"""`studio.core.linalg`: the part of `torch.linalg` Studio has (Cholesky factors and triangular solves);
other names raise an AttributeError that names the PyTorch function."""

from __future__ import annotations

from ._missing import module_getattr as _module_getattr
from .ops.triangular import cholesky, solve_triangular

__all__ = ["cholesky", "solve_triangular"]


def __getattr__(name):
    return _module_getattr(__name__, "torch.linalg", name)
