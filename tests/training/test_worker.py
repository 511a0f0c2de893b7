"""Training in a worker process: events arrive, Stop ends the run quickly, a crash is reported."""

from __future__ import annotations

import time

import pytest

from studio.design import load_template
from studio.training.worker import TrainingProcess


def _wait(proc, until, timeout=120.0):
    """The events until `until(events)` holds; the timeout only bounds a run that never gets there."""
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events.extend(proc.poll())
        if until(events):
            return events
        time.sleep(0.02)
    raise AssertionError(f"timed out; events so far: {[e.kind for e in events]}")


@pytest.fixture
def project(tmp_path):
    p = load_template("iris_mlp")
    p.path = tmp_path / "iris.studio"
    p.training.update({"epochs": 2, "batch_size": 16})
    return p


def test_run_in_a_worker_process_reports_to_the_end(project):
    proc = TrainingProcess(project)
    proc.start()
    events = _wait(proc, lambda evs: any(e.kind in ("end", "error") for e in evs))
    assert events[-1].kind == "end", events[-1].message
    assert events[-1].run["epochs_completed"] == 2
    proc.join(60)
    assert not proc.is_alive()


def test_stop_ends_the_run_at_the_next_step(project):
    # how soon in seconds is measured by benchmarks/bench_app.py (bench_stop_latency), not timed here
    project.training.update({"epochs": 10000})
    proc = TrainingProcess(project)
    proc.start()
    _wait(proc, lambda evs: any(e.kind == "step" for e in evs))
    proc.pause()
    events = _wait(proc, lambda evs: any(e.kind == "paused" for e in evs))
    held = next(e for e in events if e.kind == "paused").step
    proc.resume()
    proc.stop()
    events = _wait(proc, lambda evs: any(e.kind in ("end", "error") for e in evs))
    assert events[-1].status == "stopped"
    # the run checks for Stop before each step: at most the step under way when it came
    assert max([e.step for e in events if e.kind == "step"] + [held]) <= held + 1


def test_a_killed_worker_is_reported(project):
    project.training.update({"epochs": 10000})
    proc = TrainingProcess(project)
    proc.start()
    _wait(proc, lambda evs: any(e.kind == "step" for e in evs))
    proc._process.kill()
    events = _wait(proc, lambda evs: any(e.kind == "error" for e in evs), timeout=120)
    assert "killed by SIGKILL" in events[-1].message


def test_pause_is_acknowledged_and_resume_goes_on(project):
    project.training.update({"epochs": 10000})
    proc = TrainingProcess(project)
    proc.start()
    events = _wait(proc, lambda evs: any(e.kind == "step" for e in evs))
    proc.pause()
    assert proc.paused
    events += _wait(proc, lambda evs: any(e.kind == "paused" for e in evs), timeout=120)
    paused = next(e for e in events if e.kind == "paused")
    assert paused.step == max(e.step for e in events if e.kind == "step")  # pending steps came first
    proc.resume()
    events += _wait(proc, lambda evs: any(e.kind == "step" for e in evs), timeout=120)
    resumed = [e.kind for e in events].index("resumed")
    assert events[resumed + 1].step == paused.step + 1
    proc.stop()
    events += _wait(proc, lambda evs: any(e.kind == "end" for e in evs), timeout=120)
    assert events[-1].status == "stopped"


def test_the_worker_leaves_a_core_to_the_window(project, monkeypatch):
    import os

    from studio.training import worker

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    proc = TrainingProcess(project)
    seen = {}
    monkeypatch.setattr(proc._process, "start", lambda: seen.update(os.environ))
    proc.start()
    assert seen["OPENBLAS_NUM_THREADS"] == str(max(1, (os.cpu_count() or 2) - 1))
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the app's own environment is left as it was
    assert worker.WORKER_NICENESS > 0
