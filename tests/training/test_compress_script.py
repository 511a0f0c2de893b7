"""The exported script reproduces a compressed variant: same zeros, and close to the same accuracy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from studio.design import load_template
from studio.training import fit
from studio.training.compress import compress, discard
from studio.training.compress_script import compression_script


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    project = load_template("digits_lenet")
    project.training.update({"epochs": 2, "seed": 0})
    assert list(fit(project))[-1].kind == "end"
    events = list(compress(project, {"prune": 0.5, "scope": "per_layer", "quantize": "dynamic"}))
    rows = events[-1].metrics["variants"]
    yield project, rows[-1]
    discard(rows)


@pytest.mark.parametrize("target", ["studio", "torch"])
def test_the_script_prunes_and_quantizes_as_studio_did(variant, tmp_path, target):
    if target == "torch":
        pytest.importorskip("torch")
    project, row = variant
    script = tmp_path / f"net_{target}.py"
    script.write_text(compression_script(project, row, target, "net.safetensors", script_path=script))
    shutil.copy(row["float_file"], tmp_path / "net.safetensors")
    res = subprocess.run(
        [sys.executable, str(script), "compress", "--weights", str(tmp_path / "net.safetensors")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{row['parameters']} parameters, {row['nonzero']} non-zero" in res.stdout
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", res.stdout).group(1))
    assert accuracy == pytest.approx(row["value"], abs=0.005 if target == "studio" else 0.02)
    assert "PRUNE_SCOPE = 'per_layer'" in script.read_text() and "QUANTIZE = 'dynamic'" in script.read_text()
