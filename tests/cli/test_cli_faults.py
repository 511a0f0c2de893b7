"""The command line under faults: killed mid-run, a full disk, two trainings of one project at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from studio.cli import main, stoppable
from studio.core import atomic
from studio.design.project import load_project
from studio.design.weights import load_weights


def _studio(*argv, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _new(capsys, path):
    assert main(["new", "--data", "iris", "-o", str(path)]) == 0
    capsys.readouterr()


def _train(capsys, path, *extra):
    code = main(["train", str(path), "--epochs", "1", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _weights(path, keys=("weights",)):
    project = load_project(path)
    return [project.folder / r[k] for r in project.runs for k in keys if r.get(k)]


def test_kill_9_of_studio_train_keeps_the_project_and_earlier_runs(tmp_path, capsys):
    path = tmp_path / "iris.studio"
    _new(capsys, path)
    assert _train(capsys, path)[0] == 0
    project_bytes = path.read_bytes()
    (earlier,) = _weights(path)
    earlier_bytes = earlier.read_bytes()
    proc = _studio("train", str(path), "--epochs", "100000")
    try:
        for line in proc.stdout:  # killed in the middle of the long work
            if line.startswith("epoch 2:"):
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == project_bytes
    assert earlier.read_bytes() == earlier_bytes and load_weights(earlier, load_project(path).design)
    assert sorted(os.listdir(earlier.parent)) == sorted(
        p.name for p in _weights(path, ("weights", "best_weights"))
    )


def test_two_trainings_of_one_project_at_once_both_keep_their_runs(tmp_path, capsys):
    path = tmp_path / "iris.studio"
    _new(capsys, path)
    procs = [_studio("train", str(path), "--epochs", "2") for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    files = _weights(path)
    assert len(load_project(path).runs) == 2 and len(set(files)) == 2 and all(f.is_file() for f in files)


def test_train_on_a_full_disk_fails_at_once_and_keeps_everything(small_disk, capsys):
    path = small_disk.path / "iris.studio"
    _new(capsys, path)
    assert _train(capsys, path)[0] == 0
    before, (earlier,) = path.read_bytes(), _weights(path)
    small_disk.fill()
    code, out, err = _train(capsys, path, "--epochs", "1000")
    assert code == 1 and "epoch" not in out  # nothing was trained
    assert "not enough free space" in err and "iris-runs" in err and len(err.splitlines()) == 1
    assert path.read_bytes() == before and earlier.is_file()


def test_a_weights_folder_that_cannot_be_written_fails_at_once(tmp_path, capsys):
    path = tmp_path / "iris.studio"
    _new(capsys, path)
    (tmp_path / "iris-runs").write_text("a file where the runs folder would be")
    code, out, err = _train(capsys, path)
    assert code == 1 and "epoch" not in out and "cannot write the weights of this run" in err


def test_a_disk_that_fills_during_training_loses_no_weights(small_disk, capsys, monkeypatch):
    path = small_disk.path / "iris.studio"
    _new(capsys, path)
    before = path.read_bytes()
    small_disk.fill()
    monkeypatch.setattr(atomic, "ensure_room", lambda *a, **k: None)  # the space went during the run
    code, out, err = _train(capsys, path)
    assert code == 1 and "no space left" in err
    assert "warning: the weights could not be written where they belong" in err
    rescued = err.split("the run's weights are in ")[1].strip()
    assert load_weights(rescued, load_project(path).design)
    assert path.read_bytes() == before


def test_export_on_a_full_disk_keeps_the_old_script(small_disk, capsys):
    path = small_disk.path / "iris.studio"
    _new(capsys, path)
    script = small_disk.path / "net.py"
    assert main(["export", str(path), "-o", str(script)]) == 0
    old = script.read_bytes()
    small_disk.fill()
    capsys.readouterr()
    assert main(["export", str(path), "-o", str(script), "--target", "torch"]) == 1
    err = capsys.readouterr().err
    assert "cannot write" in err and "net.py" in err and "no space left" in err
    assert script.read_bytes() == old
    assert [p for p in os.listdir(small_disk.path) if p.endswith(atomic.TMP_SUFFIX)] == []


@pytest.mark.parametrize("target", ["studio", "torch"])
def test_export_writes_through_a_symlink(tmp_path, capsys, target):
    path = tmp_path / "iris.studio"
    _new(capsys, path)
    real = tmp_path / "real.py"
    real.write_text("old")
    os.chmod(real, 0o640)
    (tmp_path / "link.py").symlink_to(real)
    assert main(["export", str(path), "-o", str(tmp_path / "link.py"), "--target", target]) == 0
    assert (tmp_path / "link.py").is_symlink() and "class Net" in real.read_text()
    assert (os.stat(real).st_mode & 0o777) == 0o640


def _interrupted_run(path, signals):
    """`studio train` interrupted by `signals` Ctrl+C's once it reports its second epoch."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = _studio("train", str(path), "--epochs", "100000", "--patience", "100000", env=env)
    try:
        for line in proc.stdout:
            if line.startswith("epoch 2:"):
                break
        for _ in range(signals):
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(30)
    return proc.returncode, out, err


def test_ctrl_c_stops_studio_train_after_its_step_and_keeps_the_run(tmp_path, capsys):
    path = tmp_path / "iris.studio"
    _new(capsys, path)
    code, out, err = _interrupted_run(path, 1)
    assert code == 0, err
    assert "stopping after this step" in err and "Traceback" not in err
    assert "finished (stopped)" in out
    (run,) = load_project(path).runs
    assert run["status"] == "stopped" and len(run["curves"]["step"]) >= 2
    (weights,) = _weights(path)
    assert load_weights(weights, load_project(path).design)


def test_a_second_ctrl_c_breaks_into_the_job(capsys):
    seen = []

    def job(stop):
        for step in range(10):
            seen.append(stop())
            if step in (2, 4):
                signal.raise_signal(signal.SIGINT)  # the user's Ctrl+C, delivered mid-step
            yield step

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        list(stoppable(job))
    assert seen == [False, False, False, True, True]  # asked to stop after the first, broken by the second
    assert signal.getsignal(signal.SIGINT) is before
    assert "stopping after this step" in capsys.readouterr().err
