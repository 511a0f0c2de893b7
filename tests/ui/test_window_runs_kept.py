"""Runs from the window keep their own weights, which go with the project; the worker never lingers.

The many-runs test trains 10 real runs in one window (50 with STUDIO_SLOW_TESTS=1) and checks that
every run has its own loadable weights, that memory and open files stay level and that no worker
process is left behind.
"""

from __future__ import annotations

import gc
import json
import os
import signal
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from studio.design import load_template
from studio.design import runs as R
from studio.design.weights import design_state, load_weights, save_weights

MANY_RUNS = 50 if os.environ.get("STUDIO_SLOW_TESTS") else 10


def _children(state=None) -> list[int]:
    """This process's child processes (in the given state only, e.g. "Z" for zombies)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and (state is None or fields[0] == state):
            out.append(int(pid))
    return out


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _tiny(window):
    panel = window.training_panel
    panel.epochs.setValue(1)
    panel.batch_size.setValue(64)
    return panel


def _train(qtbot, window, seed=None):
    panel = window.training_panel
    if seed is not None:  # same settings and seed train the same weights: vary it to tell runs apart
        panel.seed.setValue(seed)
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as blocker:
        panel.start()
    run = blocker.args[0]
    assert run["status"] == "completed", panel.status.text()
    # the finished worker is collected at once: the panel stops polling only when it is gone
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=10_000)
    return run


def _weights(window, run):
    p = R._absolute(run["weights"], window.project)
    assert p is not None and p.is_file(), run["weights"]
    return p


@pytest.fixture
def saved_window(make_window, tmp_path):
    project = load_template("iris_mlp")
    project.path = str(tmp_path / "iris.studio")
    window = make_window(project=project)
    _tiny(window)
    return window


def test_each_run_from_the_window_keeps_its_own_weights(qtbot, saved_window):
    first = _train(qtbot, saved_window, seed=1)
    second = _train(qtbot, saved_window, seed=2)
    a, b = _weights(saved_window, first), _weights(saved_window, second)
    assert a != b and a.read_bytes() != b.read_bytes() and first["id"] != second["id"]
    assert a.parent == b.parent == R.runs_folder_for(saved_window.project.path)
    assert _children("Z") == []
    assert saved_window.plots.overlay_box.itemText(1).startswith("Run 1 (completed")


def test_runs_of_an_unsaved_project_go_with_it_on_save_as(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()  # an unsaved project
    _tiny(window)
    run = _train(qtbot, window)
    scratch = _weights(window, run).parent
    content = _weights(window, run).read_bytes()
    assert scratch.parent == R.unsaved_root()
    target = tmp_path / "kept.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save_as()
    saved = json.loads(target.read_text())
    assert saved["runs"][0]["weights"] == f"kept-runs/run-{run['id']}.safetensors"
    assert (tmp_path / saved["runs"][0]["weights"]).read_bytes() == content
    assert not scratch.exists()
    # the next run of the now saved project goes beside it
    second = _train(qtbot, window)
    assert _weights(window, second).parent == tmp_path / "kept-runs"


def test_closing_an_unsaved_project_without_saving_removes_its_runs(qtbot, make_window):
    window = make_window()
    _tiny(window)
    scratch = _weights(window, _train(qtbot, window)).parent
    window.new_empty()  # the test's dialogs answer Discard
    assert not scratch.exists() and window.project.runs == []


def test_export_refuses_weights_of_another_design(qtbot, saved_window, tmp_path):
    """The case that was seen: the weights of a Transformer template exported as an Iris project's."""
    from studio.ui.export_dialog import ExportDialog

    transformer = load_template("tokens_transformer")
    foreign = tmp_path / "foreign.safetensors"
    save_weights(design_state(transformer.design), foreign, transformer.name)
    saved_window.project.runs.append({"id": "x", "status": "completed", "weights": str(foreign)})
    dialog = ExportDialog(saved_window.project, saved_window)
    qtbot.addWidget(dialog)
    out = tmp_path / "exported.safetensors"
    with pytest.raises(ValueError, match="Token Transformer.*do not fit 'Iris MLP'"):
        dialog.write_weights(out)
    assert not out.exists()
    saved_window.project.runs.pop()
    run = _train(qtbot, saved_window)
    assert dialog.write_weights(out) == out
    assert load_weights(out, saved_window.project.design) and _weights(saved_window, run).is_file()


def test_a_killed_worker_is_reported_and_nothing_is_lost(qtbot, saved_window):
    window = saved_window
    window.save()
    earlier = _train(qtbot, window)
    window.save()
    on_disk = Path(window.project.path).read_bytes()
    panel = window.training_panel
    panel.epochs.setValue(10_000)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=120_000)
    os.kill(panel.process._process.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: not panel.running, timeout=20_000)
    assert "killed by SIGKILL" in panel.status.text() and "probably" not in panel.status.text()
    qtbot.waitUntil(lambda: not panel.timer.isActive(), timeout=10_000)
    assert _children("Z") == []
    assert Path(window.project.path).read_bytes() == on_disk
    assert window.project.runs == [earlier]
    assert load_weights(_weights(window, earlier), window.project.design)


def test_many_runs_in_one_session(qtbot, saved_window, capsys):
    """MANY_RUNS real runs: as many different, loadable weights files; memory and files level."""
    window = saved_window
    runs = [_train(qtbot, window, seed=i) for i in range(3)]  # warm up: imports, caches, first plots
    gc.collect()
    rss0, fds0, helpers = _rss_mb(), _fds(), _children()  # multiprocessing's resource tracker stays
    runs += [_train(qtbot, window, seed=i) for i in range(3, MANY_RUNS)]
    gc.collect()
    growth, fds = _rss_mb() - rss0, _fds()
    files = [_weights(window, r) for r in runs]
    assert len(set(files)) == MANY_RUNS == len({f.read_bytes() for f in files})
    assert all(load_weights(f, window.project.design) for f in files)
    assert window.project.runs == runs
    assert _children() == helpers and _children("Z") == [], "worker processes left behind"
    assert fds <= fds0, f"{fds - fds0} file descriptors leaked"
    assert growth < 20, f"memory grew by {growth:.1f} MB over {MANY_RUNS - 3} runs"
    with capsys.disabled():
        print(f"\n{MANY_RUNS} runs: memory {growth:+.1f} MB after warm-up, file descriptors {fds0} -> {fds}")
