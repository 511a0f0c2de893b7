"""QConfig: which observers watch a layer's output (activation) and its weight, as in PyTorch."""

from __future__ import annotations

from collections import namedtuple

from ... import backend as B
from .observer import (
    HistogramObserver,
    PlaceholderObserver,
    default_dynamic_quant_observer,
    default_observer,
    default_per_channel_weight_observer,
    default_weight_observer,
)

__all__ = [
    "QConfig",
    "default_dynamic_qconfig",
    "default_per_channel_qconfig",
    "default_qconfig",
    "float16_dynamic_qconfig",
    "get_default_qconfig",
    "per_channel_dynamic_qconfig",
]


class QConfig(namedtuple("QConfig", ["activation", "weight"])):
    """Observer constructors (classes or `Observer.with_args(...)`) for activations and weights."""

    __slots__ = ()

    def __new__(cls, activation, weight):
        from ...nn.module import Module

        if isinstance(activation, Module) or isinstance(weight, Module):
            raise ValueError(
                "QConfig received observer instance, please pass observer class instead. Use "
                "MyObserver.with_args(x=1) to override arguments to constructor if needed"
            )
        return super().__new__(cls, activation, weight)


default_qconfig = QConfig(activation=default_observer, weight=default_weight_observer)
default_per_channel_qconfig = QConfig(activation=default_observer, weight=default_per_channel_weight_observer)
default_dynamic_qconfig = QConfig(activation=default_dynamic_quant_observer, weight=default_weight_observer)
per_channel_dynamic_qconfig = QConfig(
    activation=default_dynamic_quant_observer, weight=default_per_channel_weight_observer
)
float16_dynamic_qconfig = QConfig(
    activation=PlaceholderObserver.with_args(dtype=B.float16, is_dynamic=True),
    weight=PlaceholderObserver.with_args(dtype=B.float16),
)


def get_default_qconfig(backend="x86", version=0):
    """The post-training qconfig PyTorch uses for `backend` ('x86', 'fbgemm', 'qnnpack' or 'onednn')."""
    backends = ("fbgemm", "x86", "qnnpack", "onednn")
    if backend not in backends:
        raise AssertionError(f"backend: {backend} not supported. backend must be one of {list(backends)}")
    if version != 0:
        raise AssertionError(f"get_default_qconfig: version must be 0, got {version}")
    if backend == "qnnpack":
        return QConfig(
            activation=HistogramObserver.with_args(reduce_range=False), weight=default_weight_observer
        )
    reduce_range = backend in ("fbgemm", "x86")
    return QConfig(
        activation=HistogramObserver.with_args(reduce_range=reduce_range),
        weight=default_per_channel_weight_observer,
    )
