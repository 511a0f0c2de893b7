"""The design document: edits, refusals with reasons, change events, serialisation, copy and paste."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.design import Change, Design, DesignError, Edge


def chain(*types):
    d = Design()
    nodes = [d.add_node(t) for t in types]
    for a, b in zip(nodes, nodes[1:]):
        d.connect(a.id, b.id)
    return d, nodes


def test_add_generates_unique_names_and_fills_defaults():
    d = Design()
    a = d.add_node("Conv2d")
    b = d.add_node("Conv2d", {"out_channels": 8}, pos=(10, 20))
    assert (a.name, b.name) == ("conv2d_1", "conv2d_2")
    assert b.params["out_channels"] == 8 and b.params["kernel_size"] == (3, 3) and b.pos == (10.0, 20.0)
    assert list(d.nodes) == [a.id, b.id]
    with pytest.raises(DesignError, match="out_features: expected a positive integer, got -2"):
        d.add_node("Linear", {"out_features": -2})
    with pytest.raises(DesignError, match="unknown layer type"):
        d.add_node("Conv9d")
    assert len(d.nodes) == 2


def test_connect_refusals_have_reasons():
    d, (i, l1, l2) = chain("Input", "Linear", "Linear")
    add = d.add_node("Add")
    assert "itself" in d.can_connect(l1.id, l1.id)
    loop, (x, y, z) = chain("ReLU", "Tanh", "Sigmoid")
    assert "cycle" in loop.can_connect(z.id, x.id)
    with pytest.raises(DesignError, match="cycle"):
        loop.connect(z.id, x.id)
    assert "already connected" in d.can_connect(i.id, l1.id)
    assert "no input port 2" in d.can_connect(l1.id, add.id, 0, 2)
    assert "no output port 1" in d.can_connect(l1.id, add.id, 1, 0)
    assert "no input port" in d.can_connect(l2.id, i.id)
    assert d.can_connect(l2.id, add.id, 0, 1) is None
    e = d.connect(l2.id, add.id, 0, 1)
    assert e == Edge(l2.id, 0, add.id, 1) and e in d.edges
    d.disconnect(e)
    assert e not in d.edges
    with pytest.raises(DesignError):
        d.disconnect(e)


def test_rename_rules():
    d, (i, l1) = chain("Input", "Linear")
    d.rename(l1.id, "hidden")
    assert l1.name == "hidden"
    for bad, why in [
        ("inputs x", "letters"),
        ("1st", "digit"),
        ("class", "reserved"),
        ("forward", "reserved"),
        ("a" * 65, "64"),
        ("", "non-empty"),
        (i.name, "already used"),
    ]:
        with pytest.raises(DesignError, match=why):
            d.rename(l1.id, bad)
    assert l1.name == "hidden"


def test_set_param_validates_and_changes_nothing_on_error():
    d, (i, c) = chain("Input", "Conv2d")
    d.set_param(c.id, "kernel_size", 5)
    assert c.params["kernel_size"] == (5, 5)
    with pytest.raises(DesignError, match="out_channels"):
        d.set_param(c.id, "out_channels", 0)
    with pytest.raises(DesignError, match="no parameter"):
        d.set_param(c.id, "colour", 1)
    assert c.params["out_channels"] == 16


def test_events_are_emitted_for_each_edit():
    d = Design()
    seen: list[Change] = []
    d.changed.connect(seen.append)
    a = d.add_node("Input")
    b = d.add_node("Linear")
    e = d.connect(a.id, b.id)
    d.set_param(b.id, "out_features", 3)
    d.set_param(b.id, "out_features", 3)  # no change, no event
    d.rename(b.id, "head")
    d.move(b.id, (5, 6))
    d.disconnect(e)
    node, edges = d.remove_node(a.id)
    d.changed.disconnect(seen.append)
    d.add_node("ReLU")
    kinds = [c.kind for c in seen]
    assert kinds == [
        "node_added",
        "node_added",
        "edge_added",
        "param_changed",
        "renamed",
        "moved",
        "edge_removed",
        "node_removed",
    ]
    assert seen[3].data == ("out_features", 64, 3) and seen[2].edge == e


def test_remove_and_restore_round_trip():
    d, (i, l1, l2) = chain("Input", "Linear", "Linear")
    before = d.to_dict()
    node, edges = d.remove_node(l1.id)
    assert len(edges) == 2 and l1.id not in d.nodes and d.edges == []
    d.restore_node(node, edges)
    after = d.to_dict()
    assert sorted(map(tuple, after["edges"])) == sorted(map(tuple, before["edges"]))
    assert {n["id"]: n for n in after["nodes"]} == {n["id"]: n for n in before["nodes"]}


def test_restore_puts_node_and_edges_back_in_their_places():
    d = Design()
    i = d.add_node("Input", {"shape": (4,)})
    a = d.add_node("Linear", {"out_features": 4})
    b = d.add_node("ReLU")
    add = d.add_node("Add")
    out = d.add_node("Output")
    d.connect(i.id, a.id)
    d.connect(a.id, b.id)
    d.connect(b.id, add.id, 0, 0)
    d.connect(i.id, add.id, 0, 1)
    d.connect(add.id, out.id)
    order, before = list(d.nodes), d.to_dict()
    for victim in (a, add, i):
        d.restore_node(*d.remove_node(victim.id))
        assert list(d.nodes) == order and d.to_dict() == before
    # several removals undone last first, as the undo stack does
    saved = [d.remove_node(n.id) for n in (b, i, add)]
    for node, edges in reversed(saved):
        d.restore_node(node, edges)
    assert list(d.nodes) == order and d.to_dict() == before


def test_restore_of_a_node_not_removed_here_goes_at_the_end():
    d, (i, l1) = chain("Input", "Linear")
    node = Design().add_node("ReLU", node_id="n99")
    d.restore_node(node)
    assert list(d.nodes) == [i.id, l1.id, "n99"]


def test_inference_is_cached_until_a_change():
    d, (i, l1) = chain("Input", "Linear")
    first = d.infer()
    assert d.infer() is first
    d.move(l1.id, (1, 1))
    assert d.infer() is first  # moving changes no shape
    d.set_param(l1.id, "out_features", 2)
    assert d.infer() is not first and d.infer().shapes[l1.id] == (None, 2)


def test_dict_round_trip_and_copy_paste():
    d, (i, l1, r, l2) = chain("Input", "Linear", "ReLU", "Linear")
    d.rename(l2.id, "head_2")
    copy = Design.from_dict(d.to_dict())
    assert copy.to_dict() == d.to_dict()
    clip = d.subgraph_dict([l1.id, r.id, l2.id])
    assert len(clip["nodes"]) == 3 and len(clip["edges"]) == 2
    pasted = d.paste_dict(clip)
    assert len(pasted) == 3 and len(d.nodes) == 7
    names = [n.name for n in d.nodes.values()]
    assert len(set(names)) == len(names) and "head_1" in names
    assert pasted[0].pos == (l1.pos[0] + 40, l1.pos[1] + 40)
    assert len(d.edges) == 5
    with pytest.raises(DesignError):
        Design.from_dict({"nodes": [{"id": "a", "type": "Nope", "name": "x"}], "edges": []})


def test_topological_order_follows_edges_on_a_diamond():
    d = Design()
    i = d.add_node("Input")
    a = d.add_node("Linear")
    b = d.add_node("Linear")
    add = d.add_node("Add")
    d.connect(i.id, b.id)
    d.connect(i.id, a.id)
    d.connect(b.id, add.id, 0, 0)
    d.connect(a.id, add.id, 0, 1)
    order = d.topological_order()
    assert order[0] == i.id and order[-1] == add.id and set(order) == set(d.nodes)


TYPES = ["Input", "Linear", "ReLU", "Add", "Concat", "Conv2d", "Flatten", "Output", "LayerNorm"]


@settings(derandomize=True, max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 100), st.integers(0, 100), st.integers(0, 3)), max_size=40
    )
)
def test_random_edit_sequences_keep_the_document_consistent(ops):
    d = Design()
    undo = []
    for op, a, b, c in ops:
        ids = list(d.nodes)
        try:
            if op == 0 or not ids:
                d.add_node(TYPES[a % len(TYPES)])
            elif op == 1:
                undo.append(d.remove_node(ids[a % len(ids)]))
            elif op == 2:
                d.connect(ids[a % len(ids)], ids[b % len(ids)], 0, c % 2)
            elif op == 3 and d.edges:
                d.disconnect(d.edges[a % len(d.edges)])
            elif op == 4:
                d.rename(ids[a % len(ids)], ["x1", "y_2", "bad name", "layer", "class"][b % 5])
            elif op == 5 and undo:
                node, edges = undo.pop()
                if node.name not in {n.name for n in d.nodes.values()}:
                    d.restore_node(node, [e for e in edges if e.src in d.nodes or e.src == node.id])
            elif op == 6:
                n = d.nodes[ids[a % len(ids)]]
                if n.spec.params:
                    d.set_param(n.id, n.spec.params[0].name, b - 10)
        except DesignError:
            pass
        # invariants: edges join real nodes and ports, each input port fed once, no cycle, unique names
        ports = set()
        for e in d.edges:
            assert e.src in d.nodes and e.dst in d.nodes
            assert e.dst_port < len(d.nodes[e.dst].spec.inputs)
            assert (e.dst, e.dst_port) not in ports
            ports.add((e.dst, e.dst_port))
        assert len(d.topological_order()) == len(d.nodes)
        names = [n.name for n in d.nodes.values()]
        assert len(set(names)) == len(names)
        inf = d.infer()  # never raises
        assert set(inf.shapes) == set(d.nodes)
    assert Design.from_dict(d.to_dict()).to_dict() == d.to_dict()
