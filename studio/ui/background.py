"""Run one function away from the GUI thread and hand its result back to the GUI thread.

A newer job supersedes an older one, whose result is dropped, so that a slow or stuck read (a file
on a hung network share) never holds up the window or shows stale data.
"""

from __future__ import annotations

import contextlib
import threading

import shiboken6
from PySide6.QtCore import QObject, Signal

# Objects whose threads may still hold them. A thread must never drop the last reference to one: the
# object would then be destroyed in that thread while it belongs to the GUI thread, with its result
# still queued there. They are let go in the GUI thread, once their threads have ended.
_KEPT: set = set()


def _sweep() -> None:
    for job in list(_KEPT):
        if not any(t.is_alive() for t in job._threads):
            _KEPT.discard(job)


class Background(QObject):
    """`start(fn)` runs `fn()` on a thread; `finished(result)` or `failed(message)` arrive on the GUI
    thread. `run(fn, on_done, *args)` calls `on_done(result, error)` there instead. Only the newest
    job's outcome is delivered; `done` follows each delivery.

    Only expected errors (ValueError, OSError, RuntimeError) become `failed`; the message is the
    error's text, which Studio's errors write for people. Any other error is raised in the GUI
    thread, where the error dialog shows it.

    The object has no Qt parent, so that deleting `parent` (the widget the outcome is for) does not
    delete it under a running thread; the outcome for a deleted `parent` is dropped.
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
        self._threads: list = []
        self._callback = None
        self._delivered.connect(self._deliver)

    @property
    def busy(self) -> bool:
        """True until the newest job's outcome has been delivered."""
        return self._callback is not None

    def start(self, fn) -> None:
        self.run(fn, self._announce)

    def run(self, fn, on_done, *args) -> int:
        _sweep()
        self.generation += 1
        self._callback = on_done
        thread = threading.Thread(
            target=self._work, args=(self.generation, fn, args), daemon=True, name=self.name
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        _KEPT.add(self)
        thread.start()
        return self.generation

    def cancel(self) -> None:
        """Drop the pending job's outcome."""
        self.generation += 1
        self._callback = None

    def wait(self, timeout=None) -> None:
        if self._threads:
            self._threads[-1].join(timeout)

    def _work(self, generation, fn, args):
        try:
            result, error = fn(*args), None
        except Exception as e:  # noqa: BLE001 - handed to the GUI thread, which reports it
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # this object was deleted while the job ran
            self._delivered.emit(generation, result, error)

    def _deliver(self, generation, result, error):
        _sweep()
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
