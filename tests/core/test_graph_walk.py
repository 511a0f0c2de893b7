"""The graph walk: the autograd graph behind a tensor as plain nodes and edges."""

from __future__ import annotations

import gc

import pytest

import studio.core as sc
from studio.core.autograd import GraphNode, GraphWalk, graph_walk


class _TinyModel:
    """Anything with named_parameters() names the parameter leaves."""

    def __init__(self):
        self.weight = sc.randn(4, 3, requires_grad=True)
        self.bias = sc.zeros(4, requires_grad=True)

    def named_parameters(self):
        yield "layer.weight", self.weight
        yield "layer.bias", self.bias

    def __call__(self, x):
        return (x @ self.weight.t() + self.bias).tanh()


def _by_label(walk):
    return {n.label: n for n in walk.nodes}


def test_walk_of_a_small_model():
    model = _TinyModel()
    x = sc.randn(2, 3, requires_grad=True)
    loss = model(x).sum()
    walk = graph_walk(loss, module=model, inputs=x)
    assert isinstance(walk, GraphWalk) and all(isinstance(n, GraphNode) for n in walk.nodes)
    assert [n.id for n in walk.nodes] == list(range(len(walk.nodes)))
    nodes = _by_label(walk)
    assert walk.output_id == 0 and walk.nodes[0].label == "SumBackward0"
    assert walk.nodes[0].shape == () and walk.nodes[0].dtype == "float32"
    assert nodes["TanhBackward0"].shape == (2, 4) and nodes["TanhBackward0"].kind == "op"
    assert nodes["layer.weight"].kind == "param" and nodes["layer.weight"].shape == (4, 3)
    assert nodes["layer.bias"].kind == "param" and nodes["layer.bias"].dtype == "float32"
    assert nodes["input"].kind == "input" and nodes["input"].shape == (2, 3)
    edges = set(walk.edges)
    assert (nodes["TanhBackward0"].id, 0) in edges
    assert (nodes["layer.bias"].id, nodes["AddBackward0"].id) in edges
    # every edge runs forward: from a producer to the node that consumes it
    ids = {n.id for n in walk.nodes}
    assert all(s in ids and d in ids for s, d in walk.edges)
    leaves = {n.id for n in walk.nodes if n.kind != "op"}
    assert not any(d in leaves for _, d in walk.edges)


def test_leaves_without_module_and_unconnected_inputs():
    a = sc.ones(2, requires_grad=True)
    b = sc.ones(2)  # needs no grad: not part of the autograd graph
    y = a * b
    walk = graph_walk(y, inputs=[a, b])
    kinds = [(n.kind, n.label) for n in walk.nodes]
    assert ("input", "input 0") in kinds and ("input", "input 1") in kinds
    unconnected = next(n for n in walk.nodes if n.label == "input 1")
    assert all(unconnected.id not in e for e in walk.edges)
    walk = graph_walk(y)
    assert [n.kind for n in walk.nodes] == ["op", "leaf"]


def test_shared_nodes_appear_once_with_all_their_edges():
    x = sc.ones(3, requires_grad=True)
    h = x.exp()
    y = h * h + h
    walk = graph_walk(y)
    exp_nodes = [n for n in walk.nodes if n.label == "ExpBackward0"]
    assert len(exp_nodes) == 1
    out_of_exp = [e for e in walk.edges if e[0] == exp_nodes[0].id]
    assert len(out_of_exp) == 3  # twice into the product, once into the sum
    assert sum(1 for n in walk.nodes if n.kind == "leaf") == 1


def test_walk_of_a_leaf_and_of_an_int_result():
    x = sc.ones(2, requires_grad=True)
    walk = graph_walk(x, inputs=x)
    assert len(walk.nodes) == 1 and walk.nodes[0].kind == "input" and walk.edges == []
    c = sc.arange(3)
    walk = graph_walk(c)
    assert walk.nodes[0].kind == "leaf" and walk.nodes[0].dtype == "int64"


def test_multi_output_and_cast_nodes_report_meta():
    x = sc.ones(2, 3, requires_grad=True)
    y = x.double() * 2
    walk = graph_walk(y)
    nodes = _by_label(walk)
    assert nodes["MulBackward0"].dtype == "float64"
    assert nodes["ToCopyBackward0"].dtype == "float64" and nodes["ToCopyBackward0"].shape == (2, 3)


def test_walk_of_a_100k_node_graph_is_iterative():
    x = sc.ones(1, requires_grad=True)
    y = x
    gc.disable()  # the collector's passes over a growing heap, not the walk, would dominate the time
    try:
        for _ in range(100_000):
            y = y * 1.0
        walk = graph_walk(y, inputs=x)
    finally:
        gc.enable()
    assert len(walk.nodes) == 100_001 and len(walk.edges) == 100_000
    assert walk.nodes[-1].kind == "input"


def test_bad_arguments():
    with pytest.raises(TypeError, match="Tensor"):
        graph_walk([1, 2])
    with pytest.raises(TypeError, match="named_parameters"):
        graph_walk(sc.ones(1), module=object())
    with pytest.raises(TypeError, match="inputs must be Tensors"):
        graph_walk(sc.ones(1), inputs=[1])
