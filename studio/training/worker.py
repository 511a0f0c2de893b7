"""A training run in its own process: the app starts it, polls its events, and can pause or stop it.

A crash, an out-of-memory kill or an exception in the run ends it with an error event while the
parent (the app) stays alive. Events cross the process boundary as plain dicts.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
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


def _child(project_dict, project_path, epochs, weights_dir, events, control, init=None, job=None):
    """The worker's body: rebuild the project, run fit (or the compression `job` asks for: a dict of
    `compress` arguments), and send every event to the parent."""
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICENESS)  # the window wins the processor when both want it
    with contextlib.suppress(ValueError, AttributeError):
        # Ctrl+C in a terminal reaches the whole process group: the parent decides when a run stops
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from studio.design.project import project_from_dict

        from .fit import fit

        project = project_from_dict(project_dict, project_path)
        relay = _Relay(events, control)
        if job is not None:
            from .compress import compress

            run = compress(project, stop=relay.stopping, **job)
        else:
            project.runs = []
            run = fit(
                project,
                epochs=epochs,
                stop=relay.stopping,
                pause=relay.pausing,
                weights_dir=weights_dir,
                init=init,
            )
        for ev in run:
            relay.send(ev)
        relay.flush()
    except BaseException as e:  # noqa: BLE001 - whatever happens, the parent gets a message
        events.put(
            [
                Event(
                    ERROR,
                    message=f"{'compression' if job else 'training'} failed: {type(e).__name__}: {e}",
                    run={"traceback": traceback.format_exc()},
                ).to_dict()
            ]
        )


class TrainingProcess:
    """Runs `fit` for a project in a separate process and relays its events.

    `init`: a weights file the run starts from (see `fit`). `job`: instead of training, compress a
    run: the keyword arguments of `studio.training.compress.compress` (options, run_id, folder).
    `threads`: the math libraries' threads in the worker (default: all cores but one).
    """

    def __init__(self, project, epochs=None, weights_dir=None, init=None, job=None, threads=None):
        from studio.design.runs import runs_folder

        self._ctx = mp.get_context("spawn")
        self._events = self._ctx.Queue()
        self._control = self._ctx.Value("i", GO)
        path = str(project.path) if getattr(project, "path", None) else None
        # chosen here: the child's copy of the project cannot know an unsaved project's own folder
        weights_dir = str(weights_dir or runs_folder(project))
        self._process = self._ctx.Process(
            target=_child,
            args=(project.to_dict(), path, epochs, weights_dir, self._events, self._control, init, job),
            daemon=True,
            name="studio-training",
        )
        self._threads = threads
        self._finished = False
        self._reaped = False
        self._oom_kills = oom_kills()

    def start(self):
        # The math libraries' thread pools leave one core to the window, which would otherwise stall
        # behind busy-waiting threads; the child reads these variables when it imports numpy.
        threads = str(self._threads or max(1, (os.cpu_count() or 2) - 1))
        saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
        for k in THREAD_VARIABLES:
            if self._threads:  # parallel runs share the cores: each gets its part
                os.environ[k] = threads
            else:
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
        return not self._reaped and self._process.is_alive()

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
        if self._reaped:
            return
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(2)
        self._finished = True
        self.reap()

    def reap(self) -> bool:
        """Collect the ended process (no zombie stays behind) and close the channels to it; True once
        done. Never blocks: call it again until it is done."""
        if self._reaped:
            return True
        if self._process.exitcode is None and self._process.is_alive():  # is_alive() collects an ended child
            return False
        self._reaped = True
        self._events.close()
        self._events.join_thread()
        with contextlib.suppress(ValueError):
            self._process.close()
        return True

    def poll(self, limit=10000) -> list[Event]:
        """The events that arrived since the last call, without blocking."""
        out = []
        if self._reaped:
            return out
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
            out.append(Event(ERROR, message=death_message(self._process.exitcode, self._oom_kills)))
            self._finished = True
        return out

    def _take(self, batch, out):
        for d in batch:
            ev = Event(**d)
            out.append(ev)
            if ev.kind in (END, ERROR):
                self._finished = True

    def join(self, timeout=None):
        if not self._reaped:
            self._process.join(timeout)


def death_message(code: int, oom_kills_before: int | None) -> str:
    """What is known about a worker that ended without a last word: its exit code or signal.

    Out of memory is said only with evidence (the kernel counted an out-of-memory kill in this
    control group since the run started), and only as a possibility for a bare SIGKILL.
    """
    if code is None or code >= 0:
        return f"the training process ended unexpectedly with exit code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    text = f"the training process was killed by {name}"
    if -code == signal.SIGKILL:
        after = oom_kills()
        if oom_kills_before is not None and after is not None and after > oom_kills_before:
            return text + ": the system ran out of memory and stopped it"
        return text + " (possibly out of memory, or stopped by another program)"
    if -code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGABRT):
        return text + ": it crashed"
    return text


OOM_EVENTS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")


def oom_kills() -> int | None:
    """How many processes the kernel killed for lack of memory in this control group (None: unknown)."""
    for path in OOM_EVENTS:
        try:
            with open(path, encoding="ascii") as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        except (OSError, ValueError):
            continue
    return None
