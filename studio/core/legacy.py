"""The typed tensor classes of PyTorch's first API: `torch.FloatTensor([1, 2])`, `torch.LongTensor(3)`,
`isinstance(x, torch.FloatTensor)`, `x.type(torch.DoubleTensor)` and `x.type() == 'torch.FloatTensor'`.

Each class stands for a (dtype, device type) pair: calling it makes a Tensor of that type, and a
Tensor is an instance of it when its dtype and device match.
"""

from __future__ import annotations

import numbers

from . import backend as B

_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "bfloat16": "BFloat16Tensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
}


class _TensorType(type):
    """The metaclass of the typed classes: construction and `isinstance` by dtype and device."""

    def __instancecheck__(cls, obj):
        from .tensor import Tensor

        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.is_cuda == cls.is_cuda

    def __call__(cls, *args, device=None):
        from .creation import empty
        from .creation import tensor as _tensor
        from .tensor import Size, Tensor

        dev = "cuda" if cls.is_cuda and device is None else device
        if not args:
            return empty(0, dtype=cls.dtype, device=dev)
        if len(args) == 1 and isinstance(args[0], Tensor):
            t = args[0]
            if t.dtype is not cls.dtype:
                raise TypeError(
                    f"{cls.__name__}(tensor): expected a tensor of type {cls.dtype.name}, "
                    f"got {t.dtype.name}; use tensor.to({cls.dtype.name}) to convert"
                )
            return t.detach()
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args) or (
            len(args) == 1 and isinstance(args[0], Size)
        ):
            sizes = tuple(args[0]) if isinstance(args[0], Size) else args
            return empty(*sizes, dtype=cls.dtype, device=dev)
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}(): expected data or integer sizes, got {args!r}")
        return _tensor(args[0], dtype=cls.dtype, device=dev)

    def __repr__(cls):
        return f"<class '{cls.__qualname__}'>"


def _make(dtype, cuda):
    name = _NAMES[dtype.name]
    qualname = f"torch.cuda.{name}" if cuda else f"torch.{name}"
    cls = _TensorType(name, (), {"dtype": dtype, "is_cuda": cuda, "is_sparse": False})
    cls.__qualname__ = qualname
    cls.__module__ = "studio.core.cuda" if cuda else "studio.core"
    return cls


CPU_TYPES = {name: _make(d, False) for d in B.ALL_DTYPES if (name := _NAMES.get(d.name))}
CUDA_TYPES = {name: _make(d, True) for d in B.ALL_DTYPES if (name := _NAMES.get(d.name))}
_BY_QUALNAME = {c.__qualname__: c for c in (*CPU_TYPES.values(), *CUDA_TYPES.values())}


def type_name(t) -> str:
    """`t.type()`: PyTorch's name of the tensor's type, e.g. 'torch.FloatTensor', 'torch.cuda.LongTensor'."""
    return ("torch.cuda." if t.is_cuda else "torch.") + _NAMES[t.dtype.name]


def resolve(spec):
    """(dtype, cuda or None) for `t.type(spec)`: a typed class, its name, a dtype or a dtype's name."""
    if isinstance(spec, _TensorType):
        return spec.dtype, spec.is_cuda
    if isinstance(spec, str):
        key = spec if spec.startswith("torch.") else "torch." + spec
        if key in _BY_QUALNAME:
            cls = _BY_QUALNAME[key]
            return cls.dtype, cls.is_cuda
        try:
            return B.as_dtype(spec.rpartition(".")[2]), None
        except TypeError:
            raise ValueError(f"invalid type: {spec!r}") from None
    return B.as_dtype(spec), None
