"""Turn the autograd graph behind a tensor into plain nodes and edges, for display.

The walk is iterative (an explicit stack), so graphs of any depth work; it reads only what the
nodes already hold (`next_functions`, `_meta`) and computes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..tensor import Tensor
from .graph import AccumulateGrad

GraphEdge = tuple  # (src_id, dst_id): data flows from src to dst


@dataclass(slots=True)
class GraphNode:
    """One box of the drawing.

    kind: 'op' (a recorded operation), 'param' (a module parameter), 'input' (one of the given
    inputs) or 'leaf' (any other tensor that requires grad). label: the op's name such as
    "AddmmBackward0", or the parameter's name such as "0.weight". shape: a tuple of ints, or None
    when unknown; dtype: a name such as "float32", or None.
    """

    id: int
    kind: str
    label: str
    shape: tuple | None
    dtype: str | None


@dataclass
class GraphWalk:
    """The graph in forward direction: `edges` holds (src_id, dst_id) pairs of `nodes` ids."""

    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    output_id: int | None = None
    op_ids: dict = field(default_factory=dict)  # id(grad_fn node) -> id of its GraphNode

    def id_of(self, grad_fn) -> int | None:
        """The GraphNode id of an op node of the walked graph (e.g. a tensor's `grad_fn`), or None."""
        return self.op_ids.get(id(grad_fn))

    def node(self, node_id: int) -> GraphNode:
        return self.nodes[node_id]


_DTYPE_NAMES: dict = {}


def _dtype_name(dtype):
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def _meta_fields(meta):
    if meta is None:
        return None, None
    shape, dtype = meta
    return tuple(shape), None if dtype is None else _dtype_name(dtype)


def graph_walk(tensor, module=None, inputs=None) -> GraphWalk:
    """Nodes and edges of the graph that made `tensor`.

    `module` (anything with `named_parameters()`) names the parameter leaves; `inputs` (a tensor or
    a sequence of tensors) marks those leaves as inputs, labelled "input" or "input i". An input that
    does not require grad has no edge in the autograd graph: it is listed as a node without edges.
    Node ids are positions in `nodes`, in the order the walk meets them (the output's node first).
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph_walk: expected a Tensor, got {type(tensor).__name__}")
    if inputs is None:
        inputs = ()
    elif isinstance(inputs, Tensor):
        inputs = (inputs,)
    else:
        inputs = tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"graph_walk: inputs must be Tensors, got {type(t).__name__} at position {i}")
    input_label = {id(t): ("input" if len(inputs) == 1 else f"input {i}") for i, t in enumerate(inputs)}
    param_name = {}
    if module is not None:
        if not hasattr(module, "named_parameters"):
            raise TypeError(f"graph_walk: module must have named_parameters(), got {type(module).__name__}")
        for name, p in module.named_parameters():
            param_name.setdefault(id(p), name)

    walk = GraphWalk()
    nodes, edges = walk.nodes, walk.edges
    ids = {}  # graph node (or leaf tensor id) -> GraphNode id
    placed_inputs = set()

    def leaf_node(t):
        key = ("leaf", id(t))
        nid = ids.get(key)
        if nid is None:
            nid = ids[key] = len(nodes)
            shape, dtype = tuple(t._data.shape), t.dtype.name
            if id(t) in input_label:
                kind, label = "input", input_label[id(t)]
                placed_inputs.add(id(t))
            elif id(t) in param_name:
                kind, label = "param", param_name[id(t)]
            else:
                kind, label = "leaf", t.name or "leaf"
            nodes.append(GraphNode(nid, kind, label, shape, dtype))
        return nid

    root = tensor.grad_fn
    if root is None:
        walk.output_id = leaf_node(tensor)
    else:
        stack = [root]
        ids[root] = 0
        shape, dtype = _meta_fields(root.output_meta(tensor._output_nr))
        nodes.append(GraphNode(0, "op", root.name(), shape, dtype))
        walk.output_id = 0
        pop, push, add_edge, add_node, get_id = stack.pop, stack.append, edges.append, nodes.append, ids.get
        while stack:
            fn = pop()
            dst = ids[fn]
            for nxt, _nr in fn.next_functions:
                if nxt is None:
                    continue
                if nxt.__class__ is AccumulateGrad:
                    add_edge((leaf_node(nxt.variable), dst))
                    continue
                src = get_id(nxt)
                if src is None:
                    src = ids[nxt] = len(nodes)
                    shape, dtype = _meta_fields(nxt.output_meta(0))
                    add_node(GraphNode(src, "op", nxt.name(), shape, dtype))
                    push(nxt)
                add_edge((src, dst))
    for t in inputs:
        if id(t) not in placed_inputs:
            leaf_node(t)
    walk.op_ids = {id(k): v for k, v in ids.items() if not isinstance(k, tuple)}
    return walk
