"""The package as users install it: a wheel that carries its data, and `python -m studio`.

`.ci/check_wheel.sh` goes further in CI: it installs the wheel into a fresh environment and uses it.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("dist")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(out),
        str(ROOT),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=out)
    if r.returncode != 0:
        pytest.skip(f"the wheel could not be built here: {r.stderr.strip()[-300:]}")
    (path,) = out.glob("studio-*.whl")
    return path


def test_wheel_carries_samples_templates_icons_and_every_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in (ROOT / "studio" / "assets").rglob("*"):
        if asset.is_file() and "__pycache__" not in asset.parts:
            assert asset.relative_to(ROOT).as_posix() in names, asset
    for package in (
        "studio/core/onnx/__init__.py",
        "studio/design/onnx_import.py",
        "studio/ui/main_window.py",
    ):
        assert package in names
    assert not any(n.startswith("tests/") for n in names)


def test_wheel_declares_the_optional_onnx_extra(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith("METADATA"))).decode()
    assert "Provides-Extra: onnx" in meta
    assert 'onnxruntime<2,>=1.18; extra == "onnx"' in meta


def test_python_m_studio_runs_the_command_line():
    r = subprocess.run([sys.executable, "-m", "studio", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("studio ")
