"""The backward engine: an iterative walk of the graph in dependency order (no recursion).

Gradients travel as raw arrays; a node runs once every gradient flowing into it has arrived. When
the backward pass is itself recorded (`create_graph=True`), gradients travel as tensors instead and
each node's backward runs as differentiable operations (see `recorded`).
"""

from __future__ import annotations

from itertools import filterfalse

from ..tensor import Tensor, _wrap
from . import grad_mode, recorded
from .graph import _FREED, AccumulateGrad
from .recompute import Deferred
from .record import edge

# how many recorded backward passes are running: numpy must not quietly turn their tensors into arrays
recording = 0

_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward."
)


_capturing = 0  # `grad` walks in progress, which accumulate into no leaf


def capturing() -> bool:
    """Whether a backward walk that only returns gradients (`autograd.grad`) is running."""
    return _capturing > 0


def _dependencies(roots):
    """Count, for every node reachable from the roots, how many edges lead into it."""
    deps = {}
    root_set = set(roots)
    stack = list(root_set)
    pop, push = stack.pop, stack.append
    get = deps.get
    while stack:
        for nxt, _ in pop().next_functions:
            if nxt is None:
                continue
            d = get(nxt)
            if d is None:
                deps[nxt] = 1
                if nxt not in root_set:
                    push(nxt)
            else:
                deps[nxt] = d + 1
    return deps


def _needed(roots, targets):
    """The nodes from which some target node can be reached: the only ones `grad` has to run."""
    parents = {}
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            ps = parents.get(nxt)
            if ps is None:
                parents[nxt] = [node]
            else:
                ps.append(node)
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    needed = {t for t in targets if t in seen}
    stack = list(needed)
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def run_backward(roots, grads, retain_graph=False, capture=None, accumulate=True, create_graph=False):
    """Propagate `grads` (arrays, or tensors when `create_graph`) from `roots` (node, output index) pairs.

    `capture` maps (node, output index) to a slot index: the gradient arriving there is stored in
    the returned list instead of flowing on into leaves (for `autograd.grad`). With `create_graph`
    the pass is recorded, so that its gradients can be differentiated again.
    """
    global recording, _capturing
    buffers = {}
    if len(roots) == 1 and roots[0][0].n_outputs == 1:
        root_nodes = (roots[0][0],)
        buffers[root_nodes[0]] = grads[0]
    else:
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
    # `grad` runs only the nodes that lead to the requested inputs: other branches are never computed
    needed = _needed(root_nodes, {n for n, _ in capture}) if capture and not accumulate else None
    ready = list(filterfalse(deps.__contains__, root_nodes))  # C-level: no comprehension frame
    captured = [None] * (max(capture.values()) + 1) if capture else None
    handed_out = set()  # ids of arrays already given to a leaf: a second leaf gets a copy
    pop_ready, push_ready = ready.pop, ready.append
    pop_buf = buffers.pop
    get_buf = buffers.get
    acc_cls = AccumulateGrad
    freed = _FREED

    prev_mode = grad_mode._enabled
    grad_mode._enabled = graph = bool(create_graph)
    if graph:
        recording += 1
    _capturing += not accumulate
    try:
        while ready:
            node = pop_ready()
            buf = pop_buf(node, None)
            if needed is not None and node not in needed:
                continue
            multi = node.n_outputs != 1
            if node._pre_hooks:
                for hook in node._pre_hooks:
                    res = hook(buf if multi else [buf])
                    if res is not None:
                        buf = list(res) if multi else res[0]
            is_leaf = node.__class__ is acc_cls
            if is_leaf and buf is not None and node.variable._hooks:
                buf = _leaf_hooks(node.variable, buf)
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
            if is_leaf:
                if accumulate and buf is not None:
                    if graph:
                        _accumulate_recorded(node.variable, buf)
                    else:
                        _accumulate(node.variable, buf, handed_out, hooks=False)
                continue
            nexts = node.next_functions
            if needed is not None:
                pruned = tuple(e if e[0] in needed else (None, 0) for e in nexts)
                if all(e[0] is None for e in pruned):
                    continue  # a requested node whose inputs lead to nothing requested
                if pruned != nexts:
                    nexts = pruned
            saved = node.saved
            if saved is freed:
                raise RuntimeError(_SECOND_BACKWARD)
            if saved.__class__ is Deferred:  # dropped by activation checkpointing: recompute it
                saved = node.saved = saved.materialize()
            if node._versions:
                node.check_versions()
            if multi:
                if all(g is None for g in buf):
                    in_grads = (None,) * len(nexts)
                elif graph:
                    in_grads = _recorded_backward(node, buf, nexts)
                elif nexts is node.next_functions:
                    in_grads = node.backward(*buf)
                else:
                    in_grads = _backward_pruned(node, nexts, buf)
            elif buf is None:
                in_grads = (None,) * len(nexts)
            elif graph:
                in_grads = _recorded_backward(node, (buf,), nexts)
            elif nexts is node.next_functions:
                in_grads = node.backward(buf)
            else:
                in_grads = _backward_pruned(node, nexts, (buf,))
            if node._post_hooks:
                for hook in node._post_hooks:
                    hook(in_grads, buf if multi else (buf,))
            if not retain_graph and saved is not None:
                node.release()
            for (nxt, nr), g in zip(nexts, in_grads):
                if nxt is None:
                    continue
                if g is not None:
                    if nxt.n_outputs == 1:
                        prev = get_buf(nxt)
                        buffers[nxt] = g if prev is None else prev + g
                    else:
                        b = get_buf(nxt)
                        if b is None:
                            b = buffers[nxt] = [None] * nxt.n_outputs
                        b[nr] = g if b[nr] is None else b[nr] + g
                left = deps[nxt] - 1
                if left:
                    deps[nxt] = left
                else:
                    push_ready(nxt)
    finally:
        grad_mode._enabled = prev_mode
        if graph:
            recording -= 1
        _capturing -= not accumulate
    return captured


def _backward_pruned(node, nexts, grads):
    """Run `node.backward` seeing only the input edges in `nexts`, so it skips the other gradients."""
    full = node.next_functions
    node.next_functions = nexts
    try:
        return node.backward(*grads)
    finally:
        node.next_functions = full


def _call(node, nexts, grads):
    if nexts is node.next_functions:
        return node.backward(*grads)
    return _backward_pruned(node, nexts, grads)


def _recorded_backward(node, grads, nexts):
    """Run `node`'s backward on tensors while recording: the gradients it returns have a graph too."""
    if node.saved_roles is None:
        return recorded.refuse(node, grads, lambda array_grads: _call(node, nexts, array_grads))
    if node.decomposed:
        return _decomposed_backward(node, grads, nexts)
    saved = node.saved
    node.saved = recorded.unpack(node, node.next_functions)
    try:
        res = _call(node, nexts, grads)
    finally:
        node.saved = saved
    return tuple(recorded.as_grad_tensor(g) for g in res)


def _decomposed_backward(node, grads, nexts):
    """The gradients of a fused op through its decomposition into differentiable ops.

    The decomposition runs on stand-ins for the op's inputs (`Alias` nodes, cut off while the local
    pass runs, so that it stays local); afterwards each stand-in is joined to its input's edge.
    """
    aliases = []
    for e in node.next_functions:
        a = None
        if e[0] is not None:
            a = recorded.Alias()
            a._meta = e[0].output_meta(e[1])
        aliases.append(a)
    inputs = recorded.unpack(node, [(a, 0) for a in aliases])
    outs = node.decompose(*inputs)
    outs = outs if isinstance(outs, tuple) else (outs,)
    roots, root_grads = [], []
    for o, g in zip(outs, grads):
        if g is not None and o._rg:
            roots.append(edge(o))
            root_grads.append(g)
    capture = {(a, 0): i for i, a in enumerate(aliases) if a is not None and nexts[i][0] is not None}
    captured = []
    if roots and capture:
        captured = run_backward(roots, root_grads, True, capture, accumulate=False, create_graph=True)
    for a, e in zip(aliases, node.next_functions):
        if a is not None:
            a.next_functions = (e,)
    return tuple(
        captured[i] if a is not None and (a, 0) in capture and i < len(captured) else None
        for i, a in enumerate(aliases)
    )


def _leaf_hooks(t, g):
    """Run the hooks registered on leaf `t` on its gradient (an array, or a tensor when recording)."""
    as_tensor = isinstance(g, Tensor)
    for hook in t._hooks:
        res = hook(g if as_tensor else _wrap(g))
        if res is not None:
            g = res if as_tensor else res._data
    return g


def _accumulate(t, g, handed_out, hooks=True):
    """Add gradient array `g` into leaf `t`'s `.grad`, running the leaf's hooks first unless told not to."""
    if hooks and t._hooks:
        g = _leaf_hooks(t, g)
    dst = t._data
    if g.shape != dst.shape:
        if g.size != dst.size:
            raise RuntimeError(
                f"the gradient for a leaf of shape {tuple(dst.shape)} has shape {tuple(g.shape)}"
            )
        g = g.reshape(dst.shape)
    if g.dtype != dst.dtype:
        g = g.astype(dst.dtype)
    grad = t.grad
    if grad is None:
        # A gradient array may be a read-only broadcast view or shared with another leaf:
        # own it before handing it out, since users change .grad in place.
        if g.base is not None or id(g) in handed_out or not g.flags.writeable:
            g = g.copy()
        handed_out.add(id(g))
        t.grad = _wrap(g)
    else:
        grad._data = grad._data + g


def _accumulate_recorded(t, g, hooks=False):
    """`.grad` of leaf `t` from a recorded pass: a tensor with a graph, added out of place (as PyTorch)."""
    if hooks and t._hooks:
        g = _leaf_hooks(t, g)
    dst = t._data
    if g._data.shape != dst.shape:
        g = g.reshape(dst.shape)
    if g._data.dtype != dst.dtype:
        g = g.to(dst.dtype)
    t.grad = g.clone() if t.grad is None else t.grad + g
