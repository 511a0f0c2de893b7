"""Shared test set-up: Qt runs offscreen, seeds are fixed, and PyTorch is optional."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

try:  # PyTorch comparisons run only where torch is installed
    import torch as _torch
except ImportError:  # pragma: no cover - depends on the machine
    _torch = None


@pytest.fixture
def torch():
    """The real PyTorch, or skip the test when it is not installed."""
    if _torch is None:
        pytest.skip("PyTorch is not installed: comparison skipped")
    return _torch


@pytest.fixture(autouse=True)
def _seed():
    import studio.core as sc

    sc.manual_seed(0)
    yield


def _finishes(fn, *args, limit=20.0, **kwargs):
    """fn(*args, **kwargs)'s result or exception; a call that hangs fails the test instead of the suite."""
    import threading

    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"{getattr(fn, '__name__', fn)} did not return: it hangs"
    if "error" in box:
        raise box["error"]
    return box.get("value")


@pytest.fixture
def finishes():
    """Call a function that must return (or raise) rather than hang on a hostile file."""
    return _finishes


@pytest.fixture(scope="session", autouse=True)
def _own_data_folder(tmp_path_factory):
    """Runs of unsaved projects (kept under the user's data folder) go to a temporary one in tests."""
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("xdg-data"))
    yield
    if old is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = old


class SmallDisk:
    """A folder on a disk that a test can fill up: a 2 MB tmpfs where this process may mount one;
    elsewhere a folder where, once filled, flushing a file fails with ENOSPC and no space is free."""

    def __init__(self, path, monkeypatch):
        import subprocess

        self.path = path
        self.monkeypatch = monkeypatch
        path.mkdir()
        self.mounted = False
        if os.geteuid() == 0 and not os.environ.get("STUDIO_TEST_NO_TMPFS"):
            cmd = ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "studio-test", str(path)]
            self.mounted = subprocess.run(cmd, capture_output=True).returncode == 0

    def _inside(self, fd_or_path) -> bool:
        try:
            where = os.readlink(f"/proc/self/fd/{fd_or_path}") if isinstance(fd_or_path, int) else fd_or_path
        except OSError:
            return False
        return os.path.realpath(where).startswith(os.path.realpath(self.path) + os.sep)

    def fill(self):
        """Take all the free space (or make every flush in the folder fail as on a full disk)."""
        import errno
        import shutil

        if self.mounted:
            fd = os.open(self.path / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 65536):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            return
        real_fsync, real_usage = os.fsync, shutil.disk_usage

        def fsync(fd):
            if self._inside(fd):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real_fsync(fd)

        def disk_usage(path):
            usage = real_usage(path)
            return usage._replace(free=0) if self._inside(os.fspath(path)) else usage

        self.monkeypatch.setattr(os, "fsync", fsync)
        self.monkeypatch.setattr(shutil, "disk_usage", disk_usage)

    def close(self):
        import subprocess

        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    disk = SmallDisk(tmp_path / "disk", monkeypatch)
    yield disk
    disk.close()
