"""The layer boundaries of the program hold (import-linter contracts in pyproject.toml)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.fail("lint-imports is missing: install the test extras (pip install -e '.[test]')")
    res = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_only_backend_imports_numpy_choice():
    """Op code asks backend for its array module; cupy is imported nowhere else."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "studio").rglob("*.py")
        if p.name != "backend.py" and "import cupy" in p.read_text()
    ]
    assert offenders == []


def test_test_modules_have_unique_names():
    """pytest imports test files by base name (the folders are not packages): two alike would clash."""
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
