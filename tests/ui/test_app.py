"""The app shell: display checks, the example window, names for automation, shortcuts, the error dialog."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QGraphicsView, QMessageBox, QWidget

from studio.ui.app import display_problem


def test_no_display_explains_what_to_do():
    message = display_problem({}, find_library=lambda name: "lib.so", platform="linux")
    assert "DISPLAY" in message and "Xvfb".lower() in message.lower() and "offscreen" in message


def test_missing_xcb_libraries_are_named():
    missing = {"xcb-cursor", "xkbcommon-x11"}
    message = display_problem(
        {"DISPLAY": ":0"},
        find_library=lambda n: None if n in missing else "x.so",
        platform="linux",
        answers=lambda kind, address: True,
    )
    assert "libxcb-cursor" in message and "libxcb-cursor0" in message and "libxkbcommon-x11-0" in message
    assert "libxcb-icccm4 " not in message.split("(")[0]


def test_working_setups_pass():
    ok = lambda name: f"lib{name}.so"  # noqa: E731
    up = lambda kind, address: True  # noqa: E731
    assert display_problem({"DISPLAY": ":0"}, find_library=ok, platform="linux", answers=up) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, find_library=ok, platform="linux") is None
    assert (
        display_problem({"WAYLAND_DISPLAY": "wayland-0"}, find_library=ok, platform="linux", answers=up)
        is None
    )
    assert display_problem({}, find_library=ok, platform="darwin") is None
    assert "WAYLAND_DISPLAY" in display_problem(
        {"QT_QPA_PLATFORM": "wayland"}, find_library=ok, platform="linux"
    )


def test_a_display_without_a_server_is_named():
    from studio.ui.app import x_server_address

    asked = []

    def down(kind, address):
        asked.append((kind, address))
        return False

    ok = lambda name: f"lib{name}.so"  # noqa: E731
    message = display_problem({"DISPLAY": ":987"}, find_library=ok, platform="linux", answers=down)
    assert "no X server answers" in message and "/tmp/.X11-unix/X987" in message and "libxcb" not in message
    assert asked == [("unix", "/tmp/.X11-unix/X987")]
    assert x_server_address("remote.example:10.0") == ("tcp", ("remote.example", 6010))
    assert x_server_address("unix:1") == ("unix", "/tmp/.X11-unix/X1")
    assert "not a display name" in display_problem({"DISPLAY": "nonsense"}, find_library=ok, platform="linux")
    wayland = {"WAYLAND_DISPLAY": "wayland-9", "XDG_RUNTIME_DIR": "/run/user/1"}
    assert "no compositor answers at /run/user/1/wayland-9" in display_problem(
        wayland, find_library=ok, platform="linux", answers=down
    )


def test_the_real_program_says_when_the_display_has_no_server(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DISPLAY": ":987"}
    done = subprocess.run(
        [sys.executable, "-m", "studio"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert (
        "no X server answers" in done.stderr
        and "libxcb" not in done.stderr
        and "Traceback" not in done.stderr
    )


def test_run_app_without_display_prints_a_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "studio.ui"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "DISPLAY" in done.stderr and "Traceback" not in done.stderr


def test_main_window_without_arguments_shows_the_example(qtbot):
    from studio.ui import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    design = window.editor.design
    assert len(design.nodes) >= 3 and design.infer().problems == []
    types = {n.type for n in design.nodes.values()}
    assert {"Input", "Linear", "Output"} <= types
    assert len(window.scene.nodes) == len(design.nodes)
    assert not window.isWindowModified()


def test_named_widgets_for_automation(window):
    for name in ("layerPalette", "canvas", "propertiesPanel", "issuesPanel"):
        widget = window.findChild(QWidget, name)
        assert widget is not None, name
        assert widget.accessibleName(), name
    assert isinstance(window.findChild(QWidget, "canvas"), QGraphicsView)


def test_standard_shortcuts(window):
    def keys(action):
        return {s.toString() for s in action.shortcuts()}

    assert "Ctrl+Z" in keys(window.act_undo)
    assert {"Ctrl+Shift+Z", "Ctrl+Y"} <= keys(window.act_redo)
    assert "Ctrl+S" in keys(window.act_save) and "Ctrl+O" in keys(window.act_open)
    assert "Ctrl+F" in keys(window.act_find) and "F" in keys(window.act_fit)
    assert QKeySequence("Ctrl+C").toString() in keys(window.act_copy)
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[:3] == ["File", "Edit", "View"]
    edit_menu = window.menuBar().actions()[1].menu()
    assert window.act_history in edit_menu.actions()


def test_undo_history_view_lists_steps(window):
    design = window.editor.design
    window.editor.rename(next(iter(design.nodes)), "first")
    window.editor.add_node("ReLU", (0, 300))
    model = window.history.model()
    assert model.rowCount() == 3  # the empty state and two steps
    window.act_history.trigger()
    assert window.history_dock.isVisible() and not window.history_dock.visibleRegion().isEmpty()


def test_unexpected_error_shows_dialog_and_keeps_work(window, monkeypatch):
    from studio.ui import errors

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.text(), box.detailedText())) or 0)
    monkeypatch.setattr(errors, "_last", ("", 0.0))
    window.editor.rename(next(iter(window.editor.design.nodes)), "precious")
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError:
        errors.handle_exception(*sys.exc_info())
    ((text, details),) = shown
    assert "ZeroDivisionError" in text and "Traceback" in details
    assert window.recovery_file.path.is_file()
    assert any(n.name == "precious" for n in window.editor.design.nodes.values())


def test_drag_benchmark_runs(qapp):
    from benchmarks.bench_canvas import bench_drag

    assert bench_drag(nodes=30, frames=3) > 0


def test_none_survives_many_qt_calls(qapp):
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    before = sys.getrefcount(None)
    for _ in range(20_000):  # PySide6 6.12.0 drops a reference to None per void call on Python 3.11
        widget.update()
    assert sys.getrefcount(None) > before - 1000


def test_a_repeating_error_is_shown_once(window, monkeypatch):
    from studio.ui import errors

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.text()) or 0)
    monkeypatch.setattr(errors, "_last", ("", 0.0))
    for _ in range(3):
        try:
            raise RuntimeError("paint failed")
        except RuntimeError:
            errors.handle_exception(*sys.exc_info())
    assert len(shown) == 1


def test_later_panels_join_the_panels_menu(window):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    before = len(window.panels_menu.actions())
    dock = window.add_dock("Notes", "notesDock", QLabel("notes"), Qt.DockWidgetArea.BottomDockWidgetArea)
    assert dock.toggleViewAction() in window.panels_menu.actions()
    assert len(window.panels_menu.actions()) == before + 1


def test_a_new_window_shows_the_curves_among_the_bottom_tabs(window):
    from PySide6.QtWidgets import QTabBar

    def tabs(bar):
        return {bar.tabText(i) for i in range(bar.count())}

    # Qt keeps the tab bar of an earlier tabification around: the bar that holds all three counts
    bars = [b for b in window.findChildren(QTabBar) if {"Curves", "Evaluation", "Compress"} <= tabs(b)]
    assert len(bars) == 1 and bars[0].tabText(bars[0].currentIndex()) == "Curves"
