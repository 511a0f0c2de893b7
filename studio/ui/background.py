"""Run one function away from the GUI thread and hand its result back as a Qt signal."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal


class Background(QObject):
    """`start(fn)` runs `fn()` on a thread; `finished(result)` or `failed(message)` arrive on the GUI thread.

    Only expected errors (ValueError, OSError, RuntimeError) become `failed`; the message is the
    error's text, which Studio's errors write for people.
    """

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread = None

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, fn) -> None:
        def work():
            try:
                result = fn()
            except (ValueError, OSError, RuntimeError) as e:
                self.failed.emit(str(e))
            else:
                self.finished.emit(result)

        self._thread = threading.Thread(target=work, name="studio-background", daemon=True)
        self._thread.start()

    def wait(self, timeout=None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
