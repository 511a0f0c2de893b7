"""`studio sweep`: a sweep on the Iris sample headless, its table, --apply, and one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from studio.cli import main
from studio.design.project import load_project


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def iris(tmp_path):
    path = tmp_path / "iris.studio"
    assert main(["new", "--data", "iris", "--template", "iris_mlp", "-o", str(path)]) == 0
    return path


def test_sweep_prints_progress_a_table_and_the_best_and_apply_writes_it(iris, capsys):
    capsys.readouterr()
    argv = ["sweep", str(iris), "--trials", "3", "--param", "lr=1e-3:1e-1:log"]
    code, out, err = run(
        capsys, *argv, "--param", "hidden1.out_features=8,32", "--jobs", "2", "--epochs", "2", "--apply"
    )
    assert code == 0, err
    assert err.count(" started: lr=") == 3 and "finished: 3 of 3 trials completed" in err
    lines = out.splitlines()
    assert lines[0].split() == [
        "trial",
        "lr",
        "hidden1.out_features",
        "status",
        "val_loss",
        "test_accuracy",
        "test_loss",
        "seconds",
    ]
    marked = [line for line in lines[2:5] if line.lstrip().startswith("*")]
    assert len(marked) == 1
    project = load_project(iris)
    sweep = project.sweeps[-1]
    best = next(t for t in sweep["trials"] if t["number"] == sweep["best"])
    assert project.training["lr"] == best["values"]["lr"]
    assert project.design.nodes["n2"].params["out_features"] == best["values"]["hidden1.out_features"]
    assert project.runs[-1]["id"] == sweep["best_run"] and f"weights: run {sweep['best_run']}" in out
    assert "applied the best settings" in out


def test_without_apply_the_settings_stay_and_the_sweep_is_recorded(iris, capsys):
    before = load_project(iris)
    code, out, err = run(capsys, "sweep", str(iris), "--trials", "1", "--param", "lr=0.05", "--epochs", "1")
    assert code == 0, err
    after = load_project(iris)
    assert after.training == before.training and len(after.sweeps) == 1 and len(after.runs) == 1
    assert "--apply" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], "give at least one --param"),
        (["--param", "hidden9.out_features=4"], "hidden9.out_features: not a training setting"),
        (["--param", "lr=1:0.1"], "lr: the range's low end must be below its high end"),
        (["--param", "lr=0.1", "--jobs", "0"], "--jobs: expected at least 1, got 0"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(iris, capsys, args, words):
    capsys.readouterr()
    code, out, err = run(capsys, "sweep", str(iris), *args)
    assert code == 2 and out == ""
    assert err.startswith("studio: error: ") and words in err and err.count("\n") == 1
    assert "Traceback" not in err and load_project(iris).sweeps == []


def test_ctrl_c_stops_the_running_trials_and_keeps_the_finished_ones(iris):
    # seed 1 puts the one-epoch trial first on this grid: it finishes, the long one is running
    argv = [
        "sweep",
        str(iris),
        "--method",
        "grid",
        "--seed",
        "1",
        "--jobs",
        "1",
        "--param",
        "epochs=1,100000",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("trial 1 started"):
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
        proc.wait(30)
    err = "".join(seen) + err
    assert proc.returncode == 0, err
    assert "trial 0 completed" in err and "trial 1 stopped" in err and "Traceback" not in err
    sweep = load_project(iris).sweeps[-1]
    assert sweep["status"] == "stopped" and [t["status"] for t in sweep["trials"]] == ["completed", "stopped"]
    assert sweep["best"] == 0 and load_project(iris).runs[-1]["id"] == sweep["best_run"]
