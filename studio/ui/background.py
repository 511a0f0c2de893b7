"""Run one function away from the GUI thread and hand its result back to the GUI thread.

A newer job supersedes an older one, whose result is dropped, so that a slow or stuck read (a file
on a hung network share) never holds up the window or shows stale data.
"""

from __future__ import annotations

import contextlib
import threading

import shiboken6
from PySide6.QtCore import QObject, Signal


class Background(QObject):
    """`start(fn)` runs `fn()` on a thread; `finished(result)` or `failed(message)` arrive on the GUI
    thread. `run(fn, on_done, *args)` calls `on_done(result, error)` there instead. Only the newest
    job's outcome is delivered; `done` follows each delivery.

    Only expected errors (ValueError, OSError, RuntimeError) become `failed`; the message is the
    error's text, which Studio's errors write for people. Any other error is raised in the GUI
    thread, where the error dialog shows it.

    The object has no Qt parent: a running thread holds it, so it lives until the thread has handed
    over its outcome, even when `parent` (the widget the outcome is for) is deleted first; the
    outcome is then dropped.
    """

    finished = Signal(object)
    failed = Signal(str)
    done = Signal()
    _delivered = Signal(int, object, object)  # generation, result, error

    def __init__(self, parent=None, name="studio-background"):
        super().__init__()
        self.owner = parent
        self.name = name
        self.generation = 0
        self._thread = None
        self._callback = None
        self._delivered.connect(self._deliver)

    @property
    def busy(self) -> bool:
        """True until the newest job's outcome has been delivered."""
        return self._callback is not None

    def start(self, fn) -> None:
        self.run(fn, self._announce)

    def run(self, fn, on_done, *args) -> int:
        self.generation += 1
        self._callback = on_done
        self._thread = threading.Thread(
            target=self._work, args=(self.generation, fn, args), daemon=True, name=self.name
        )
        self._thread.start()
        return self.generation

    def cancel(self) -> None:
        """Drop the pending job's outcome."""
        self.generation += 1
        self._callback = None

    def wait(self, timeout=None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _work(self, generation, fn, args):
        try:
            result, error = fn(*args), None
        except Exception as e:  # noqa: BLE001 - handed to the GUI thread, which reports it
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # this object was deleted while the job ran
            self._delivered.emit(generation, result, error)

    def _deliver(self, generation, result, error):
        gone = self.owner is not None and not shiboken6.isValid(self.owner)
        if generation != self.generation or self._callback is None or gone:
            return  # superseded, or its widget is gone
        callback, self._callback = self._callback, None
        try:
            callback(result, error)
        finally:
            self.done.emit()

    def _announce(self, result, error):
        if error is None:
            self.finished.emit(result)
        elif isinstance(error, (ValueError, OSError, RuntimeError)):
            self.failed.emit(str(error))
        else:
            raise error
