"""Padding layers: reflection, replication, circular, zero and constant padding of 1, 2 or 3 trailing
spatial dims, as modules over `functional.pad`.

`padding` is an int (the same on every side) or a tuple of 2 * n ints: (left, right) for the last dim,
then (top, bottom), then (front, back). Input: (N, C, *spatial) or (C, *spatial).
"""

from __future__ import annotations

import numbers

from . import functional as F
from .module import Module

__all__ = [
    "CircularPad1d",
    "CircularPad2d",
    "CircularPad3d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ConstantPad3d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReflectionPad3d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "ReplicationPad3d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ZeroPad3d",
]


def _padding(padding, n, name):
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * (2 * n)
    pads = tuple(padding)
    if len(pads) != 2 * n or not all(isinstance(p, numbers.Integral) for p in pads):
        raise ValueError(f"{name}: padding must be an int or a tuple of {2 * n} ints, got {padding!r}")
    return tuple(int(p) for p in pads)


class _PadNd(Module):
    """A padding layer: `mode` and `n` (the number of padded dims) come from the subclass."""

    mode = "constant"
    n = 2

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = _padding(padding, self.n, type(self).__name__)
        if self.mode == "constant":
            self.value = value

    def forward(self, input):
        if input.ndim not in (self.n + 1, self.n + 2):
            raise ValueError(
                f"{type(self).__name__}: expected {self.n + 1}D or {self.n + 2}D input "
                f"(got {input.ndim}D input)"
            )
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}" if self.mode == "constant" else f"{self.padding}"


def _family(mode, prefix):
    classes = []
    for n in (1, 2, 3):
        doc = f"Pad the last {n} dim(s) of an input by {mode} padding (see the module docstring)."
        classes.append(type(f"{prefix}{n}d", (_PadNd,), {"mode": mode, "n": n, "__doc__": doc}))
    return classes


ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _family("reflect", "ReflectionPad")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _family("replicate", "ReplicationPad")
CircularPad1d, CircularPad2d, CircularPad3d = _family("circular", "CircularPad")
ConstantPad1d, ConstantPad2d, ConstantPad3d = _family("constant", "ConstantPad")


class _ZeroPad:
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


ZeroPad1d = type("ZeroPad1d", (_ZeroPad, ConstantPad1d), {"__doc__": "Pad the last dim with zeros."})
ZeroPad2d = type("ZeroPad2d", (_ZeroPad, ConstantPad2d), {"__doc__": "Pad the last 2 dims with zeros."})
ZeroPad3d = type("ZeroPad3d", (_ZeroPad, ConstantPad3d), {"__doc__": "Pad the last 3 dims with zeros."})
for _name in __all__:
    globals()[_name].__module__ = __name__
