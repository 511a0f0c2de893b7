"""Help: the keyboard and mouse list comes from the window's actions, the guide opens the examples."""

from __future__ import annotations

from PySide6.QtCore import QUrl

from studio.design.project import list_templates


def test_the_shortcut_list_names_every_key_of_the_window(window):
    window.act_shortcuts.trigger()
    dialog = window._dialog
    table = dialog.table
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Undo"] and rows["Save"] and rows["Train"] == "F5"
    assert rows["Hand Tool"] == "H" and rows["Go to the Layer Right"] == "Right"
    assert rows["Pan the canvas"].startswith("Space")
    assert "Insert the layer into it" in rows
    # every action with a key is listed, so a new one appears by itself
    keyed = [a for a in window.all_actions() if any(not k.isEmpty() for k in a.shortcuts())]
    assert len([r for r in rows if rows[r]]) >= len({a.objectName() for a in keyed})
    dialog.close()


def test_the_guide_and_the_help_menu_open_the_examples(window, qtbot):
    window.act_guide.trigger()
    dialog = window._dialog
    html = dialog.text.toHtml()
    examples = list_templates()
    assert examples and all(title in html for _, title, _, _ in examples)
    name = examples[-1][0]
    window._project_changes = False
    window.undo_stack.setClean()
    dialog.text.anchorClicked.emit(QUrl(f"example:{name}"))
    assert window.project.name == examples[-1][1] and not dialog.isVisible()
    first = examples[0]
    menu_action = window.findChild(type(window.act_guide), f"example_{first[0]}")
    menu_action.trigger()
    assert window.project.name == first[1]
