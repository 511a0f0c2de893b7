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
