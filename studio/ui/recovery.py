"""Recovery files: autosaved copies of unsaved work, and the copies a crashed session left behind."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import time
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from studio.core import atomic
from studio.design.project import load_project, save_project

SUFFIX = ".studio"


def recovery_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".studio") / "recovery"


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists but belongs to someone else
    return True


class RecoveryFile:
    """The recovery copy of one window's project: `<pid>-<n>.studio` with a `.json` note beside it."""

    _count = 0

    def __init__(self):
        RecoveryFile._count += 1
        self.path = recovery_dir() / f"{os.getpid()}-{RecoveryFile._count}{SUFFIX}"

    @property
    def note(self) -> Path:
        return self.path.with_suffix(".json")

    def write(self, project) -> Path:
        """Save a copy of the project (its own path and data paths untouched)."""
        shadow = dataclasses.replace(
            project, data=copy.deepcopy(project.data), runs=copy.deepcopy(project.runs)
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_project(shadow, self.path)
        note = {"original": project.path, "pid": os.getpid(), "saved": time.time(), "name": project.name}
        atomic.write_text(self.note, json.dumps(note))
        return self.path

    def remove(self) -> None:
        for p in (self.path, self.note):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def orphaned() -> list[dict]:
    """Recovery copies whose session is gone (it crashed or was killed), newest first."""
    found = []
    folder = recovery_dir()
    if not folder.is_dir():
        return found
    for path in folder.glob(f"*{SUFFIX}"):
        note_path = path.with_suffix(".json")
        try:
            note = json.loads(note_path.read_text(encoding="utf-8"))
            pid = int(note.get("pid", -1))
        except (OSError, ValueError, TypeError):
            note, pid = {}, -1
        if pid > 0 and _alive(pid):
            continue
        found.append(
            {
                "path": path,
                "note": note_path,
                "original": note.get("original"),
                "saved": float(note.get("saved") or path.stat().st_mtime),
            }
        )
    found.sort(key=lambda r: r["saved"], reverse=True)
    return found


def restore(entry: dict):
    """The project kept in a recovery copy, pointing at its original file again."""
    project = load_project(entry["path"])
    if project.data.get("path"):
        project.data["path"] = str(project.data_path())
    for run in project.runs:
        if isinstance(run, dict):
            for key in ("weights", "best_weights"):
                if run.get(key) and not Path(run[key]).is_absolute():
                    run[key] = str(project.folder / run[key])
    project.path = entry.get("original")
    return project


def discard(entry: dict) -> None:
    for key in ("path", "note"):
        with contextlib.suppress(FileNotFoundError, KeyError):
            Path(entry[key]).unlink()
