"""Fixtures for the app's tests: isolated settings and recovery folder, windows whose dialogs never block."""

from __future__ import annotations

import gc
import threading

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QCoreApplication, QEvent, QPointF, QStandardPaths, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402
from pytestqt.qtbot import QtBot  # noqa: E402

# Waits end as soon as their condition holds; the bound only ends a broken test. pytest-qt's default
# of 5 s is reached by working tests when the machine is loaded several times over.
WAIT_BOUND_MS = 30_000
for _wait in ("waitUntil", "waitSignal", "waitSignals", "waitCallback", "waitExposed", "waitActive"):
    getattr(QtBot, _wait).__kwdefaults__["timeout"] = WAIT_BOUND_MS


@pytest.fixture(autouse=True)
def _collect_between_tests():
    """Python's cyclic garbage collector runs in the GUI thread between tests only, as the app runs it
    on a timer in the GUI thread. Windows of finished tests linger in reference cycles; collected in a
    background thread (a preview, a read) or in the middle of a Qt call, PySide destroys them there,
    which deadlocks on Qt's locks or crashes."""
    gc.collect()
    gc.disable()
    yield
    # the test's background jobs end first, so that none of their threads can run a collection
    for thread in threading.enumerate():
        if thread.name.startswith("studio-") and thread is not threading.current_thread():
            thread.join(60)
    gc.collect()
    gc.enable()


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch, qapp):
    """Settings and recovery files go to a temporary home, never the user's."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    QStandardPaths.setTestModeEnabled(True)
    QCoreApplication.setOrganizationName("StudioTest")
    QCoreApplication.setApplicationName("StudioTest")
    from studio.ui import main_window

    monkeypatch.setattr(main_window, "ORG_NAME", "StudioTest")
    monkeypatch.setattr(main_window, "APP_NAME", "StudioTest")
    main_window.settings().clear()
    yield
    main_window.settings().clear()


class Dialogs:
    """Stands in for the modal dialogs: records what was shown and answers with `answer`."""

    def __init__(self):
        self.errors: list[tuple[str, str, str]] = []
        self.asked = 0
        self.answer = QMessageBox.StandardButton.Discard


@pytest.fixture
def make_window(qtbot, monkeypatch):
    """Build MainWindows whose message boxes are recorded instead of shown."""
    from studio.ui import MainWindow

    dialogs = Dialogs()
    windows = []

    def make(**kwargs):
        kwargs.setdefault("project", mlp_project())
        window = MainWindow(**kwargs)
        window.show_error = lambda title, text, details="": dialogs.errors.append((title, text, details))

        def ask():
            dialogs.asked += 1
            return dialogs.answer

        window.ask_save = ask
        qtbot.addWidget(window)
        window.resize(1200, 760)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    make.dialogs = dialogs
    yield make
    for window in windows:
        window._restored_changes = False
        window.undo_stack.setClean()


def mlp_project():
    """input_1 -> linear_1 (16) -> relu_1 -> linear_2 (3) -> output_1, laid out left to right."""
    from studio.design import Design
    from studio.design.project import new_project

    design = Design()
    chain = [
        ("Input", {"shape": (4,)}),
        ("Linear", {"out_features": 16}),
        ("ReLU", {}),
        ("Linear", {"out_features": 3}),
        ("Output", {}),
    ]
    ids = [design.add_node(t, p, pos=(i * 260.0, 0.0)).id for i, (t, p) in enumerate(chain)]
    for src, dst in zip(ids, ids[1:]):
        design.connect(src, dst)
    return new_project(design=design, name="Test MLP")


@pytest.fixture
def window(make_window):
    return make_window(project=mlp_project())


class Mouse:
    """Mouse gestures on widgets and on the canvas, for tests."""

    @staticmethod
    def send(
        widget,
        kind,
        pos,
        button=Qt.MouseButton.LeftButton,
        buttons=None,
        modifiers=Qt.KeyboardModifier.NoModifier,
    ):
        """Deliver one mouse event at a widget position (QTest does not carry held buttons into moves)."""
        types = {
            "press": QEvent.Type.MouseButtonPress,
            "move": QEvent.Type.MouseMove,
            "release": QEvent.Type.MouseButtonRelease,
        }
        if buttons is None:
            buttons = Qt.MouseButton.NoButton if kind == "release" else button
        local = QPointF(pos)
        event = QMouseEvent(
            types[kind],
            local,
            widget.mapToGlobal(local),
            button if kind != "move" else Qt.MouseButton.NoButton,
            buttons,
            modifiers,
        )
        QApplication.sendEvent(widget, event)

    @staticmethod
    def drag(
        view,
        start_scene,
        end_scene,
        steps=5,
        button=Qt.MouseButton.LeftButton,
        modifiers=Qt.KeyboardModifier.NoModifier,
    ):
        """Press at a scene point, move in steps, release at another: a mouse drag on the canvas."""
        vp = view.viewport()
        a = view.mapFromScene(start_scene)
        b = view.mapFromScene(end_scene)
        Mouse.send(vp, "press", a, button, modifiers=modifiers)
        for i in range(1, steps + 1):
            p = QPointF(a.x() + (b.x() - a.x()) * i / steps, a.y() + (b.y() - a.y()) * i / steps)
            Mouse.send(vp, "move", p, button, buttons=button, modifiers=modifiers)
        Mouse.send(vp, "release", QPointF(b), button, modifiers=modifiers)


@pytest.fixture
def mouse():
    return Mouse
