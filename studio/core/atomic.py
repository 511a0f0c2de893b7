"""Atomic file writes: a file on disk is always its complete old or its complete new content.

Every file Studio writes goes through `atomic_open` (or `write_bytes`, `write_text`, `copy_file`):
the new content goes to a temporary file in the target's folder, is flushed to the disk, renamed
over the target, and the folder is flushed so that the rename itself survives a power cut.

- Writing through a symbolic link writes the file it points to; the link stays a link.
- A replaced file keeps its permission bits; a new file gets what the umask allows.
- Hard links are not kept: the rename gives the path a new file, and other names of the old file
  keep the old content. Writing in place would keep them, but a crash or a full disk halfway would
  leave a torn file, and backup tools that hard-link unchanged files would see their snapshots
  change under them.
- Temporary files are named `.NAME.PID-RANDOM.studio-tmp`. Those left by a process that no longer
  runs (killed in the middle of a save) are removed the next time anything is written in that folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path

__all__ = [
    "WriteError",
    "atomic_open",
    "clean_stale",
    "copy_file",
    "ensure_room",
    "write_bytes",
    "write_text",
]

TMP_SUFFIX = ".studio-tmp"
_TMP_NAME = re.compile(r"^\..*\.(\d+)-[0-9a-f]{8}\.studio-tmp$", re.DOTALL)
STALE_SECONDS = 24 * 3600  # a temporary file this old is stale whoever wrote it
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


class WriteError(OSError):
    """A file that could not be written; the file already on disk (if any) is unchanged."""

    def __str__(self):
        return self.strerror or super().__str__()


def _fail(path, e: OSError, what="write") -> WriteError:
    reason = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        reason = "no space left on the disk"
    elif e.errno == errno.EDQUOT:
        reason = "the disk quota is used up"
    return WriteError(e.errno, f"cannot {what} {path}: {reason[:1].lower()}{reason[1:]}", str(path))


def real_target(path) -> Path:
    """The file a write to `path` changes: the end of its chain of symbolic links, or `path` itself."""
    path = Path(os.fspath(path))
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def clean_stale(folder) -> list[Path]:
    """Remove the temporary files that interrupted writes left in `folder`; returns what was removed.

    Only Studio's own temporary files are touched: those of processes that no longer run, or that
    are older than a day.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        m = _TMP_NAME.match(entry.name)
        if m is None:
            continue
        pid = int(m.group(1))
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            if now - info.st_mtime < STALE_SECONDS and _pid_alive(pid):
                continue  # its writer (this process included) may be writing it right now
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def fsync_folder(folder) -> None:
    """Make renames in `folder` durable (POSIX only: other systems have no folder handles)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _temp_file(folder: Path, name: str) -> tuple[int, Path]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{name}.{os.getpid()}-{secrets.token_hex(4)}{TMP_SUFFIX}"
        try:
            return os.open(tmp, flags, 0o666), tmp  # the umask decides a new file's permissions
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name in {folder}")


def _commit(tmp: Path, target: Path, exclusive: bool) -> None:
    if not exclusive:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails when the target exists: no other writer's file is ever replaced
    except FileExistsError:
        raise FileExistsError(errno.EEXIST, f"{target} already exists", str(target)) from None
    except OSError as e:
        if e.errno not in _NO_LINKS:
            raise
        if os.path.lexists(target):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, f"{target} already exists", str(target)) from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_open(path, mode="wb", *, encoding=None, newline=None, exclusive=False):
    """A file object whose content replaces `path` when the block ends without an exception.

    `mode` is "wb" or "w" (text, UTF-8 unless `encoding` says otherwise). With `exclusive`, an
    existing file is never replaced: FileExistsError. Failures to write are `WriteError`s that name
    the file and leave what was on disk unchanged.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    target = real_target(path)
    folder = target.parent if str(target.parent) else Path(".")
    clean_stale(folder)
    try:
        old_mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        old_mode = None
    try:
        fd, tmp = _temp_file(folder, target.name)
    except OSError as e:
        raise _fail(target, e) from None
    try:
        if old_mode is not None:
            with contextlib.suppress(OSError):
                os.fchmod(fd, old_mode)
        text = {"encoding": encoding or "utf-8", "newline": newline} if mode == "w" else {}
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, target, exclusive)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError | FileExistsError):
            raise _fail(target, e) from None
        raise
    fsync_folder(folder)


def write_bytes(path, data, *, exclusive=False) -> Path:
    """Write `data` (bytes-like) as the whole new content of `path`, atomically."""
    with atomic_open(path, "wb", exclusive=exclusive) as f:
        f.write(data)
    return Path(path)


def write_text(path, text: str, *, encoding="utf-8", newline=None) -> Path:
    """Write `text` as the whole new content of `path`, atomically."""
    with atomic_open(path, "w", encoding=encoding, newline=newline) as f:
        f.write(text)
    return Path(path)


def copy_file(src, dst, *, exclusive=False) -> Path:
    """Copy the regular file `src` to `dst`, atomically (a half copy is never seen at `dst`)."""
    with open(src, "rb") as fin:
        if not stat.S_ISREG(os.fstat(fin.fileno()).st_mode):
            raise WriteError(errno.EINVAL, f"cannot copy {src}: it is not a regular file", str(src))
        with atomic_open(dst, "wb", exclusive=exclusive) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    return Path(dst)


def ensure_room(folder, nbytes: int, what: str = "the files") -> None:
    """Check, before long work, that `folder` can be written and has room for about `nbytes` more.

    Raises WriteError naming the folder: it cannot be created or written, or the disk is too full.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = _temp_file(folder, "probe")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise WriteError(
            e.errno, f"cannot write {what} into {folder}: {(e.strerror or str(e)).lower()}", str(folder)
        ) from None
    free = shutil.disk_usage(folder).free
    if free < nbytes:
        raise WriteError(
            errno.ENOSPC,
            f"not enough free space in {folder} for {what}: about {_size(nbytes)} needed, {_size(free)} free",
            str(folder),
        )


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MB"
    return f"{n / 1024**3:.1f} GB"
