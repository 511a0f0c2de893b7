"""The properties panel: a form generated from the catalogue, values checked in place, edits undoable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from studio.design import catalogue


def select(window, name):
    node = next(n for n in window.editor.design.nodes.values() if n.name == name)
    window.scene.select_nodes([node.id])
    return node


def test_form_follows_the_catalogue(window):
    node = select(window, "linear_1")
    panel = window.properties
    assert panel.node_id == node.id
    spec = catalogue.spec("Linear")
    assert list(panel.fields) == [p.name for p in spec.params]
    spin = panel.fields["out_features"].widget
    assert isinstance(spin, QSpinBox)
    assert spin.minimum() == 1 and spin.value() == 16
    assert isinstance(panel.fields["bias"].widget, QCheckBox)


def test_every_layer_gets_a_form_with_fitting_widgets(window):
    design = window.editor.design
    kinds = {"bool": QCheckBox, "choice": QComboBox, "str": QLineEdit, "ints": QLineEdit, "float": QLineEdit}
    for type_, spec in catalogue.CATALOGUE.items():
        node = design.add_node(type_, pos=(0, 300))
        window.scene.select_nodes([node.id])
        fields = window.properties.fields
        assert list(fields) == [p.name for p in spec.params], type_
        for param in spec.params:
            widget = fields[param.name].widget
            expected = QLineEdit if param.optional else kinds.get(param.kind, QSpinBox)
            assert isinstance(widget, expected), (type_, param.name)
        design.remove_node(node.id)
    conv = design.add_node("Conv2d", pos=(0, 300))
    window.scene.select_nodes([conv.id])
    assert window.properties.fields["kernel_size"].widget.text() == "3, 3"


def test_editing_a_property_updates_shapes_and_undoes(window, qtbot):
    node = select(window, "linear_1")
    spin = window.properties.fields["out_features"].widget
    spin.setValue(32)
    design = window.editor.design
    assert design.nodes[node.id].params["out_features"] == 32
    assert window.scene.nodes[node.id].shape_text == "(N, 32)"
    assert "(N, 32)" in window.properties.shape_label.text()
    total = design.infer().total_params
    assert f"{total:,}" in window.issues.summary.text()
    window.undo_stack.undo()
    assert design.nodes[node.id].params["out_features"] == 16
    assert spin.value() == 16
    assert window.scene.nodes[node.id].shape_text == "(N, 16)"
    window.undo_stack.redo()
    assert spin.value() == 32


def test_ints_field_parses_and_refuses_in_place(window, qtbot):
    design = window.editor.design
    conv = design.add_node("Conv2d", pos=(0, 300))
    window.scene.select_nodes([conv.id])
    field = window.properties.fields["kernel_size"]
    edit = field.widget
    edit.setText("5, 3")
    edit.editingFinished.emit()
    assert design.nodes[conv.id].params["kernel_size"] == (5, 3)
    count = window.undo_stack.count()
    edit.setText("5, -1")
    edit.editingFinished.emit()
    assert design.nodes[conv.id].params["kernel_size"] == (5, 3)
    assert window.undo_stack.count() == count
    assert not field.error.isHidden() and "kernel_size" in field.error.text()
    edit.setText("2")
    edit.editingFinished.emit()
    assert design.nodes[conv.id].params["kernel_size"] == (2, 2)
    assert field.error.isHidden()


def test_float_field_refuses_out_of_range(window):
    design = window.editor.design
    drop = design.add_node("Dropout", pos=(0, 300))
    window.scene.select_nodes([drop.id])
    field = window.properties.fields["p"]
    field.widget.setText("1.5")
    field.widget.editingFinished.emit()
    assert design.nodes[drop.id].params["p"] == 0.5
    assert "p:" in field.error.text()
    field.widget.setText("0.25")
    field.widget.editingFinished.emit()
    assert design.nodes[drop.id].params["p"] == 0.25


def test_rename_and_refused_name(window):
    node = select(window, "relu_1")
    edit = window.properties.name_edit
    edit.setText("activation")
    edit.editingFinished.emit()
    assert window.editor.design.nodes[node.id].name == "activation"
    assert window.scene.nodes[node.id].name == "activation"
    edit.setText("9lives")
    edit.editingFinished.emit()
    assert window.editor.design.nodes[node.id].name == "activation"
    assert not window.properties.name_error.isHidden()
    window.undo_stack.undo()
    assert window.editor.design.nodes[node.id].name == "relu_1"
    assert window.properties.name_edit.text() == "relu_1"


def test_selection_of_several_nodes_shows_a_hint(window):
    window.select_all()
    assert window.properties.node_id is None
    assert window.properties.fields == {}


def test_issues_panel_lists_problems_and_centres_node(window, qtbot):
    design = window.editor.design
    lonely = design.add_node("Conv2d", pos=(4000, 3000)).id
    problems = window.issues.list
    rows = [problems.item(i) for i in range(problems.count())]
    row = next(r for r in rows if r.data(Qt.ItemDataRole.UserRole + 1) == lonely)
    window.view.centerOn(0, 0)
    problems.itemClicked.emit(row)
    assert window.scene.selected_node_ids() == [lonely]
    centre = window.view.visible_center()
    assert abs(centre.x() - 4000) < 5 and abs(centre.y() - 3000) < 5
    window.undo_stack.clear()
    design.remove_node(lonely)
    assert all(problems.item(i).data(Qt.ItemDataRole.UserRole + 1) != lonely for i in range(problems.count()))


def test_palette_search_and_double_click_adds_after_selection(window):
    palette = window.palette_panel
    palette.search.setText("drop")
    assert set(palette.visible_types()) >= {"Dropout"} and "Linear" not in palette.visible_types()
    palette.search.clear()
    design = window.editor.design
    relu = select(window, "relu_1")
    nxt = next(e.dst for e in design.edges if e.src == relu.id)
    palette.tree.itemActivated.emit(palette.item_for("Dropout"), 0)
    (new,) = window.scene.selected_node_ids()
    assert design.nodes[new].type == "Dropout"
    pairs = {(e.src, e.dst) for e in design.edges}
    assert (relu.id, new) in pairs and (new, nxt) in pairs and (relu.id, nxt) not in pairs
    assert window.undo_stack.undoText().startswith("Add")
    window.undo_stack.undo()
    assert (relu.id, nxt) in {(e.src, e.dst) for e in design.edges} and new not in design.nodes


def test_typing_in_fields_does_not_trigger_single_key_shortcuts(window, qtbot):
    from PySide6.QtTest import QTest

    select(window, "relu_1")
    edit = window.properties.name_edit
    window.activateWindow()
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=30_000)
    fits = []
    window.act_fit.triggered.connect(lambda *_: fits.append(1))
    edit.selectAll()
    QTest.keyClicks(edit, "ff")
    QTest.keyClick(edit, Qt.Key.Key_Backspace)
    assert edit.text() == "f" and fits == []
    assert len(window.editor.design.nodes) == 5  # Backspace edited text, it deleted no node
