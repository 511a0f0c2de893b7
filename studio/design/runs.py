"""Where a project's runs keep their weights: a folder of that project alone, under names never reused.

A saved project keeps them in `<name>-runs/` beside its file; a project that was never saved keeps
them in a folder of its own under the user's data folder. `save_with_runs` saves a project with its
runs' weights in its own folder: moved there from an unsaved project's folder, copied from anywhere
else (the folder of the project it was saved from, or of the project it was copied from by hand),
and the saved runs point at them.
"""

from __future__ import annotations

import contextlib
import copy
import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .project import WEIGHT_KEYS, Project, ProjectError, load_project, save_project

RUNS_SUFFIX = "-runs"


def new_run_id() -> str:
    """An id no other run has: when it started (UTC, to the second) and 24 random bits.

    The weights files are created exclusively, so that even two runs that draw the same id in the
    same second cannot overwrite each other (the second one draws again).
    """
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def weights_files(folder: Path, run_id: str) -> tuple[Path, Path]:
    """The last and the best weights file of a run."""
    return folder / f"run-{run_id}.safetensors", folder / f"run-{run_id}-best.safetensors"


def unsaved_root() -> Path:
    """The folder under which projects that were never saved keep their runs."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "studio" / "unsaved-runs"


def runs_folder_for(path) -> Path:
    """The runs folder of the project file at `path` (beside the file the path leads to)."""
    p = Path(path).resolve()
    return p.with_name(p.stem + RUNS_SUFFIX)


def runs_folder(project: Project) -> Path:
    """Where the project's next run writes its weights (an unsaved project gets a folder of its own)."""
    if project.path:
        return runs_folder_for(project.path)
    if not project.unsaved_runs:
        project.unsaved_runs = str(unsaved_root() / new_run_id())
    return Path(project.unsaved_runs)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _bring(src: Path, folder: Path) -> Path:
    """Put a copy of `src` into `folder` under a name not taken there (a hard link when `src` is an
    unsaved project's file, which moves: it costs nothing, and the old name goes after the save)."""
    from ..core import atomic

    for attempt in range(100):
        name = src.name if attempt == 0 else f"{src.stem}-{secrets.token_hex(3)}{src.suffix}"
        dst = folder / name
        try:
            if _inside(src, unsaved_root()):
                with contextlib.suppress(OSError):
                    os.link(src, dst)
                    return dst
                if dst.exists():
                    continue
            atomic.copy_file(src, dst, exclusive=True)
            return dst
        except FileExistsError:
            continue
    raise FileExistsError(f"no free file name for {src.name} in {folder}")


def save_with_runs(project: Project, path=None) -> Path:
    """Save the project to `path` (default: its own file) with its runs' weights in its runs folder.

    Weights from an unsaved project's folder move; any other weights outside the runs folder are
    copied (a project saved under a new name shares no file with the one it came from). Missing
    weights files are left as they are. A failure changes nothing: the project file on disk, the
    runs in memory and the weights files stay as they were.
    """
    from ..core import atomic

    target = Path(path or project.path or "")
    if not str(target):
        return save_project(project, target)  # says that the project needs a file name
    folder = runs_folder_for(target)
    changed: list[tuple[dict, str, str]] = []  # (run, key, old value), to undo a failed save
    brought: list[Path] = []
    moved_from: list[Path] = []
    try:
        for run in project.runs:
            for key in WEIGHT_KEYS if isinstance(run, dict) else ():
                src = _absolute(run.get(key), project)
                if src is None or not src.is_file() or _inside(src, folder):
                    continue
                folder.mkdir(parents=True, exist_ok=True)
                dst = _bring(src, folder)
                brought.append(dst)
                if _inside(src, unsaved_root()):
                    moved_from.append(src)
                changed.append((run, key, run[key]))
                run[key] = str(dst)
        if brought:
            atomic.fsync_folder(folder)
        saved = save_project(project, target)
    except BaseException:
        for run, key, old in changed:
            run[key] = old
        for dst in brought:
            with contextlib.suppress(OSError):
                dst.unlink()
        raise
    for src in moved_from:
        with contextlib.suppress(OSError):
            src.unlink()
    discard_unsaved(project)
    return saved


@contextlib.contextmanager
def _folder_lock(folder: Path):
    """Hold an exclusive lock on `folder` (POSIX), so that processes change its files one at a time."""
    try:
        import fcntl
    except ImportError:  # no advisory locks here: the merge below is still done, just not serialised
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def save_new_runs(project: Project, runs: list, sweeps=()) -> Project:
    """Add `runs` (and `sweeps`) to the project's file as it is on disk now, and save it with their weights.

    Another process (a second `studio train`, the app) may have added runs since `project` was
    read: they are kept, and no run is recorded twice. Returns the project as saved.
    """
    path = Path(project.path)
    with _folder_lock(path.resolve().parent):
        try:
            current = load_project(path)
        except ProjectError:  # gone or unreadable now: what this process holds is all there is
            current = project
        if current is not project:
            known = {r.get("id") for r in current.runs if isinstance(r, dict)}
            current.runs.extend(copy.deepcopy([r for r in runs if r.get("id") not in known]))
            had = {s.get("id") for s in current.sweeps}
            current.sweeps.extend(copy.deepcopy([s for s in sweeps if s.get("id") not in had]))
        save_with_runs(current, path)
    return current


def _absolute(value, project: Project) -> Path | None:
    if not isinstance(value, str) or not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else project.folder / p


def discard_unsaved(project: Project) -> None:
    """Remove the folder where the project kept runs while it was unsaved: it has been saved (its
    weights moved out), or it is being closed without saving."""
    folder = project.unsaved_runs
    project.unsaved_runs = None
    if folder and _inside(Path(folder), unsaved_root()):
        shutil.rmtree(folder, ignore_errors=True)


class RunWeightsError(ValueError):
    """A run's weights are missing, or do not fit the design as it is now."""


def load_run_weights(model, project, run) -> None:
    """Put a run's last weights into `model`, built from the project's design, checked by the weights
    file's fingerprint and checksums."""
    from .weights import load_weights

    stored = run.get("weights")
    if not stored:
        raise RunWeightsError(f"run {run.get('id')} kept no weights")
    path = Path(stored) if Path(stored).is_absolute() else project.folder / stored
    if not path.exists():
        raise RunWeightsError(f"the weights of run {run.get('id')} are missing: {path}")
    try:
        model.load_state_dict(load_weights(path, project.design, project.name or "the design"))
    except (OSError, ValueError, RuntimeError, KeyError) as e:
        raise RunWeightsError(
            f"the weights of run {run.get('id')} do not fit the design as it is now ({path.name}: {e})"
        ) from None
