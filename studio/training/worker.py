"""A training run in its own process: the app starts it, polls its events, and can pause or stop it.

A crash, an out-of-memory kill or an exception in the run ends it with an error event while the
parent (the app) stays alive. Events cross the process boundary as plain dicts.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import time
import traceback

from .events import END, ERROR, PAUSED, RESUMED, STEP, Event

GO, HOLD, STOP = 0, 1, 2  # the control value the parent sets
FLUSH_SECONDS = 0.05
WORKER_NICENESS = 5
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class _Relay:
    """Sends a run's events to the parent in batches, and tells it when the run has paused or resumed."""

    def __init__(self, events, control):
        self.events = events
        self.control = control
        self.batch: list[dict] = []
        self.last_flush = time.monotonic()
        self.paused = False
        self.epoch = self.step = 0

    def send(self, ev: Event):
        # step events travel in batches a few times a second, so that relaying them costs the
        # run almost nothing however short its steps are
        self.epoch, self.step = ev.epoch or self.epoch, ev.step or self.step
        self.batch.append(ev.to_dict())
        now = time.monotonic()
        if ev.kind != STEP or now - self.last_flush >= FLUSH_SECONDS:
            self.flush(now)

    def flush(self, now=None):
        if self.batch:
            self.events.put(self.batch)
            self.batch = []
        self.last_flush = time.monotonic() if now is None else now

    def stopping(self) -> bool:
        return self.control.value == STOP

    def pausing(self) -> bool:
        """Polled by fit between steps; the first poll of a pause sends what is pending and a paused event."""
        paused = self.control.value == HOLD
        if paused != self.paused:
            self.paused = paused
            self.send(Event(PAUSED if paused else RESUMED, epoch=self.epoch, step=self.step))
        return paused


def _child(project_dict, project_path, epochs, events, control):
    """The worker's body: rebuild the project, run fit, and send every event to the parent."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)  # the window wins the processor when both want it
    try:
        from studio.design.project import project_from_dict

        from .fit import fit

        project = project_from_dict(project_dict, project_path)
        project.runs = []
        relay = _Relay(events, control)
        for ev in fit(project, epochs=epochs, stop=relay.stopping, pause=relay.pausing):
            relay.send(ev)
        relay.flush()
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
        self._control = self._ctx.Value("i", GO)
        path = str(project.path) if getattr(project, "path", None) else None
        self._process = self._ctx.Process(
            target=_child,
            args=(project.to_dict(), path, epochs, self._events, self._control),
            daemon=True,
            name="studio-training",
        )
        self._finished = False

    def start(self):
        # The math libraries' thread pools leave one core to the window, which would otherwise stall
        # behind busy-waiting threads; the child reads these variables when it imports numpy.
        threads = str(max(1, (os.cpu_count() or 2) - 1))
        saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
        for k in THREAD_VARIABLES:
            os.environ.setdefault(k, threads)
        try:
            self._process.start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    @property
    def finished(self) -> bool:
        return self._finished

    def is_alive(self) -> bool:
        return self._process.is_alive()

    def pause(self):
        self._control.value = HOLD

    def resume(self):
        self._control.value = GO

    @property
    def paused(self) -> bool:
        return self._control.value == HOLD

    def stop(self):
        """Ask the run to stop; it ends within a step and reports an end event."""
        self._control.value = STOP

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
