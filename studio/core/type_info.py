"""Facts about dtypes, as `torch.finfo`, `torch.iinfo`, `torch.promote_types`, `torch.result_type` and
`torch.can_cast` give them."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from . import backend as B


class finfo:
    """The limits of a floating-point dtype: bits, eps, max, min, tiny (= smallest_normal), resolution."""

    def __init__(self, type=None):
        d = B.get_default_dtype() if type is None else B.as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type, got {d}")
        info = ml_dtypes.finfo(d.np) if d is B.bfloat16 else np.finfo(d.np)
        self.dtype = d.name
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)

    def __repr__(self):
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
            f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})"
        )


class iinfo:
    """The limits of an integer dtype: bits, max, min."""

    def __init__(self, type):
        d = B.as_dtype(type)
        if d.is_floating_point or d is B.bool_:
            raise TypeError(f"torch.iinfo() requires an integer input type, got {d}")
        info = np.iinfo(d.np)
        self.dtype = d.name
        self.bits, self.max, self.min = int(info.bits), int(info.max), int(info.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def promote_types(type1, type2):
    """The smallest dtype both can be cast to without losing their kind, by PyTorch's promotion."""
    return B.promote_types(B.as_dtype(type1), B.as_dtype(type2))


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two operands (tensors or Python numbers) returns."""
    from .tensor import Tensor

    if isinstance(tensor1, Tensor) and isinstance(tensor2, Tensor):
        from .ops._util import result_dtype

        return B.from_numpy_dtype(result_dtype(tensor1, tensor2))
    if isinstance(tensor1, Tensor):
        return B.dtype_with_scalar(tensor1.dtype, tensor2)
    if isinstance(tensor2, Tensor):
        return B.dtype_with_scalar(tensor2.dtype, tensor1)
    return B.promote_types(B.dtype_of_python(tensor1), B.dtype_of_python(tensor2))


def can_cast(from_, to) -> bool:
    """Whether a cast from `from_` to `to` keeps the kind (no float to integer, no number to bool)."""
    return B.as_dtype(from_)._category <= B.as_dtype(to)._category


__all__ = ["can_cast", "finfo", "iinfo", "promote_types", "result_type"]
