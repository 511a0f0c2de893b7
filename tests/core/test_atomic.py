"""Atomic writes: the old or the new file, never half; links, permissions and leftovers handled."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from studio.core import atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _leftovers(folder) -> list[str]:
    return sorted(p for p in os.listdir(folder) if p.endswith(atomic.TMP_SUFFIX))


def test_replaces_the_whole_file_and_leaves_nothing_behind(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old and long content")
    atomic.write_text(path, "new")
    assert path.read_text() == "new" and _leftovers(tmp_path) == []


def test_a_failure_while_writing_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    with pytest.raises(ZeroDivisionError), atomic.atomic_open(path, "w") as f:
        f.write("half of the new")
        1 / 0  # noqa: B018 - the writer fails halfway
    assert path.read_text() == "old" and _leftovers(tmp_path) == []


def test_writing_through_a_symlink_writes_the_real_file(tmp_path):
    real = tmp_path / "real" / "project.studio"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.studio"
    link.symlink_to(real)
    chain = tmp_path / "chain.studio"
    chain.symlink_to(link)
    atomic.write_text(chain, "new")
    assert chain.is_symlink() and link.is_symlink() and not real.is_symlink()
    assert real.read_text() == "new" and link.read_text() == "new"
    assert _leftovers(tmp_path) == [] and _leftovers(real.parent) == []


def test_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "target.txt")
    atomic.write_text(link, "made")
    assert link.is_symlink() and (tmp_path / "target.txt").read_text() == "made"


def test_an_existing_files_permissions_are_kept(tmp_path):
    path = tmp_path / "shared.studio"
    path.write_text("old")
    os.chmod(path, 0o664)
    atomic.write_text(path, "new")
    assert _mode(path) == 0o664
    os.chmod(path, 0o640)
    atomic.write_bytes(path, b"newer")
    assert _mode(path) == 0o640


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_new_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "new.txt", "x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "new.txt") == 0o666 & ~umask


def test_hard_links_keep_the_old_content(tmp_path):
    """The chosen behaviour: the path gets a new file; other names of the old file keep the old
    content (writing in place would not be atomic)."""
    path = tmp_path / "a.txt"
    path.write_text("old")
    other = tmp_path / "b.txt"
    os.link(path, other)
    atomic.write_text(path, "new")
    assert path.read_text() == "new" and other.read_text() == "old"


def test_exclusive_never_replaces_a_file(tmp_path):
    path = tmp_path / "run.safetensors"
    atomic.write_bytes(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic.write_bytes(path, b"second", exclusive=True)
    assert path.read_bytes() == b"first" and _leftovers(tmp_path) == []


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporary_files_of_dead_writers_are_cleaned_up(tmp_path):
    dead = tmp_path / f".a.txt.{_dead_pid()}-0123abcd{atomic.TMP_SUFFIX}"
    dead.write_text("half a save")
    live = tmp_path / f".a.txt.{os.getppid()}-89abcdef{atomic.TMP_SUFFIX}"
    live.write_text("a save in progress in another process")
    mine = tmp_path / f".b.txt.{os.getpid()}-00000000{atomic.TMP_SUFFIX}"
    mine.write_text("this process's own save in progress")
    others = [tmp_path / ".a.txt.tmp", tmp_path / "notes.studio-tmp", tmp_path / ".x.123.studio-tmp"]
    for p in others:
        p.write_text("not Studio's, or not named as Studio names them")
    old = tmp_path / f".c.txt.{os.getppid()}-00000001{atomic.TMP_SUFFIX}"
    old.write_text("a day old")
    os.utime(old, (1, 1))
    atomic.write_text(tmp_path / "other.txt", "any write in the folder cleans it")
    assert not dead.exists() and not old.exists()
    assert live.exists() and mine.exists() and all(p.exists() for p in others)


def test_a_write_that_cannot_start_names_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(atomic.WriteError, match="cannot write .*file/x.txt"):
        atomic.write_text(blocker / "x.txt", "x")


def test_full_disk_keeps_the_old_file_and_says_so(small_disk):
    path = small_disk.path / "a.studio"
    path.write_text("old")
    small_disk.fill()
    with pytest.raises(atomic.WriteError, match="cannot write .*a.studio: no space left on the disk") as info:
        atomic.write_text(path, "new " * 100_000)
    assert info.value.errno == errno.ENOSPC
    assert path.read_text() == "old" and _leftovers(small_disk.path) == []


def test_ensure_room_before_long_work(small_disk, tmp_path):
    atomic.ensure_room(small_disk.path / "runs", 1000)
    small_disk.fill()
    with pytest.raises(atomic.WriteError, match="not enough free space in .*runs for the weights"):
        atomic.ensure_room(small_disk.path / "runs", 10_000_000, "the weights")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(atomic.WriteError, match="cannot write the weights into .*file/runs"):
        atomic.ensure_room(blocker / "runs", 1, "the weights")


def test_copy_file_refuses_what_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    fd = os.open(tmp_path / "pipe", os.O_RDWR)  # a writer, so that opening the pipe does not block
    try:
        with pytest.raises(atomic.WriteError, match="not a regular file"):
            atomic.copy_file(tmp_path / "pipe", tmp_path / "copy")
    finally:
        os.close(fd)
    assert not (tmp_path / "copy").exists()
