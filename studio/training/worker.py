"""A training run in its own process: the app starts it, polls its events, and can pause or stop it.

A crash, an out-of-memory kill or an exception in the run ends it with an error event while the
parent (the app) stays alive. Events cross the process boundary as plain dicts.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
import traceback

from .events import END, ERROR, STEP, Event

RUNNING, PAUSED, STOPPING = 0, 1, 2
FLUSH_SECONDS = 0.05


def _child(project_dict, project_path, epochs, events, control):
    """The worker's body: rebuild the project, run fit, and send every event to the parent."""
    try:
        from studio.design.project import project_from_dict

        from .fit import fit

        project = project_from_dict(project_dict, project_path)
        project.runs = []
        batch, last_flush = [], time.monotonic()
        for ev in fit(
            project,
            epochs=epochs,
            stop=lambda: control.value == STOPPING,
            pause=lambda: control.value == PAUSED,
        ):
            # step events travel in batches a few times a second, so that relaying them costs the
            # run almost nothing however short its steps are
            batch.append(ev.to_dict())
            now = time.monotonic()
            if ev.kind != STEP or now - last_flush >= FLUSH_SECONDS:
                events.put(batch)
                batch, last_flush = [], now
        if batch:
            events.put(batch)
    except BaseException as e:  # noqa: BLE001 - whatever happens, the parent gets a message
        events.put(
            [
                Event(
                    ERROR,
                    message=f"training failed: {type(e).__name__}: {e}",
                    run={"traceback": traceback.format_exc()},
                ).to_dict()
            ]
        )


class TrainingProcess:
    """Runs `fit` for a project in a separate process and relays its events."""

    def __init__(self, project, epochs=None):
        self._ctx = mp.get_context("spawn")
        self._events = self._ctx.Queue()
        self._control = self._ctx.Value("i", RUNNING)
        path = str(project.path) if getattr(project, "path", None) else None
        self._process = self._ctx.Process(
            target=_child,
            args=(project.to_dict(), path, epochs, self._events, self._control),
            daemon=True,
            name="studio-training",
        )
        self._finished = False

    def start(self):
        self._process.start()

    @property
    def finished(self) -> bool:
        return self._finished

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def pause(self):
        self._control.value = PAUSED

    def resume(self):
        self._control.value = RUNNING

    @property
    def paused(self) -> bool:
        return self._control.value == PAUSED

    def stop(self):
        """Ask the run to stop; it ends within a step and reports an end event."""
        self._control.value = STOPPING

    def kill(self):
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(2)
            if self._process.is_alive():
                self._process.kill()
        self._finished = True

    def poll(self, limit=10000) -> list[Event]:
        """The events that arrived since the last call, without blocking."""
        out = []
        while len(out) < limit:
            try:
                batch = self._events.get_nowait()
            except queue.Empty:
                break
            self._take(batch, out)
        if (
            not out
            and not self._finished
            and not self._process.is_alive()
            and self._process.exitcode is not None
        ):
            # the process died without a last word: drain once more, then report the crash
            try:
                self._take(self._events.get(timeout=0.2), out)
                return out
            except queue.Empty:
                pass
            code = self._process.exitcode
            hint = " (killed: probably out of memory)" if code in (-9, 137) else ""
            out.append(
                Event(ERROR, message=f"the training process ended unexpectedly with exit code {code}{hint}")
            )
            self._finished = True
        return out

    def _take(self, batch, out):
        for d in batch:
            ev = Event(**d)
            out.append(ev)
            if ev.kind in (END, ERROR):
                self._finished = True

    def join(self, timeout=None):
        self._process.join(timeout)
