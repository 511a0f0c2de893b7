"""The registry of layer converters: which layer classes export whole, and the call that runs one."""

from __future__ import annotations

from ..tensor import Tensor
from .errors import UnsupportedOperatorError

CONVERTERS: dict = {}


def converter(*names):
    def register(fn):
        for n in names:
            CONVERTERS[n] = fn
        return fn

    return register


def _converter_for(module):
    for cls in type(module).__mro__:
        if cls.__module__.startswith("studio.core.nn") and cls.__name__ in CONVERTERS:
            return CONVERTERS[cls.__name__]
    return None


def is_convertible(module) -> bool:
    return _converter_for(module) is not None


def _unsupported(node, why: str):
    return UnsupportedOperatorError([f"{node.name()}: {why}"])


def convert_module(ex, node):
    fn = _converter_for(node.module)
    tensors = [a for a in node.args if isinstance(a, Tensor)]
    inputs = [ex.value(t) for t in tensors]
    ex.g.scope = node.path
    try:
        outs = fn(ex, node, node.module, node.path, inputs, node.kwargs)
    finally:
        ex.g.scope = ""
    return list(outs) + [None] * (len(node.outputs) - len(outs))


def _meta(node, i=0):
    t = node.outputs[i]
    return tuple(t.shape), t._data.dtype
