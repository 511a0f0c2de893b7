"""Each compatibility program runs unchanged on Studio and on PyTorch; their results agree."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from compat_harness import programs, run_on_studio, run_on_torch  # noqa: E402

try:
    import torch as _torch  # noqa: F401
except ImportError:  # pragma: no cover - depends on the machine
    _torch = None


def _numbers(value):
    """A float64 array of a result value (numbers, nested lists, tensors of either library)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy() if hasattr(value, "cpu") else value.detach().numpy()
    return np.asarray(value, dtype=np.float64)


def _compare_exact(ours, theirs):
    assert ours.keys() == theirs.keys()
    for key in ours:
        _same(ours[key], theirs[key], key)


def _same(a, b, where):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{where}: {a!r} != {b!r}"
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, str | bool) or a is None:
        assert a == b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, list | tuple) and any(isinstance(v, str | list | tuple) for v in a):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{where}[{i}]")
    else:
        a, b = _numbers(a), _numbers(b)
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=where)


def _compare_loose(ours, theirs):
    """Training curves: both finite, both learning (last below first), and ending near each other."""
    assert ours.keys() == theirs.keys()
    for key in ours:
        a, b = _numbers(ours[key]).ravel(), _numbers(theirs[key]).ravel()
        assert a.shape == b.shape, key
        assert np.isfinite(a).all(), f"{key}: Studio's values are not finite: {a}"
        if a.size > 1:
            assert a[-1] < a[0], f"{key}: Studio did not learn: {a}"
            assert b[-1] < b[0], f"{key}: PyTorch did not learn: {b}"
        scale = max(abs(a[0]), abs(b[0]), 1e-3)
        assert abs(a[-1] - b[-1]) <= 0.5 * scale + 0.25 * max(abs(a[-1]), abs(b[-1])), (
            f"{key}: ends at {a[-1]:.4g} on Studio, {b[-1]:.4g} on PyTorch"
        )


@pytest.mark.parametrize("path", programs(), ids=lambda p: p.stem)
def test_program_runs_alike(path):
    ours = run_on_studio(path)
    assert set(ours) <= {"exact", "loose"}
    for value in _flatten(ours.get("loose", {})):
        assert math.isfinite(value)
    if _torch is None:
        pytest.skip("PyTorch is not installed: Studio ran the program, nothing to compare with")
    theirs = run_on_torch(path)
    _compare_exact(ours.get("exact", {}), theirs.get("exact", {}))
    _compare_loose(ours.get("loose", {}), theirs.get("loose", {}))


def _flatten(d):
    for v in d.values():
        yield from _numbers(v).ravel().tolist()
