"""Recovery files: autosaved copies of unsaved work, and the copies a crashed session left behind."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import secrets
import time
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; liveness falls back to the recorded pid
    fcntl = None

from PySide6.QtCore import QStandardPaths

from studio.core import atomic
from studio.design.project import WEIGHT_KEYS, load_project, save_project

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
    except (PermissionError, OSError, OverflowError, ValueError):
        return pid > 0  # a process of someone else, or a pid no process can have
    return True


def _open_lock(path: Path) -> int | None:
    """A descriptor of a lock file, or None when there is none (never blocks, even on a pipe)."""
    try:
        return os.open(path, os.O_RDWR | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None


def _held(lock: Path, pid) -> bool:
    """Whether a live Studio still edits the copy: it holds the copy's lock for as long as it runs, and
    the lock dies with it, whatever became of its pid (reused by another process, say)."""
    if fcntl is None:  # no advisory locks: the recorded process must be gone
        return isinstance(pid, int) and not isinstance(pid, bool) and _alive(pid)
    fd = _open_lock(lock)
    if fd is None:
        return False  # a copy without a lock: its session is gone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


class RecoveryFile:
    """The recovery copy of one window's project: `<pid>-<n>-<random>.studio`, with a `.json` note,
    and a `.lock` that the window holds locked from its start to its close (one open file, for its
    whole life, so that autosaves open none)."""

    _count = 0

    def __init__(self):
        RecoveryFile._count += 1
        # the random part keeps a later process that is given the same pid off a crashed one's copy
        name = f"{os.getpid()}-{RecoveryFile._count}-{secrets.token_hex(4)}"
        self.path = recovery_dir() / f"{name}{SUFFIX}"
        self._lock_fd = None
        with contextlib.suppress(OSError):  # an unwritable folder: copies then look orphaned to others
            self._hold_lock()

    @property
    def note(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def lock(self) -> Path:
        return self.path.with_suffix(".lock")

    def _hold_lock(self) -> None:
        if self._lock_fd is not None or fcntl is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._lock_fd = fd
        # a window dropped without being closed still lets go of its lock
        self._release = weakref.finalize(self, os.close, fd)

    def write(self, project) -> Path:
        """Save a copy of the project (its own path and data paths untouched)."""
        shadow = dataclasses.replace(
            project, data=copy.deepcopy(project.data), runs=copy.deepcopy(project.runs)
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._hold_lock()  # locked before the copy exists: a copy without a held lock is an orphan
        save_project(shadow, self.path)
        note = {"original": project.path, "pid": os.getpid(), "saved": time.time(), "name": project.name}
        atomic.write_text(self.note, json.dumps(note))
        return self.path

    def remove(self) -> None:
        """No unsaved work any more: the copy and its note go; the window keeps its lock."""
        for p in (self.path, self.note):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()

    def close(self) -> None:
        """The window closes: the copy goes, and the lock with it."""
        self.remove()
        if self._lock_fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.lock.unlink()
            self._release()
            self._lock_fd = None


def _clear_stale_lock(lock: Path) -> None:
    """A lock left by a session that is gone, with no copy beside it: removed."""
    fd = _open_lock(lock)
    if fd is None or fcntl is None:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.unlink()
    except OSError:
        pass  # held: its window lives
    finally:
        os.close(fd)


def _read_note(note_path: Path, problems: list) -> dict:
    """The note's fields that are sound; a damaged note is reported and its fields left out."""
    try:
        note = json.loads(note_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as e:
        problems.append(f"the recovery note {note_path.name} cannot be read ({e}); it was skipped")
        return {}
    if not isinstance(note, dict):
        problems.append(f"the recovery note {note_path.name} is damaged (not an object); it was skipped")
        return {}
    checks = {
        "original": lambda v: v is None or isinstance(v, str),
        "name": lambda v: isinstance(v, str),
        "pid": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31,
        "saved": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
    }
    bad = [key for key, ok in checks.items() if key in note and not ok(note[key])]
    if bad:
        problems.append(
            f"the recovery note {note_path.name} has damaged fields ({', '.join(bad)}); they were skipped"
        )
    return {k: v for k, v in note.items() if k in checks and k not in bad}


def scan() -> tuple[list[dict], list[str]]:
    """Recovery copies whose session is gone (it crashed or was killed), newest first, and the problems
    met on the way (damaged notes), which never stop the scan."""
    found, problems = [], []
    folder = recovery_dir()
    if not folder.is_dir():
        return found, problems
    for lock in folder.glob("*.lock"):
        if not lock.with_suffix(SUFFIX).exists():
            _clear_stale_lock(lock)
    for path in folder.glob(f"*{SUFFIX}"):
        note = _read_note(path.with_suffix(".json"), problems)
        if _held(path.with_suffix(".lock"), note.get("pid")):
            continue  # another Studio, still running, edits it
        try:
            saved = float(note.get("saved") or path.stat().st_mtime)
        except OSError:
            continue  # removed meanwhile
        found.append(
            {
                "path": path,
                "note": path.with_suffix(".json"),
                "lock": path.with_suffix(".lock"),
                "original": note.get("original"),
                "saved": saved,
            }
        )
    found.sort(key=lambda r: r["saved"], reverse=True)
    return found, problems


def orphaned() -> list[dict]:
    """Recovery copies whose session is gone (it crashed or was killed), newest first."""
    return scan()[0]


def restore(entry: dict):
    """The project kept in a recovery copy, pointing at its original file again."""
    project = load_project(entry["path"])
    if project.data.get("path"):
        project.data["path"] = str(project.data_path())
    for run in project.runs:
        if isinstance(run, dict):
            for key in WEIGHT_KEYS:
                if run.get(key) and not Path(run[key]).is_absolute():
                    run[key] = str(project.folder / run[key])
    project.path = entry.get("original")
    return project


def discard(entry: dict) -> None:
    for key in ("path", "note", "lock"):
        with contextlib.suppress(FileNotFoundError, KeyError):
            Path(entry[key]).unlink()
