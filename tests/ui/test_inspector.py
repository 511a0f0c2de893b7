"""Tests for the computation-graph inspector's layout: leaves sit next to the operation that reads them."""

from __future__ import annotations

from studio.ui.layout import layered_layout


def _columns(pos):
    xs = sorted({x for x, _ in pos.values()})
    return {n: xs.index(x) for n, (x, _) in pos.items()}


def test_sources_near_consumers_moves_a_late_parameter_next_to_its_operation():
    # x -> a -> b -> c -> d, and the parameter w is read only by d
    edges = [("x", 0, "a", 0), ("a", 0, "b", 0), ("b", 0, "c", 0), ("c", 0, "d", 0), ("w", 0, "d", 1)]
    ids = ["d", "c", "b", "a", "x", "w"]
    near = _columns(layered_layout(ids, edges, sources_near_consumers=True))
    assert near["x"] == 0 and near["a"] == 1 and near["d"] == 4
    assert near["w"] == near["d"] - 1 == near["c"]
    # the canvas keeps every source in the first column
    plain = _columns(layered_layout(ids, edges))
    assert plain["w"] == plain["x"] == 0 and plain["d"] == 4


def test_a_source_read_twice_sits_before_its_first_consumer():
    edges = [("x", 0, "a", 0), ("a", 0, "b", 0), ("b", 0, "c", 0), ("w", 0, "b", 1), ("w", 0, "c", 1)]
    col = _columns(layered_layout(["x", "a", "b", "c", "w"], edges, sources_near_consumers=True))
    assert col["w"] == col["b"] - 1 == col["a"]


def test_sources_near_consumers_keeps_isolated_nodes_and_cycles_in_place():
    edges = [("p", 0, "q", 0), ("q", 0, "p", 0), ("s", 0, "q", 1)]
    pos = layered_layout(["p", "q", "s", "lonely"], edges, sources_near_consumers=True)
    assert set(pos) == {"p", "q", "s", "lonely"}
    col = _columns(pos)
    assert col["s"] == col["q"] - 1 and col["lonely"] == 0


def test_parameters_beside_their_consumers_are_ordered_to_avoid_crossings():
    # two parallel chains, each with a parameter joining at its end: each parameter sits on its chain's side
    edges = [
        ("x", 0, "a1", 0),
        ("a1", 0, "a2", 0),
        ("a2", 0, "a3", 0),
        ("x", 0, "b1", 0),
        ("b1", 0, "b2", 0),
        ("b2", 0, "b3", 0),
        ("wa", 0, "a3", 1),
        ("wb", 0, "b3", 1),
    ]
    ids = ["wb", "wa", "x", "b1", "a1", "b2", "a2", "b3", "a3"]
    pos = layered_layout(ids, edges, sources_near_consumers=True)
    (above, below) = ("a", "b") if pos["a3"][1] < pos["b3"][1] else ("b", "a")
    assert pos[f"w{above}"][1] < pos[f"w{below}"][1]


def test_a_long_chain_with_many_parameters_lays_out():
    n = 3000
    edges = [(i, 0, i + 1, 0) for i in range(n - 1)] + [(-i - 1, 0, i, 1) for i in range(1, n)]
    ids = list(range(n)) + [-i - 1 for i in range(1, n)]
    pos = layered_layout(ids, edges, sources_near_consumers=True)
    assert len(pos) == len(ids)
    assert all(pos[-i - 1][0] == pos[i - 1][0] for i in range(1, n))


def test_inspector_draws_each_parameter_one_column_before_its_operation(qapp):
    import studio.core as core
    from studio.core.autograd.graph_walk import graph_walk
    from studio.training.inspect import Inspection
    from studio.ui.inspector import GraphInspector

    core.manual_seed(0)
    model = core.nn.Sequential(
        core.nn.Linear(3, 4), core.nn.ReLU(), core.nn.Linear(4, 4), core.nn.ReLU(), core.nn.Linear(4, 2)
    )
    x = core.randn(5, 3)
    loss = model(x).pow(2).mean()
    walk = graph_walk(loss, module=model, inputs=x)
    view = GraphInspector()
    view.show_inspection(Inspection(walk=walk, loss=float(loss.item()), loss_id=walk.output_id))
    consumers: dict = {}
    for s, d in walk.edges:
        consumers.setdefault(s, []).append(d)
    params = [n.id for n in walk.nodes if n.kind == "param"]
    assert len(params) == 6
    for p in params:
        first = min(view.items[d].pos().x() for d in consumers[p])
        assert view.items[p].pos().x() == first - view.column_step
    # the last layer's weight is not in the first column any more
    xs = [item.pos().x() for item in view.items.values()]
    assert max(view.items[p].pos().x() for p in params) > min(xs)
    view.deleteLater()


def test_a_wide_graph_opens_readable_and_fit_shows_all_of_it(qapp):
    import studio.core as core
    from studio.core.autograd.graph_walk import graph_walk
    from studio.training.inspect import Inspection
    from studio.ui.inspector import READABLE_SCALE, GraphInspector

    core.manual_seed(0)
    w = core.randn(4, 4, requires_grad=True)
    h = core.randn(2, 4)
    for _ in range(30):
        h = (h @ w).tanh()
    walk = graph_walk(h.sum())
    view = GraphInspector()
    view.resize(700, 400)
    view.show_inspection(Inspection(walk=walk, loss=0.0, loss_id=walk.output_id))
    assert view.view.transform().m11() == READABLE_SCALE
    view.view.fit()
    assert view.view.transform().m11() < READABLE_SCALE
    view.deleteLater()


def test_box_text_is_never_cut_and_boxes_do_not_overlap(qapp):
    from PySide6.QtGui import QFontMetricsF

    import studio.core as core
    from studio.core.autograd.graph_walk import graph_walk
    from studio.training.inspect import Inspection
    from studio.ui.inspector import GraphInspector, GraphNodeItem

    core.manual_seed(0)
    model = core.nn.Sequential()
    model.add_module("a_rather_long_layer_name_that_needs_room", core.nn.Linear(3, 4))
    model.add_module("out", core.nn.Linear(4, 2))
    x = core.randn(5, 3)
    loss = model(x).pow(2).mean()
    walk = graph_walk(loss, module=model, inputs=x)
    view = GraphInspector()
    view.show_inspection(Inspection(walk=walk, loss=float(loss.item()), loss_id=walk.output_id))
    items = list(view.items.values())
    for item in items:
        text = QFontMetricsF(item.title_font).horizontalAdvance(item.title)
        assert text + 2 * GraphNodeItem.PAD <= item.width
    assert max(i.width for i in items) > 170  # the long name widened its box
    for k, a in enumerate(items):
        for b in items[k + 1 :]:
            assert (
                not a.sceneBoundingRect()
                .adjusted(2, 2, -2, -2)
                .intersects(b.sceneBoundingRect().adjusted(2, 2, -2, -2))
            )
    view.deleteLater()
