"""One run, three ways: `studio train`, the exported Studio script and the exported PyTorch script train the
Iris and digits templates alike. The two Studio runs agree exactly (the same weights, bit for bit), and
PyTorch's test accuracy is within 2 points (its weights start from its own random numbers)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import sys
import uuid

import numpy as np
import pytest
from safetensors.numpy import load_file

from studio.cli import main
from studio.design import export_python, load_project, load_template, save_project


def _script(code: str, folder):
    path = folder / f"exported_{uuid.uuid4().hex}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _run_script(project, target, folder) -> tuple[float, dict]:
    """The script's test accuracy (as printed) and its weights."""
    module = _script(export_python(project, target=target), folder)
    weights = folder / f"{target}.safetensors"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.main(["--weights", str(weights)])
    found = re.search(r"test_accuracy (\d\.\d+)", out.getvalue())
    assert found, out.getvalue()
    return float(found.group(1)), load_file(str(weights))


@pytest.mark.parametrize("name", ["iris_mlp", "digits_lenet"])
def test_studio_train_and_both_scripts_agree(name, tmp_path, torch, capsys):
    project = load_template(name)
    path = tmp_path / f"{name}.studio"
    save_project(project, path)
    assert main(["train", str(path)]) == 0
    trained = load_project(path)
    run = trained.runs[-1]
    ours = run["final"]["test_accuracy"]
    studio_acc, studio_weights = _run_script(project, "studio", tmp_path)
    torch_acc, _ = _run_script(project, "torch", tmp_path)
    # the Studio script is the run, written out: the same test accuracy and the same last weights
    assert studio_acc == round(ours, 4)
    app_weights = load_file(str(trained.weights_path()))
    assert app_weights.keys() == studio_weights.keys()
    for key, value in app_weights.items():
        np.testing.assert_array_equal(value, studio_weights[key], err_msg=key)
    assert abs(torch_acc - ours) <= 0.02, (name, ours, torch_acc)
    assert ours > 0.9
