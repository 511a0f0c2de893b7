"""Undo commands through the editor: every edit undoes and redoes exactly, refused edits leave no step."""

from __future__ import annotations

from studio.design import Design
from studio.ui.commands import ConnectOp, MoveOp
from studio.ui.editor import Editor
from studio.ui.layout import layered_layout


def chain_editor():
    design = Design()
    a = design.add_node("Input", {"shape": (8,)}, pos=(0, 0)).id
    b = design.add_node("Linear", {"out_features": 4}, pos=(250, 0)).id
    c = design.add_node("Output", pos=(500, 0)).id
    design.connect(a, b)
    design.connect(b, c)
    return Editor(design), (a, b, c)


def snapshot(design):
    """The design's content; node order is left out (a restored node comes back at the end)."""
    d = design.to_dict()
    return sorted(d["nodes"], key=lambda n: n["id"]), sorted(d["edges"])


def test_add_remove_undo_redo_keep_ids(qapp):
    editor, (a, b, c) = chain_editor()
    design, stack = editor.design, editor.undo_stack
    start = snapshot(design)
    new = editor.add_node("ReLU", (100, 100))
    after_add = snapshot(design)
    stack.undo()
    assert snapshot(design) == start
    stack.redo()
    assert snapshot(design) == after_add and new in design.nodes
    editor.delete([b], ())
    assert b not in design.nodes and len(design.edges) == 0
    stack.undo()
    assert snapshot(design) == after_add


def test_refused_edits_leave_no_step(qapp):
    editor, (a, b, c) = chain_editor()
    stack = editor.undo_stack
    messages = []
    editor.message.connect(messages.append)
    assert "no output port" in editor.connect(c, a)
    assert editor.connect(b, b) is not None
    assert editor.set_param(b, "out_features", -2).startswith("out_features")
    assert editor.rename(b, "not valid") is not None
    assert stack.count() == 0 and messages
    # a command whose operation the design refuses is dropped, not stored
    assert editor.push("bad", [ConnectOp(a, b)]) is not None
    assert stack.count() == 0


def test_moves_merge_when_asked(qapp):
    editor, (a, b, c) = chain_editor()
    design = editor.design
    for x in (10.0, 20.0, 30.0):
        editor.push("Nudge", [MoveOp({a: (design.nodes[a].pos, (x, 0.0))})], merge_key="nudge")
    assert editor.undo_stack.count() == 1
    editor.undo_stack.undo()
    assert design.nodes[a].pos == (0.0, 0.0)


def test_paste_redo_restores_same_nodes(qapp):
    editor, (a, b, c) = chain_editor()
    design, stack = editor.design, editor.undo_stack
    data = design.subgraph_dict([a, b])
    ids = editor.paste(data)
    assert len(ids) == 2 and len(design.edges) == 3
    pasted = snapshot(design)
    stack.undo()
    assert len(design.nodes) == 3
    stack.redo()
    assert snapshot(design) == pasted


def test_insert_after_splices_into_chain(qapp):
    editor, (a, b, c) = chain_editor()
    design = editor.design
    new = editor.add_node("Dropout", editor.free_position_after(b), after=b)
    assert {(e.src, e.dst) for e in design.edges} == {(a, b), (b, new), (new, c)}
    assert design.infer().problems == []
    editor.undo_stack.undo()
    assert {(e.src, e.dst) for e in design.edges} == {(a, b), (b, c)}


def test_set_design_forgets_history(qapp):
    editor, (a, b, c) = chain_editor()
    seen = []
    editor.designReplaced.connect(seen.append)
    editor.rename(a, "inputs")
    other = Design()
    editor.set_design(other)
    assert editor.undo_stack.count() == 0 and editor.undo_stack.isClean() and seen == [other]


def test_layered_layout_columns_and_branches():
    edges = [("i", 0, "a", 0), ("i", 0, "b", 0), ("a", 0, "m", 0), ("b", 0, "m", 1), ("m", 0, "o", 0)]
    pos = layered_layout(["i", "a", "b", "m", "o"], edges, spacing=(100.0, 50.0))
    assert pos["i"][0] < pos["a"][0] == pos["b"][0] < pos["m"][0] < pos["o"][0]
    assert pos["a"][1] < pos["b"][1]  # first input of the merge sits above the second
    assert pos["i"][1] == pos["m"][1] == pos["o"][1] == 0.0


def test_layered_layout_long_skip_goes_to_the_furthest_column():
    edges = [("a", 0, "b", 0), ("b", 0, "c", 0), ("a", 0, "c", 1)]
    pos = layered_layout(["c", "b", "a"], edges)
    assert pos["a"][0] < pos["b"][0] < pos["c"][0]


def test_connect_to_an_occupied_input_replaces_its_connection_in_one_step(qapp):
    editor, (a, b, c) = chain_editor()
    design, stack = editor.design, editor.undo_stack
    relu = design.add_node("ReLU", pos=(250, 150)).id
    design.connect(a, relu)
    before = snapshot(design)
    assert editor.connect(relu, c) is None
    assert {(e.src, e.dst) for e in design.edges} == {(a, b), (a, relu), (relu, c)}
    assert stack.count() == 1 and "instead of" in stack.text(0)
    stack.undo()
    assert snapshot(design) == before
    # connecting what is already connected changes nothing and adds no step
    assert editor.connect(b, c) is None and stack.count() == 1


def test_a_replacement_that_would_close_a_cycle_changes_nothing(qapp):
    editor, (a, b, c) = chain_editor()
    design = editor.design
    relu = design.add_node("ReLU", pos=(750, 0)).id
    design.connect(b, relu)
    before = snapshot(design)
    messages = []
    editor.message.connect(messages.append)
    assert editor.connect(relu, b) is not None  # b's input is taken, and relu depends on b
    assert snapshot(design) == before and messages and editor.undo_stack.count() == 0


def test_insert_on_edge_makes_room_and_is_one_step(qapp):
    editor, (a, b, c) = chain_editor()
    design, stack = editor.design, editor.undo_stack
    design.move(b, (280, 0))
    design.move(c, (560, 0))
    before = snapshot(design)
    edge = next(e for e in design.edges if (e.src, e.dst) == (a, b))
    new = editor.insert_on_edge("Dropout", edge, (140, 10))
    assert {(e.src, e.dst) for e in design.edges} == {(a, new), (new, b), (b, c)}
    assert design.nodes[new].pos == (280.0, 0.0)  # one column after the source
    assert design.nodes[b].pos == (560.0, 0.0) and design.nodes[c].pos == (840.0, 0.0)
    assert stack.count() == 1
    stack.undo()
    assert snapshot(design) == before
    stack.redo()
    assert design.nodes[new].pos == (280.0, 0.0)
