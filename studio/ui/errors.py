"""Unexpected errors become a dialog with a short message and the details; the app keeps running."""

from __future__ import annotations

import sys
import time
import traceback

from PySide6.QtWidgets import QApplication, QMessageBox

_showing = False
_last: tuple = ("", 0.0)  # the last error shown and when: a repeating error (a paint) is shown once
REPEAT_QUIET_S = 10.0


def summary(exc: BaseException) -> str:
    """One line for the user: the error's type and message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def handle_exception(exc_type, exc, tb) -> None:
    """Save the open work to recovery files, then show what went wrong."""
    global _showing, _last
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    details = "".join(traceback.format_exception(exc_type, exc, tb))
    print(details, file=sys.stderr)
    app = QApplication.instance()
    if app is None or _showing:  # an error raised while the dialog is open is only printed
        return
    key = summary(exc)
    if key == _last[0] and time.monotonic() - _last[1] < REPEAT_QUIET_S:
        return
    _last = (key, time.monotonic())
    _showing = True
    try:
        windows = [w for w in app.topLevelWidgets() if hasattr(w, "write_recovery") and w.isVisible()]
        for window in windows:
            try:
                window.write_recovery()
            except Exception as save_exc:  # noqa: BLE001 - the dialog below matters more
                print(f"studio: recovery save failed: {save_exc}", file=sys.stderr)
        box = QMessageBox(windows[0] if windows else None)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Unexpected error")
        box.setText(f"Something went wrong: {summary(exc)}")
        box.setInformativeText(
            "Your design is unchanged and a recovery copy was saved. You can keep working; "
            "if this happens again, save your project and restart Studio."
        )
        box.setDetailedText(details)
        box.exec()
    finally:
        _showing = False


_last: tuple = ("", 0.0)  # the last error shown and when: a repeating error (a paint) is shown once
REPEAT_QUIET_S = 10.0


def install_excepthook() -> None:
    """Route uncaught exceptions (including those raised inside Qt slots) to the error dialog."""
    sys.excepthook = handle_exception
