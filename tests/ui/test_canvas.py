"""Canvas gestures: dropping layers (onto a connection too), connecting ports by mouse (replacing an
input's connection), moving, deleting, copying, zooming, panning, arrow keys; the first view of every
template fits readably."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent, QFontInfo
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.design.project import TEMPLATES_DIR, load_project
from studio.ui.canvas import READABLE_PX, title_font
from studio.ui.palette import layer_mime_data


def drop_layer(view, type_, view_pos: QPoint, palette=None):
    """Deliver the drop a palette drag ends with, carrying the palette's own mime data."""
    mime = palette.tree.mimeData([palette.item_for(type_)]) if palette is not None else layer_mime_data(type_)
    event = QDropEvent(
        QPointF(view_pos),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    view.dropEvent(event)
    return event


def node_named(design, name):
    return next(n for n in design.nodes.values() if n.name == name)


def test_drop_palette_entry_adds_node_where_dropped(window):
    view, design = window.view, window.editor.design
    before = set(design.nodes)
    where = QPoint(300, 200)
    event = drop_layer(view, "Conv2d", where, window.palette_panel)
    assert event.isAccepted()
    (new_id,) = set(design.nodes) - before
    node = design.nodes[new_id]
    expected = view.mapToScene(where)
    assert node.type == "Conv2d"
    assert node.pos == (expected.x(), expected.y())
    assert window.scene.nodes[new_id].pos() == expected
    assert window.scene.selected_node_ids() == [new_id]
    window.undo_stack.undo()
    assert new_id not in design.nodes and new_id not in window.scene.nodes
    window.undo_stack.redo()
    assert design.nodes[new_id].pos == (expected.x(), expected.y())


def test_palette_mime_data_comes_from_the_tree(window):
    palette = window.palette_panel
    mime = palette.tree.mimeData([palette.item_for("Linear")])
    assert bytes(mime.data("application/x-studio-layer")).decode() == "Linear"


def test_connect_two_ports_by_mouse_and_undo(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    a = design.add_node("Linear", {"out_features": 8}, pos=(0, 400)).id
    b = design.add_node("ReLU", pos=(300, 420)).id
    window.undo_stack.clear()
    view.centerOn(150, 410)
    start = scene.nodes[a].outputs[0].scene_center()
    end = scene.nodes[b].inputs[0].scene_center()
    mouse.drag(view, start, end)
    assert (a, 0, b, 0) in [tuple(e) for e in design.edges]
    assert len(scene.edges) == len(design.edges)
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert (a, 0, b, 0) not in [tuple(e) for e in design.edges]
    window.undo_stack.redo()
    assert (a, 0, b, 0) in [tuple(e) for e in design.edges]


def test_connect_from_input_port_to_node_body(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    a = design.add_node("Linear", pos=(0, 400)).id
    b = design.add_node("Tanh", pos=(300, 400)).id
    view.centerOn(150, 400)
    mouse.drag(view, scene.nodes[b].inputs[0].scene_center(), scene.nodes[a].pos())
    assert (a, 0, b, 0) in [tuple(e) for e in design.edges]


def test_cycle_is_refused_with_reason_in_status_bar(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    a = design.add_node("Linear", pos=(0, 400)).id
    b = design.add_node("ReLU", pos=(300, 400)).id
    design.connect(a, b)
    edges_before = list(design.edges)
    count = window.undo_stack.count()
    view.centerOn(150, 400)
    mouse.drag(view, scene.nodes[b].outputs[0].scene_center(), scene.nodes[a].inputs[0].scene_center())
    assert design.edges == edges_before
    assert window.undo_stack.count() == count
    assert "cycle" in window.statusBar().currentMessage()


def test_output_to_output_is_refused(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    a = design.add_node("Linear", pos=(0, 400)).id
    b = design.add_node("Linear", pos=(300, 400)).id
    view.centerOn(150, 400)
    mouse.drag(view, scene.nodes[a].outputs[0].scene_center(), scene.nodes[b].outputs[0].scene_center())
    assert not [e for e in design.edges if a in (e.src, e.dst)]
    assert "output" in window.statusBar().currentMessage()


def test_dragging_five_nodes_is_one_undo_step(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    ids = list(design.nodes)
    before = {n: design.nodes[n].pos for n in ids}
    window.select_all()
    count = window.undo_stack.count()
    view.fit_all()
    grab = scene.nodes[ids[0]].pos() + QPointF(0, -10)
    mouse.drag(view, grab, grab + QPointF(60, 30), steps=8)
    moved = {n: design.nodes[n].pos for n in ids}
    assert all(moved[n] != before[n] for n in ids)
    dx = moved[ids[0]][0] - before[ids[0]][0]
    assert all(abs((moved[n][0] - before[n][0]) - dx) < 1e-6 for n in ids)
    assert window.undo_stack.count() == count + 1
    assert all(scene.nodes[n].pos() == QPointF(*moved[n]) for n in ids)
    window.undo_stack.undo()
    assert {n: design.nodes[n].pos for n in ids} == before
    assert scene.nodes[ids[0]].pos() == QPointF(*before[ids[0]])
    window.undo_stack.redo()
    assert {n: design.nodes[n].pos for n in ids} == moved


def test_rubber_band_selects_nodes(window, mouse):
    scene, view = window.scene, window.view
    view.fit_all()
    rect = scene.nodes_rect()
    mouse.drag(view, rect.topLeft() - QPointF(30, 30), rect.bottomRight() + QPointF(30, 30))
    assert set(scene.selected_node_ids()) == set(window.editor.design.nodes)


def test_delete_and_undo_restores_nodes_and_edges(window):
    design, scene = window.editor.design, window.scene
    before_nodes, before_edges = set(design.nodes), sorted(design.edges)
    relu = node_named(design, "relu_1").id
    scene.select_nodes([relu])
    window.act_delete.trigger()
    assert relu not in design.nodes and relu not in scene.nodes
    assert len(scene.edges) == len(design.edges) == len(before_edges) - 2
    window.undo_stack.undo()
    assert set(design.nodes) == before_nodes and sorted(design.edges) == before_edges
    assert len(scene.edges) == len(before_edges)


def test_delete_selected_edge(window):
    design, scene = window.editor.design, window.scene
    edge = design.edges[0]
    scene.clearSelection()
    scene.edges[edge].setSelected(True)
    window.act_delete.trigger()
    assert edge not in design.edges
    window.undo_stack.undo()
    assert edge in design.edges


def test_duplicate_keeps_internal_edges(window):
    design, scene = window.editor.design, window.scene
    ids = [node_named(design, "linear_1").id, node_named(design, "relu_1").id]
    scene.select_nodes(ids)
    n_nodes, n_edges = len(design.nodes), len(design.edges)
    window.act_duplicate.trigger()
    assert len(design.nodes) == n_nodes + 2 and len(design.edges) == n_edges + 1
    assert len(scene.selected_node_ids()) == 2 and set(scene.selected_node_ids()).isdisjoint(ids)
    window.undo_stack.undo()
    assert len(design.nodes) == n_nodes and len(scene.nodes) == n_nodes


def test_copy_paste_between_two_windows(make_window):
    first, second = make_window(), make_window()
    source = first.editor.design
    ids = [node_named(source, "linear_1").id, node_named(source, "relu_1").id]
    first.scene.select_nodes(ids)
    first.act_copy.trigger()
    assert QApplication.clipboard().mimeData().hasFormat("application/x-studio-nodes+json")
    target = second.editor.design
    n_nodes, n_edges = len(target.nodes), len(target.edges)
    second.act_paste.trigger()
    assert len(target.nodes) == n_nodes + 2 and len(target.edges) == n_edges + 1
    pasted = [target.nodes[n] for n in second.scene.selected_node_ids()]
    assert sorted(n.type for n in pasted) == ["Linear", "ReLU"]
    assert len({n.name for n in target.nodes.values()}) == len(target.nodes)
    second.undo_stack.undo()
    assert len(target.nodes) == n_nodes
    second.undo_stack.redo()
    assert len(target.nodes) == n_nodes + 2


def test_cut_removes_and_paste_brings_back(window):
    design, scene = window.editor.design, window.scene
    relu = node_named(design, "relu_1").id
    scene.select_nodes([relu])
    window.act_cut.trigger()
    assert relu not in design.nodes
    window.act_paste.trigger()
    assert any(n.type == "ReLU" for n in design.nodes.values())


def test_wheel_zoom_keeps_point_under_cursor(window, qtbot):
    from PySide6.QtGui import QWheelEvent

    view = window.view
    view.reset_zoom()
    at = QPointF(200, 150)
    under = view.mapToScene(at.toPoint())
    event = QWheelEvent(
        at,
        view.viewport().mapToGlobal(at),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() > 1.3
    after = view.mapToScene(at.toPoint())
    assert abs(after.x() - under.x()) < 3 and abs(after.y() - under.y()) < 3


def test_middle_button_pans(window, mouse):
    view = window.view
    centre_before = view.visible_center()
    vp = view.viewport()
    mouse.send(vp, "press", QPointF(300, 300), Qt.MouseButton.MiddleButton)
    mouse.send(
        vp, "move", QPointF(200, 250), Qt.MouseButton.MiddleButton, buttons=Qt.MouseButton.MiddleButton
    )
    mouse.send(vp, "release", QPointF(200, 250), Qt.MouseButton.MiddleButton)
    centre_after = view.visible_center()
    assert centre_after.x() - centre_before.x() > 50 * 0.9 / view.zoom() * view.zoom()


def test_fit_shows_every_node(window):
    view, scene = window.view, window.scene
    window.editor.design.add_node("Linear", pos=(3000, 2000))
    view.fit_all()
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(scene.nodes_rect())


def test_automatic_layout_reads_in_order_one_step(window):
    from studio.ui.canvas import readable_zoom
    from studio.ui.layout import NODE_H

    design, view = window.editor.design, window.view
    for i, node_id in enumerate(design.nodes):
        design.move(node_id, (i * 13.0, -i * 40.0))
    window.undo_stack.clear()
    window.act_layout.trigger()
    order = design.topological_order()
    # read like text: each layer right of its input, or in a row of layers below it
    pos = {n: design.nodes[n].pos for n in order}
    for e in design.edges:
        (x0, y0), (x1, y1) = pos[e.src], pos[e.dst]
        assert x1 > x0 or y1 > y0 + NODE_H
    assert window.scene.has_automatic_layout()
    assert view.zoom() >= readable_zoom() - 1e-6
    assert window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert design.nodes[order[1]].pos == (13.0, -40.0)


def test_node_shows_problem_badge(window):
    design, scene = window.editor.design, window.scene
    lonely = design.add_node("Conv2d", pos=(0, 500)).id
    item = scene.nodes[lonely]
    assert item.problems and item.badge.isVisible()
    assert item.problems[0] in item.badge.toolTip()


def test_edges_show_the_shape_they_carry(window):
    design, scene = window.editor.design, window.scene
    linear = node_named(design, "linear_1")
    edge = next(e for e in design.edges if e.src == linear.id)
    assert scene.edges[edge].label == "(N, 16)"
    window.editor.set_param(linear.id, "out_features", 32)
    assert scene.edges[edge].label == "(N, 32)"
    assert scene.nodes[linear.id].shape_text == "(N, 32)"


def test_one_refresh_per_undo_step(window, monkeypatch):
    scene = window.scene
    calls = []
    original = scene.refresh_info
    monkeypatch.setattr(scene, "refresh_info", lambda: calls.append(1) or original())
    window.select_all()
    window.delete_selection()
    assert calls == [1] and scene.nodes == {}
    window.undo_stack.undo()
    assert calls == [1, 1] and len(scene.nodes) == 5
    assert scene.nodes[node_named(window.editor.design, "input_1").id].shape_text == "(N, 4)"


def test_space_and_drag_pans(window, mouse, qtbot):
    from PySide6.QtTest import QTest

    view = window.view
    view.setFocus()
    before = view.visible_center()
    count = window.undo_stack.count()
    QTest.keyPress(view, Qt.Key.Key_Space)
    mouse.drag(view, view.mapToScene(QPoint(400, 300)), view.mapToScene(QPoint(300, 300)))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    after = view.visible_center()
    assert after.x() > before.x() + 50 and window.undo_stack.count() == count


def test_alt_arrow_keys_nudge_selection_as_one_step(window):
    from PySide6.QtTest import QTest

    design, view = window.editor.design, window.view
    relu = node_named(design, "relu_1")
    start = relu.pos
    window.scene.select_nodes([relu.id])
    view.setFocus()
    count = window.undo_stack.count()
    alt = Qt.KeyboardModifier.AltModifier
    for _ in range(3):
        QTest.keyClick(view.viewport(), Qt.Key.Key_Right, alt)
    QTest.keyClick(view.viewport(), Qt.Key.Key_Down, alt | Qt.KeyboardModifier.ShiftModifier)
    assert design.nodes[relu.id].pos[0] > start[0] and design.nodes[relu.id].pos[1] > start[1]
    assert window.undo_stack.count() == count + 1
    window.undo_stack.undo()
    assert design.nodes[relu.id].pos == start


TEMPLATES = sorted(p.stem for p in TEMPLATES_DIR.glob("*.studio"))


def title_px(view) -> float:
    """How many pixels high a node's title is on screen."""
    return view.zoom() * QFontInfo(title_font()).pixelSize()


@pytest.mark.parametrize("size", [(1600, 1000), (1366, 768)])
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_opens_whole_and_readable(make_window, qtbot, name, size):
    window = make_window(project=load_project(TEMPLATES_DIR / f"{name}.studio"))
    window.resize(*size)
    view = window.view
    qtbot.waitUntil(lambda: view.viewport().width() > 0.4 * size[0] and not view._refit.isActive())
    visible = lambda: view.mapToScene(view.viewport().rect()).boundingRect()  # noqa: E731
    qtbot.waitUntil(lambda: visible().contains(view.canvas.nodes_rect()), timeout=20_000)
    assert title_px(view) >= READABLE_PX - 0.01
    assert window.undo_stack.count() == 0 and not window.is_modified()


def test_a_design_placed_by_hand_is_not_rearranged(make_window, qtbot):
    project = load_project(TEMPLATES_DIR / "iris_mlp.studio")
    nodes = list(project.design.nodes.values())
    project.design.move(nodes[2].id, (520.0, 300.0))  # off the automatic layout
    placed = {n.id: n.pos for n in nodes}
    window = make_window(project=project)
    qtbot.waitUntil(lambda: title_px(window.view) > 0)
    assert {n.id: n.pos for n in window.editor.design.nodes.values()} == placed


def edge_between(window, src_name, dst_name):
    design = window.editor.design
    src, dst = node_named(design, src_name).id, node_named(design, dst_name).id
    return next(item for item in window.scene.edges.values() if (item.edge.src, item.edge.dst) == (src, dst))


def test_dropping_a_layer_onto_a_connection_inserts_it(window):
    design, view = window.editor.design, window.view
    item = edge_between(window, "linear_1", "relu_1")
    middle = item.path().pointAtPercent(0.5)
    count = window.undo_stack.count()
    drop_layer(view, "Dropout", view.mapFromScene(middle), window.palette_panel)
    new = next(n for n in design.nodes.values() if n.type == "Dropout")
    pairs = {(design.nodes[e.src].name, design.nodes[e.dst].name) for e in design.edges}
    assert ("linear_1", new.name) in pairs and (new.name, "relu_1") in pairs
    assert ("linear_1", "relu_1") not in pairs
    assert window.undo_stack.count() == count + 1 and design.infer().problems == []
    window.undo_stack.undo()
    assert new.id not in design.nodes
    assert ("linear_1", "relu_1") in {
        (design.nodes[e.src].name, design.nodes[e.dst].name) for e in design.edges
    }


def test_dropping_a_layer_away_from_connections_only_adds_it(window):
    design, view = window.editor.design, window.view
    below = window.scene.nodes_rect().bottomLeft() + QPointF(0, 200)
    view.centerOn(below)
    edges = list(design.edges)
    drop_layer(view, "Dropout", view.mapFromScene(below))
    assert design.edges == edges and any(n.type == "Dropout" for n in design.nodes.values())


def test_connecting_onto_an_occupied_input_replaces_it(window, mouse):
    design, scene, view = window.editor.design, window.scene, window.view
    linear = node_named(design, "linear_1")
    relu = node_named(design, "relu_1")
    tanh = design.add_node("Tanh", pos=(linear.pos[0], linear.pos[1] + 200)).id
    design.connect(linear.id, tanh)
    window.undo_stack.clear()
    view.fit_all()
    mouse.drag(
        view, scene.nodes[tanh].outputs[0].scene_center(), scene.nodes[relu.id].inputs[0].scene_center()
    )
    sources = [e.src for e in design.edges if e.dst == relu.id]
    assert sources == [tanh] and window.undo_stack.count() == 1
    window.undo_stack.undo()
    assert [e.src for e in design.edges if e.dst == relu.id] == [linear.id]


def test_hand_tool_pans_without_selecting(window, mouse):
    view, scene = window.view, window.scene
    scene.clearSelection()
    window.act_hand.trigger()
    assert view.hand_tool
    before = view.visible_center()
    grab = scene.nodes[node_named(window.editor.design, "relu_1").id].pos()
    mouse.drag(view, grab, grab + QPointF(-120, 0))
    after = view.visible_center()
    assert after.x() > before.x() + 50 and not scene.selectedItems()
    window.act_hand.trigger()
    assert not view.hand_tool


def test_arrow_keys_go_from_layer_to_layer(window):
    design, view = window.editor.design, window.view
    order = [node_named(design, n).id for n in ("input_1", "linear_1", "relu_1", "linear_2", "output_1")]
    placed = {n: design.nodes[n].pos for n in order}
    view.setFocus()
    window.scene.clearSelection()
    QTest.keyClick(view.viewport(), Qt.Key.Key_Right)  # nothing selected: the first layer
    assert window.scene.selected_node_ids() == order[:1]
    for expected in order[1:]:
        QTest.keyClick(view.viewport(), Qt.Key.Key_Right)
        assert window.scene.selected_node_ids() == [expected]
    QTest.keyClick(view.viewport(), Qt.Key.Key_Left)
    assert window.scene.selected_node_ids() == [order[-2]]
    assert {n: design.nodes[n].pos for n in order} == placed  # selecting moves nothing


def test_arrow_keys_leave_lists_alone(window):
    palette = window.palette_panel.tree
    palette.setFocus()
    window.scene.select_nodes([node_named(window.editor.design, "relu_1").id])
    QTest.keyClick(palette, Qt.Key.Key_Right)
    assert window.scene.selected_node_ids() == [node_named(window.editor.design, "relu_1").id]
