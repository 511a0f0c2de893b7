"""`Variable`, the wrapper of PyTorch before 0.4: today a Tensor is a Variable, and `Variable(t)` is
a tensor that shares `t`'s values, as in PyTorch."""

from __future__ import annotations

import warnings


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """`Variable(data, requires_grad=False)`: a leaf sharing `data`'s values (a Tensor)."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from ..creation import tensor as _tensor
        from ..tensor import Tensor

        if volatile:
            warnings.warn(
                "volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                stacklevel=2,
            )
        if data is None:
            data = _tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
