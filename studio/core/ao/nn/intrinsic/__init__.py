"""Fused float modules, as `torch.ao.nn.intrinsic`: a layer and the activation after it, quantized as one.

`fuse_modules` makes them; `convert` turns each into one quantized layer whose ReLU is a clamp of
the integers, so the observer sees the activation's output rather than the layer's.
"""

from __future__ import annotations

from ....nn import activation as _act
from ....nn import containers as _containers
from ....nn import conv as _conv
from ....nn import linear as _linear
from ....nn import normalization as _norm
from . import quantized

__all__ = ["BNReLU2d", "ConvReLU1d", "ConvReLU2d", "LinearReLU", "quantized"]


class _FusedModule(_containers.Sequential):
    """A Sequential of modules that quantization treats as one layer."""

    _TYPES: tuple = ()

    def __init__(self, *modules):
        for m, kind in zip(modules, self._TYPES):
            if type(m) is not kind:
                raise AssertionError(
                    f"{type(self).__name__}: expected modules of types "
                    f"{[k.__name__ for k in self._TYPES]}, got {[type(x).__name__ for x in modules]}"
                )
        super().__init__(*modules)


class ConvReLU1d(_FusedModule):
    """Conv1d followed by ReLU."""

    _TYPES = (_conv.Conv1d, _act.ReLU)


class ConvReLU2d(_FusedModule):
    """Conv2d followed by ReLU."""

    _TYPES = (_conv.Conv2d, _act.ReLU)


class LinearReLU(_FusedModule):
    """Linear followed by ReLU."""

    _TYPES = (_linear.Linear, _act.ReLU)


class BNReLU2d(_FusedModule):
    """BatchNorm2d followed by ReLU."""

    _TYPES = (_norm.BatchNorm2d, _act.ReLU)
