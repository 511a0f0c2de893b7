"""Files: save and reopen, refusing bad files without changing anything, unsaved-changes prompts, recovery."""

from __future__ import annotations

import json

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QCloseEvent, QDropEvent
from PySide6.QtWidgets import QMessageBox

from studio.design.project import FORMAT_VERSION, load_project
from studio.ui import recovery


def test_save_reopen_and_compare(window, make_window, tmp_path):
    design = window.editor.design
    relu = next(n for n in design.nodes.values() if n.name == "relu_1")
    window.editor.rename(relu.id, "act")
    window.editor.set_param(
        next(n.id for n in design.nodes.values() if n.name == "linear_1"), "out_features", 24
    )
    assert window.isWindowModified()
    path = tmp_path / "net.studio"
    assert window.save_to(str(path))
    assert not window.isWindowModified()
    assert window.windowTitle().startswith("net.studio")
    assert window.recent_files()[0] == str(path.resolve())
    other = make_window(project=None, path=str(path))
    assert other.editor.design.to_dict() == design.to_dict()
    assert other.project.path == str(path)
    assert load_project(path).design.to_dict() == design.to_dict()


def test_undo_to_saved_state_clears_the_mark(window, tmp_path):
    window.save_to(str(tmp_path / "a.studio"))
    node_id = next(iter(window.editor.design.nodes))
    window.editor.rename(node_id, "renamed")
    assert window.isWindowModified() and "[*]" in window.windowTitle()
    window.undo_stack.undo()
    assert not window.isWindowModified()


def test_corrupt_truncated_or_newer_file_changes_nothing(make_window, tmp_path):
    window = make_window()
    good = tmp_path / "good.studio"
    window.save_to(str(good))
    window.editor.rename(next(iter(window.editor.design.nodes)), "edited")
    text = good.read_text()
    newer = json.loads(text)
    newer["version"] = FORMAT_VERSION + 1
    bad_param = json.loads(text)
    bad_param["design"]["nodes"][1]["params"]["out_features"] = -2
    files = {
        "corrupt.studio": "not json at all {",
        "truncated.studio": text[: len(text) // 2],
        "newer.studio": json.dumps(newer),
        "badparam.studio": json.dumps(bad_param),
    }
    before = window.editor.design.to_dict()
    errors = make_window.dialogs.errors
    for name, content in files.items():
        path = tmp_path / name
        path.write_text(content)
        assert window.open_path(str(path)) is False
        assert window.editor.design.to_dict() == before
        assert window.project.path == str(good)
        assert window.isWindowModified() and window.undo_stack.count() == 1
        title, text_shown, details = errors[-1]
        assert name in text_shown and details
    assert "out_features" in errors[-1][2]
    assert make_window.dialogs.asked == 0


def test_close_with_unsaved_changes_asks(make_window):
    window = make_window()
    dialogs = make_window.dialogs
    window.editor.rename(next(iter(window.editor.design.nodes)), "changed")
    dialogs.answer = QMessageBox.StandardButton.Cancel
    event = QCloseEvent()
    window.closeEvent(event)
    assert not event.isAccepted() and dialogs.asked == 1
    dialogs.answer = QMessageBox.StandardButton.Discard
    event = QCloseEvent()
    window.closeEvent(event)
    assert event.isAccepted() and dialogs.asked == 2


def test_close_saves_when_asked(make_window, tmp_path):
    window = make_window()
    path = tmp_path / "keep.studio"
    window.save_to(str(path))
    window.editor.rename(next(iter(window.editor.design.nodes)), "kept")
    make_window.dialogs.answer = QMessageBox.StandardButton.Save
    event = QCloseEvent()
    window.closeEvent(event)
    assert event.isAccepted()
    assert any(n.name == "kept" for n in load_project(path).design.nodes.values())


def test_open_asks_before_replacing_unsaved_work(make_window, tmp_path):
    window = make_window()
    other = tmp_path / "other.studio"
    window.save_to(str(other))
    window.editor.rename(next(iter(window.editor.design.nodes)), "unsaved")
    make_window.dialogs.answer = QMessageBox.StandardButton.Cancel
    assert window.open_path(str(other)) is False
    assert any(n.name == "unsaved" for n in window.editor.design.nodes.values())
    make_window.dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.open_path(str(other)) is True
    assert not any(n.name == "unsaved" for n in window.editor.design.nodes.values())
    assert window.undo_stack.count() == 0


def test_new_empty_project(window):
    window.new_empty()
    assert window.editor.design.nodes == {} and window.scene.nodes == {}
    assert window.windowTitle().startswith("Untitled")


def test_dropping_a_project_file_opens_it(window, tmp_path, qtbot):
    path = tmp_path / "dropped.studio"
    window.save_to(str(path))
    window.new_empty()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(100, 100),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.view.dropEvent(event)
    qtbot.waitUntil(lambda: window.project.path == str(path), timeout=30_000)
    assert len(window.editor.design.nodes) == 5


def test_autosave_and_recovery_after_crash(make_window, tmp_path):
    window = make_window()
    window.save_to(str(tmp_path / "work.studio"))
    window.editor.rename(next(iter(window.editor.design.nodes)), "not_saved_yet")
    window.write_recovery()
    path = window.recovery_file.path
    assert path.is_file()
    assert recovery.orphaned() == []  # this session lives: its copy is not offered
    # the session that wrote it dies: its lock goes with it
    window.recovery_file._release()
    window.recovery_file._lock_fd = None
    found = recovery.orphaned()
    assert [f["path"] for f in found] == [path]
    project = recovery.restore(found[0])
    assert project.path == str(tmp_path / "work.studio")
    assert any(n.name == "not_saved_yet" for n in project.design.nodes.values())
    fresh = make_window()
    fresh.set_project(project, modified=True)
    assert fresh.isWindowModified()
    recovery.discard(found[0])
    assert recovery.orphaned() == []


def test_recovery_file_removed_when_saved(window, tmp_path):
    window.editor.rename(next(iter(window.editor.design.nodes)), "x1")
    window.write_recovery()
    assert window.recovery_file.path.is_file()
    window.save_to(str(tmp_path / "s.studio"))
    assert not window.recovery_file.path.exists()
    assert recovery.orphaned() == []


def test_window_layout_is_remembered(make_window):
    first = make_window()
    first.issues_dock.hide()
    first.save_layout()
    second = make_window()
    assert second.issues_dock.isHidden()


def test_template_gallery_lists_templates_with_previews(qtbot):
    from studio.design.project import list_templates
    from studio.ui.gallery import TemplateGallery

    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    assert gallery.list.count() == len(list_templates()) + 1
    for i in range(gallery.list.count()):
        assert not gallery.list.item(i).icon().isNull()
    gallery.list.setCurrentRow(1)
    gallery.accept()
    assert gallery.chosen == list_templates()[0][0]


def test_new_from_template(window, monkeypatch):
    from studio.design.project import list_templates
    from studio.ui import gallery

    name = list_templates()[0][0]

    def choose(self):
        self.chosen = name
        return gallery.TemplateGallery.DialogCode.Accepted

    monkeypatch.setattr(gallery.TemplateGallery, "exec", choose)
    window.new_from_template()
    assert window.project.path is None and len(window.editor.design.nodes) > 3
    assert window.editor.design.infer().problems == []


def test_every_file_dialog_starts_in_one_folder(window, tmp_path, monkeypatch):
    """The project's folder, else the folder last chosen, else the working directory; Save As too."""
    from PySide6.QtWidgets import QFileDialog

    from studio.ui.export_dialog import ExportDialog

    asked = []

    def answer(chosen):
        def dialog(parent, title, start="", *rest, **kw):
            asked.append((title, str(start)))
            return chosen if isinstance(chosen, str) else (str(chosen[0]), "")

        return dialog

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", answer(("",)))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer(("",)))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", answer(""))
    assert not window.save_as()  # an unsaved project, nothing chosen before: the working directory
    window.open_dialog()
    assert [s for _, s in asked] == [str(work / "Test_MLP.studio"), str(work)]
    # a folder chosen in one dialog is where the next one starts
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", answer((elsewhere / "w.safetensors",)))
    monkeypatch.setattr(window, "load_weights", lambda path: None)
    window.load_weights_dialog()
    asked.clear()
    window.data_panel._ask_folder()
    window.plots._ask_export("csv")
    assert [s for _, s in asked] == [str(elsewhere), str(elsewhere / "curves.csv")]
    # a saved project: its own folder, for Save As as for every other dialog
    home = tmp_path / "project"
    home.mkdir()
    assert window.save_to(str(home / "net.studio"))
    asked.clear()
    window.save_as()
    window.data_panel._ask_csv()
    dialog = ExportDialog(window.project, window)
    dialog._ask_onnx()
    dialog.deleteLater()
    assert [s for _, s in asked] == [str(home / "net.studio"), str(home), str(home / "net.onnx")]


def test_the_data_preview_shows_whole_column_headers(window, qtbot, tmp_path):
    from PySide6.QtGui import QFontMetrics

    rows = [f"{i * 0.25},{i % 7},{'ab' if i % 2 else 'cd'},{i % 3}" for i in range(40)]
    path = tmp_path / "wide.csv"
    path.write_text("a_long_measurement_name,x,colour of the thing,label\n" + "\n".join(rows) + "\n")
    panel = window.data_panel
    panel.use_csv(str(path))
    qtbot.waitUntil(lambda: not panel.loading and panel.table.columnCount() == 4, timeout=30_000)
    header = panel.table.horizontalHeader()
    metrics = QFontMetrics(header.font())
    for c in range(4):
        lines = panel.table.horizontalHeaderItem(c).text().split("\n")
        assert len(lines) == 2
        assert header.sectionSize(c) >= max(metrics.horizontalAdvance(t) for t in lines)
    assert header.height() >= 2 * metrics.lineSpacing()
