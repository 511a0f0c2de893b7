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
