"""The Qt desktop application: main window, palette, canvas, panels and undo commands."""

from __future__ import annotations

__all__ = ["MainWindow", "run_app"]


def __getattr__(name):
    # Qt is imported only when a window is asked for, so `python -m studio.ui` can explain a missing
    # display or missing system libraries before PySide6 fails to load.
    if name == "MainWindow":
        from .main_window import MainWindow

        return MainWindow
    if name == "run_app":
        from .app import run_app

        return run_app
    raise AttributeError(f"module 'studio.ui' has no attribute {name!r}")
