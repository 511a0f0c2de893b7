"""The engine functions the distributions are written with, gathered under PyTorch's names from the
modules that define them (the package `studio.core` imports the distributions, not the reverse)."""

from __future__ import annotations

import types

from ..autograd.grad_mode import enable_grad, no_grad
from ..backend import get_default_dtype, long
from ..creation import arange, as_tensor, eye, full, full_like, tensor, zeros_like
from ..ops.activation import softmax
from ..ops.broadcast import broadcast_shapes, broadcast_tensors
from ..ops.elementwise import abs, clamp, exp, expm1, isclose, log, log1p, lt, sigmoid, where
from ..ops.linalg import matmul
from ..ops.misc import one_hot
from ..ops.shape import stack
from ..ops.special import digamma, erf, erfinv, gammainc, lgamma, xlogy
from ..ops.triangular import cholesky, solve_triangular
from ..tensor import Size
from ..type_info import finfo

linalg = types.SimpleNamespace(cholesky=cholesky, solve_triangular=solve_triangular)

__all__ = [
    "Size",
    "abs",
    "arange",
    "as_tensor",
    "broadcast_shapes",
    "broadcast_tensors",
    "clamp",
    "digamma",
    "enable_grad",
    "erf",
    "erfinv",
    "exp",
    "expm1",
    "eye",
    "finfo",
    "full",
    "full_like",
    "gammainc",
    "get_default_dtype",
    "isclose",
    "lgamma",
    "linalg",
    "log",
    "log1p",
    "long",
    "lt",
    "matmul",
    "no_grad",
    "one_hot",
    "sigmoid",
    "softmax",
    "solve_triangular",
    "stack",
    "tensor",
    "where",
    "xlogy",
    "zeros_like",
]
