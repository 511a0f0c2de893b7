"""Autograd through views: in-place changes of a view rewrite its base's history, as PyTorch's do.

A view tensor carries `_view = (base, version, base_grad_fn, kind)`: its root base, the shared
version counter's value and the base's grad_fn when its own grad_fn was last set, and how it was
made. An in-place op on a view gives the base a `CopySlices` node (the base's old values with the
view's region replaced by the op's result) and the view an `AsStridedBackward0` of that node. A
view whose base changed since (through the base or a sibling view) gets the same regenerated
grad_fn the next time it is used.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from . import grad_mode
from .graph import Node, history_edge

DEFAULT, MULTI_OUTPUT, NO_GRAD = 0, 1, 2  # how a view was made (PyTorch's CreationMeta)

_NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given "
    "that this use case is ambiguous and error-prone, it is forbidden. You can clarify your code by "
    "moving both the view and the inplace either both inside the no_grad block (if you don't want the "
    "inplace to be tracked) or both outside (if you want the inplace to be tracked)."
)

_MULTI_OUTPUT_TAIL = (
    "This view is the output of a function that returns multiple views. Such functions do not allow "
    "the output views to be modified inplace. You should replace the inplace operation by an "
    "out-of-place one."
)


def view_info(t):
    """`t._view`; tensor subclasses whose constructor skips the slot get None written there first."""
    try:
        return t._view
    except AttributeError:
        t._view = None
        return None


def mark_view(out, input, kind):
    """Record that op result `out` views `input`'s memory (its root base, to be exact)."""
    info = input._view if input.__class__ is out.__class__ else view_info(input)
    if info is None:
        base = input
    else:
        base = info[0]
        if info[3] != DEFAULT:
            kind = info[3]  # a view of a restricted view is restricted alike, as in PyTorch
    if kind == DEFAULT and not grad_mode._enabled:
        kind = NO_GRAD
    out._view = (base, out._vc[0], base.grad_fn, kind)
    return out


def _ptr(a):
    return a.ctypes.data if type(a) is np.ndarray else a.data.ptr


def _extent(a):
    """The lowest and highest byte offsets, from its data pointer, of the elements of array `a`."""
    low = sum(min(0, st * (n - 1)) for st, n in zip(a.strides, a.shape))
    high = sum(max(0, st * (n - 1)) for st, n in zip(a.strides, a.shape))
    return low, high


def _check_inside(view, base):
    # strided access is unchecked: refuse a view whose array no longer lies in its base's memory
    # (after `.data` replaced one of them) rather than touch memory outside the gradient
    if view.size == 0:
        return
    start = _ptr(view) - _ptr(base)
    vlow, vhigh = _extent(view)
    blow, bhigh = _extent(base)
    if view.dtype != base.dtype or start + vlow < blow or start + vhigh > bhigh or base.size == 0:
        raise RuntimeError(
            f"a view of shape {tuple(view.shape)} no longer shares the memory of its base of shape "
            f"{tuple(base.shape)} (was .data replaced?): it cannot be changed in place with autograd"
        )


class Geometry:
    """Where a view's elements sit in its base, to cut the same region out of base-shaped gradients."""

    __slots__ = ("base_shape", "shape", "strides", "offset", "flat")

    def __init__(self, view, base):
        self.base_shape = base.shape
        self.shape = view.shape
        size = view.itemsize
        self.flat = None
        _check_inside(view, base)
        strides = tuple(s // size for s in view.strides)
        overlap = any(st == 0 and n > 1 for st, n in zip(strides, view.shape))
        if base.flags.c_contiguous and not overlap:
            self.strides = strides
            self.offset = (_ptr(view) - _ptr(base)) // size if view.size else 0
            return
        # any other layout: the flat C-order positions in the base of every element of the view
        xp = B.array_module(base)
        self.strides = self.offset = None
        if view.size == 0:
            self.flat = xp.zeros(view.shape, np.int64)
            return
        bstrides = [s // size for s in base.strides]
        low, high = (e // size for e in _extent(base))
        image = xp.zeros(high - low + 1, np.int64)
        strided = xp.lib.stride_tricks.as_strided
        cells = strided(image[-low:], base.shape, [s * 8 for s in bstrides])
        cells[...] = xp.arange(base.size, dtype=np.int64).reshape(base.shape)
        start = (_ptr(view) - _ptr(base)) // size - low
        self.flat = strided(image[start:], view.shape, [s * 8 for s in strides]).copy()

    def take(self, g):
        """The view's region of base-shaped array `g` (C-contiguous): a view, or a copy for odd layouts."""
        if self.flat is not None:
            return g.reshape(-1)[self.flat]
        strided = B.array_module(g).lib.stride_tricks.as_strided
        return strided(g.reshape(-1)[self.offset :], self.shape, [s * g.itemsize for s in self.strides])

    def put(self, g, values, accumulate=False):
        """Write (or add, where the view repeats elements) `values` into the view's region of `g`."""
        if self.flat is not None:
            xp = B.array_module(g)
            flat = g.reshape(-1)
            if accumulate:
                xp.add.at(flat, self.flat.reshape(-1), xp.broadcast_to(values, self.shape).reshape(-1))
            else:
                flat[self.flat] = values
            return
        self.take(g)[...] = values


class CopySlices(Node):
    """The base after an in-place op on its view: old values, the view's region replaced by the result.

    Inputs: the base before the op, and the op's result (the view's new values).
    """

    __slots__ = ("geometry",)

    def backward(self, g):
        xp = B.array_module(g)
        g = xp.ascontiguousarray(g)
        g_region = None
        if self.needs_grad(1):
            g_region = self.geometry.take(g)
            g_region = g_region.copy() if g_region.base is not None else g_region
        g_base = None
        if self.needs_grad(0):
            g_base = g.copy()
            self.geometry.put(g_base, 0)
        return (g_base, g_region)


class AsStridedBackward0(Node):
    """A view's grad_fn once its base changed in place: the gradient lands in the base's region."""

    __slots__ = ("geometry",)

    def backward(self, g):
        geo = self.geometry
        gb = B.array_module(g).zeros(geo.base_shape, g.dtype)
        geo.put(gb, g, accumulate=geo.flat is not None)
        return (gb,)


def _as_strided_node(t, base, geometry, base_edge):
    node = AsStridedBackward0()
    node.geometry = geometry
    node.next_functions = (base_edge,)
    node._meta = (t._data.shape, t._data.dtype)
    t.grad_fn = node
    t._output_nr = 0
    t._rg = True


def refresh(t, strict=True):
    """Bring view `t`'s grad_fn up to date after its base changed in place (call when versions differ).

    Not `strict` (for property reads), a view that may not be used any more is left as it is, to
    raise when it is used.
    """
    base, _, base_fn, kind = t._view
    # a view made without grad mode stays out of the graph (PyTorch refuses to use it at all)
    if base.grad_fn is not base_fn and base._rg and kind != NO_GRAD:
        if kind == MULTI_OUTPUT:
            if not strict:
                return
            raise RuntimeError(
                f"{_multi_output_name(t)} is a view and its base or another view of its base has been "
                f"modified inplace. {_MULTI_OUTPUT_TAIL}"
            )
        _as_strided_node(t, base, Geometry(t._data, base._data), history_edge(base))
    t._view = (base, t._vc[0], base.grad_fn, kind)


def _multi_output_name(t):
    name = t.grad_fn.name() if t.grad_fn is not None else "a function"
    if name.endswith("Backward0"):
        name = name[: -len("Backward0")]
    return f"Output {t._output_nr} of {name}"


def check_inplace(t, info):
    """The errors PyTorch raises for an in-place op on view `t` with grad mode on."""
    base, version, _, kind = info
    if kind == MULTI_OUTPUT:
        raise RuntimeError(
            f"{_multi_output_name(t)} is a view and is being modified inplace. {_MULTI_OUTPUT_TAIL}"
        )
    if kind == NO_GRAD and base._rg:
        raise RuntimeError(_NO_GRAD_VIEW)
    if base._rg and base.grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    if version != t._vc[0]:
        refresh(t)


def commit(t, node, output_nr=0):
    """Make `node` (output `output_nr`) the history of `t`, just changed in place; rebase views."""
    info = view_info(t)
    if info is None:
        t.grad_fn = node
        t._output_nr = output_nr
        t._rg = True
        return
    base = info[0]
    geometry = Geometry(t._data, base._data)
    cs = CopySlices()
    cs.geometry = geometry
    cs.next_functions = (history_edge(base), (node, output_nr))
    cs._meta = (base._data.shape, base._data.dtype)
    base.grad_fn = cs
    base._output_nr = 0
    base._rg = True
    _as_strided_node(t, base, geometry, (cs, 0))
    t._view = (base, t._vc[0], cs, info[3])
