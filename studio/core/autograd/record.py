"""Recording ops into the graph: whether an op must be recorded, the edges its inputs' gradients
flow into, and the tensors it returns.

Every differentiable op follows one pattern:

    out = <compute the result array>
    if needs_grad(a, b):
        node = MyOpBackward()          # a Node subclass beside the op, holding what backward reads
        record(node, (a, b), saved)
        return _result(out, node)
    return _result(out)

and its `backward` asks `self.needs_grad(i)` before computing input i's gradient.
"""

from __future__ import annotations

import numpy as np

from .. import backend as B
from ..tensor import Tensor
from . import grad_mode, recompute
from . import views as _views
from .graph import NO_EDGE, history_edge, leaf_edge

_ndarray, _asarray = B.host_ndarray, np.asarray
_np_generic = () if B.CUPY_LIKE else np.generic  # numpy scalars are a bug where arrays are cupy-like
_new = object.__new__


def needs_grad(*tensors) -> bool:
    """Whether an op on these inputs (tensors, numbers or None) must be recorded."""
    if not grad_mode._enabled:
        return False
    for t in tensors:
        if t.__class__ is Tensor:
            if t._rg:
                return True
        elif isinstance(t, Tensor) and t._rg:
            return True
    return False


def edge(t):
    """The (node, output index) a gradient for `t` flows into, or (None, 0) when it needs none."""
    if t is None or not (t.__class__ is Tensor or isinstance(t, Tensor)):
        return NO_EDGE
    v = t._view if t.__class__ is Tensor else _views.view_info(t)
    if v is not None and v[1] != t._vc[0]:
        _views.refresh(t)
    return history_edge(t)


def record(node, inputs, saved=None):
    """Wire `node` to its inputs: the one step every recorded op takes."""
    edges = []
    add = edges.append
    for t in inputs:
        # inlined `edge`: this runs once per input of every recorded op
        if t.__class__ is Tensor:
            v = t._view
            if v is not None and v[1] != t._vc[0]:
                _views.refresh(t)  # a view whose base changed in place since its grad_fn was set
        elif not isinstance(t, Tensor):
            add(NO_EDGE)
            continue
        if not t._rg:
            add(NO_EDGE)
        elif t.grad_fn is not None:
            add((t.grad_fn, t._output_nr))
        else:
            add(leaf_edge(t))
    node.next_functions = tuple(edges)
    # inside a checkpointed segment the saved values are dropped, to be recomputed in backward
    node.saved = saved if recompute.active is None else recompute.active.keep(saved)
    return node


def _result(data, node=None, output_nr=0, vc=None):
    """An op's output: attach `node` as grad_fn when it was recorded, and tell it the output's meta."""
    if type(data) is not _ndarray:
        # numpy returns full reductions (every loss) as scalars: the common case skips the general check
        data = _asarray(data) if isinstance(data, _np_generic) else B.ensure_array(data)
    t = _new(Tensor)
    t._data = data
    t.grad = None
    t._vc = [0] if vc is None else vc
    t._retains_grad = False
    t._hooks = None
    t._accum = None
    t._output_nr = output_nr
    t._name = None
    t._view = None
    if node is None:
        t._rg = False
        t.grad_fn = None
    else:
        t._rg = True
        t.grad_fn = node
        if output_nr == 0 and node._meta is None:
            node._meta = (data.shape, data.dtype)
        else:
            node.set_output_meta(output_nr, data.shape, data.dtype)
    return t
