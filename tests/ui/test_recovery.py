"""Recovery copies: a killed session's copy is offered, a live session's is not, whatever its pid; a
damaged note is reported and skipped, and never stops the app from starting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QMessageBox

from studio.design import load_template
from studio.ui import recovery

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="advisory locks are POSIX")

# a session that writes a recovery copy of the Iris template, says so, and then waits or dies
SESSION = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from studio.design import load_template
    from studio.ui import recovery
    recovery.recovery_dir = lambda: Path(sys.argv[1])
    project = load_template("iris_mlp")
    project.name = "from another session"
    copy = recovery.RecoveryFile()
    copy.write(project)
    print(copy.path, flush=True)
    if sys.argv[2] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()  # live until told
    """
)


def _session(how):
    folder = recovery.recovery_dir()
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", SESSION, str(folder), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    path = proc.stdout.readline().strip()
    return proc, path


@posix_only
def test_the_copy_of_a_killed_session_is_offered_and_a_live_one_s_is_not():
    dead, dead_path = _session("die")
    assert dead.wait(60) == -9
    live, live_path = _session("live")
    try:
        assert live_path and os.path.exists(live_path)
        offered = [str(e["path"]) for e in recovery.orphaned()]
        assert offered == [dead_path]
    finally:
        live.stdin.close()
        live.wait(60)
    project = recovery.restore(recovery.orphaned()[0])
    assert project.name == "from another session"


def _copy_with_note(note_text: str, name: str):
    folder = recovery.recovery_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.studio"
    project = load_template("iris_mlp")
    from studio.design.project import save_project

    save_project(project, path)
    path.with_suffix(".json").write_text(note_text)
    return path


@posix_only
def test_a_pid_of_another_live_process_does_not_hide_a_copy():
    # the pid recorded is this test's parent: alive, but not a Studio session holding the copy
    path = _copy_with_note(json.dumps({"pid": os.getppid(), "saved": 1.0, "original": None}), "reused")
    assert [e["path"] for e in recovery.orphaned()] == [path]


@pytest.mark.parametrize(
    "note",
    [
        "[1, 2]",
        json.dumps({"pid": 10**30}),
        json.dumps({"saved": "yesterday", "original": 7, "name": ["x"]}),
        "{not json",
        json.dumps({"pid": -1, "saved": 1e400}).replace("Infinity", "1e999"),
        "[" * 100_000,
    ],
)
def test_a_damaged_note_is_reported_and_skipped(make_window, monkeypatch, note):
    path = _copy_with_note(note, "damaged")
    found, problems = recovery.scan()
    assert [e["path"] for e in found] == [path]
    assert problems and all("damaged" in p or "cannot be read" in p for p in problems)
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Yes
    )
    window = make_window()
    window.offer_recovery()  # the app starts and offers the copy
    assert len(asked) == 1 and "an unsaved project" in asked[0][2]
    assert "Recovery:" in window.statusBar().currentMessage()
    assert not path.exists()  # restored, then discarded


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through /proc")
def test_autosaves_and_saves_keep_no_file_open(window, tmp_path):
    """A window holds its lock from its start: autosaves in a long session open no file that stays."""
    node = next(iter(window.editor.design.nodes))
    window.editor.rename(node, "first")
    window.write_recovery()
    window.save_to(str(tmp_path / "s.studio"))
    before = len(os.listdir("/proc/self/fd"))
    for i in range(5):
        window.editor.rename(node, f"edit{i}")
        window.write_recovery()
        assert recovery.orphaned() == []  # this session lives: its copy is not offered
        window.save_to(str(tmp_path / "s.studio"))
    assert len(os.listdir("/proc/self/fd")) == before
