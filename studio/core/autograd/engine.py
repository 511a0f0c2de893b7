"""The backward engine: an iterative walk of the graph in dependency order (no recursion).

Gradients travel as raw arrays; a node runs once every gradient flowing into it has arrived.
"""

from __future__ import annotations

from . import grad_mode
from .graph import _FREED, AccumulateGrad


def _dependencies(roots):
    """Count, for every node reachable from the roots, how many edges lead into it."""
    deps = {}
    seen = set()
    stack = [n for n in roots if n is not None]
    for n in stack:
        seen.add(n)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def run_backward(roots, grads, retain_graph=False, capture=None, accumulate=True):
    """Propagate `grads` (arrays) from `roots` (pairs of node and output index).

    `capture` maps (node, output index) to a slot index: the gradient arriving there is stored in
    the returned list instead of flowing on into leaves (for `autograd.grad`).
    """
    from ..tensor import _wrap

    buffers = {}
    for (node, nr), g in zip(roots, grads):
        if node.n_outputs == 1:
            buffers[node] = _add(buffers.get(node), g)
        else:
            buf = buffers.get(node)
            if buf is None:
                buf = buffers[node] = [None] * node.n_outputs
            buf[nr] = _add(buf[nr], g)

    root_nodes = list(dict.fromkeys(n for n, _ in roots))
    deps = _dependencies(root_nodes)
    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    captured = [None] * (max(capture.values()) + 1) if capture else None
    handed_out = set()  # ids of arrays already given to a leaf: a second leaf gets a copy

    prev_mode = grad_mode._enabled
    grad_mode._enabled = False
    try:
        while ready:
            node = ready.pop()
            buf = buffers.pop(node, None)
            multi = node.n_outputs != 1
            if node._pre_hooks:
                for hook in node._pre_hooks:
                    res = hook(buf if multi else [buf])
                    if res is not None:
                        buf = res if multi else res[0]
            if capture:
                if multi:
                    for i in range(node.n_outputs):
                        slot = capture.get((node, i))
                        if slot is not None:
                            captured[slot] = buf[i]
                else:
                    slot = capture.get((node, 0))
                    if slot is not None:
                        captured[slot] = buf
            if type(node) is AccumulateGrad:
                if accumulate and buf is not None:
                    _accumulate(node.variable, buf, handed_out, _wrap)
                continue
            if node.saved is _FREED:
                raise RuntimeError(
                    "Trying to backward through the graph a second time (or directly access saved "
                    "tensors after they have already been freed). Saved intermediate values of the "
                    "graph are freed when you call .backward() or autograd.grad(). Specify "
                    "retain_graph=True if you need to backward through the graph a second time or if "
                    "you need to access saved tensors after calling backward."
                )
            if node._versions:
                node.check_versions()
            if multi:
                if all(g is None for g in buf):
                    in_grads = (None,) * len(node.next_functions)
                else:
                    in_grads = node.backward(*buf)
            elif buf is None:
                in_grads = (None,) * len(node.next_functions)
            else:
                in_grads = node.backward(buf)
            if node._post_hooks:
                for hook in node._post_hooks:
                    hook(in_grads, buf if multi else (buf,))
            if not retain_graph:
                node.release()
            for (nxt, nr), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    if nxt.n_outputs == 1:
                        prev = buffers.get(nxt)
                        buffers[nxt] = g if prev is None else prev + g
                    else:
                        b = buffers.get(nxt)
                        if b is None:
                            b = buffers[nxt] = [None] * nxt.n_outputs
                        b[nr] = g if b[nr] is None else b[nr] + g
                left = deps[nxt] - 1
                deps[nxt] = left
                if left == 0:
                    ready.append(nxt)
    finally:
        grad_mode._enabled = prev_mode
    return captured


def _accumulate(t, g, handed_out, _wrap):
    if t._hooks:
        for hook in t._hooks:
            res = hook(_wrap(g))
            if res is not None:
                g = res._data
    if g.shape != t._data.shape:
        g = g.reshape(t._data.shape) if g.size == t._data.size else g
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    if t.grad is None:
        # A gradient array may be a read-only broadcast view or shared with another leaf:
        # own it before handing it out, since users change .grad in place.
        if id(g) in handed_out or g.base is not None or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        t.grad = _wrap(g)
    else:
        t.grad._data = t.grad._data + g
