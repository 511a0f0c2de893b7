"""File dialogs that all start in one sensible folder: the project's, else the last one used, else the
working directory; the folder of each path chosen is remembered for the next dialog."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

LAST_FOLDER_KEY = "files/lastFolder"


def _settings():
    from .main_window import settings  # the window owns the settings' names

    return settings()


def start_folder(widget=None) -> Path:
    """Where a dialog opened from `widget` starts: the folder of its window's saved project, else the
    folder last chosen in any dialog, else the working directory."""
    project = getattr(widget.window(), "project", None) if widget is not None else None
    if project is not None and getattr(project, "path", None):
        folder = Path(project.path).parent
        if folder.is_dir():
            return folder
    last = _settings().value(LAST_FOLDER_KEY)
    if last and Path(str(last)).is_dir():
        return Path(str(last))
    return Path(os.getcwd())


def remember(path) -> None:
    """Remember the folder of a chosen path (a chosen folder itself) for the next dialog."""
    if path:
        p = Path(path)
        _settings().setValue(LAST_FOLDER_KEY, str(p if p.is_dir() else p.parent))


def open_file(widget, title: str, filters: str) -> str:
    path, _ = QFileDialog.getOpenFileName(widget, title, str(start_folder(widget)), filters)
    remember(path)
    return path


def save_file(widget, title: str, name: str, filters: str) -> str:
    """A path to save to; `name` is proposed in the start folder (a path with a folder is kept)."""
    proposed = Path(name) if Path(name).parent != Path(".") else start_folder(widget) / name
    path, _ = QFileDialog.getSaveFileName(widget, title, str(proposed), filters)
    remember(path)
    return path


def open_folder(widget, title: str) -> str:
    path = QFileDialog.getExistingDirectory(widget, title, str(start_folder(widget)))
    remember(path)
    return path
