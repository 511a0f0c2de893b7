"""How a worker process ends: collected at once (no zombie), and a killed one reported by its signal."""

from __future__ import annotations

import os
import signal
import time

import pytest

from studio.design import load_template
from studio.training import worker as W
from studio.training.worker import TrainingProcess, death_message


def _until(condition, timeout=60.0):
    """Poll a condition (a process's state changes on its own time) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _state(pid) -> str | None:
    """The process's state letter (Z: a zombie), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@pytest.fixture
def project(tmp_path):
    p = load_template("iris_mlp")
    p.path = str(tmp_path / "iris.studio")
    p.training.update({"epochs": 1, "batch_size": 32})
    return p


def _events_until(proc, kinds):
    events = []
    _until(lambda: events.extend(proc.poll()) or any(e.kind in kinds for e in events))
    return events


def test_a_finished_worker_is_collected_and_its_channels_closed(project):
    proc = TrainingProcess(project)
    proc.start()
    pid = proc._process.pid
    assert _events_until(proc, ("end", "error"))[-1].kind == "end"
    _until(proc.reap)
    assert _state(pid) is None  # collected: not even a zombie
    assert proc.poll() == [] and not proc.is_alive()
    proc.join(1)  # harmless after collection


@pytest.mark.parametrize(
    "sig, words",
    [
        (signal.SIGTERM, "killed by SIGTERM"),
        (signal.SIGKILL, "killed by SIGKILL (possibly out of memory"),
        (signal.SIGSEGV, "killed by SIGSEGV: it crashed"),
    ],
)
def test_a_killed_worker_is_reported_by_its_signal(project, sig, words):
    project.training.update({"epochs": 10_000})
    proc = TrainingProcess(project)
    proc.start()
    _events_until(proc, ("step",))
    os.kill(proc._process.pid, sig)
    events = _events_until(proc, ("error",))
    assert words in events[-1].message and "probably" not in events[-1].message
    _until(proc.reap)


def test_out_of_memory_is_said_only_with_evidence(monkeypatch):
    monkeypatch.setattr(W, "oom_kills", lambda: 3)
    assert "possibly out of memory" in death_message(-signal.SIGKILL, 3)
    assert "ran out of memory" in death_message(-signal.SIGKILL, 2)  # the kernel counted one more
    assert "possibly out of memory" in death_message(-signal.SIGKILL, None)  # nothing known
    assert death_message(3, None) == "the training process ended unexpectedly with exit code 3"
