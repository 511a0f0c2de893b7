"""Weights from elsewhere start a design: matched by module path and shape, with a clear report."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import studio.core as core
from studio.design.build import build
from studio.design.init_weights import WeightsError, load_into, match_weights, read_weights
from studio.design.project import load_project, load_template, save_project


def _torch_twin(torch, project):
    """The template built with PyTorch: the same module paths as Studio's build."""
    torch.manual_seed(0)
    return build(project.design, torch).eval()


def test_pytorch_state_dict_loads_into_the_design_and_gives_pytorch_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    project = load_template("digits_resnet")
    ref = _torch_twin(torch, project)
    path = tmp_path / "resnet.pth"
    torch.save(ref.state_dict(), path)
    model = build(project.design)
    match = load_into(model, path)
    assert match.complete, match.report()
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    got = model.eval()(core.tensor(x)).detach().numpy()
    assert np.abs(got - want).max() <= 1e-4


def test_mismatches_are_reported_and_the_rest_loads(tmp_path):
    torch = pytest.importorskip("torch")
    project = load_template("iris_mlp")
    state = _torch_twin(torch, project).state_dict()
    state["head.weight"] = torch.zeros(5, 16)
    state["extra.weight"] = torch.zeros(2)
    del state["hidden1.bias"]
    path = tmp_path / "w.pt"
    torch.save({"epoch": 2, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    model = build(project.design)
    before = model.state_dict()["hidden1.bias"].numpy().copy()
    match = load_into(model, path)
    report = match.report()
    assert report.splitlines()[0] == "loaded 4 of 6 tensors of the design from w.pt"
    assert "head.weight (3, 16) in the design, (5, 16) in the file" in report
    assert "not in the file (kept as initialised): hidden1.bias" in report
    assert "in the file but not in the design: extra.weight" in report
    assert np.array_equal(model.state_dict()["hidden1.bias"].numpy(), before)
    assert np.array_equal(model.state_dict()["hidden2.weight"].numpy(), state["hidden2.weight"].numpy())


def test_safetensors_from_a_studio_run_load(tmp_path):
    project = load_template("iris_mlp")
    src = build(project.design)
    path = tmp_path / "w.safetensors"
    core.save(src.state_dict(), path)
    model = build(project.design)
    assert load_into(model, path).complete
    for k, v in src.state_dict().items():
        assert np.array_equal(model.state_dict()[k].numpy(), v.numpy())


def test_unusable_files_say_why(tmp_path):
    model = build(load_template("iris_mlp").design)
    with pytest.raises(WeightsError, match="no weights file"):
        read_weights(tmp_path / "none.pt")
    (tmp_path / "w.txt").write_text("x")
    with pytest.raises(WeightsError, match="expected a .safetensors"):
        read_weights(tmp_path / "w.txt")
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 20)
    with pytest.raises(WeightsError, match="not a readable safetensors"):
        read_weights(tmp_path / "bad.safetensors")
    core.save({"other": core.zeros(3)}, tmp_path / "other.safetensors")
    match = match_weights(model, read_weights(tmp_path / "other.safetensors"))
    from studio.design.init_weights import apply_weights

    with pytest.raises(WeightsError, match="nothing in"):
        apply_weights(model, match)


def test_cli_trains_from_pytorch_weights(tmp_path):
    torch = pytest.importorskip("torch")
    project = load_template("iris_mlp")
    project.training["epochs"] = 1
    save_project(project, tmp_path / "iris.studio")
    path = tmp_path / "w.pt"
    torch.save(_torch_twin(torch, project).state_dict(), path)
    cmd = [sys.executable, "-m", "studio", "train", str(tmp_path / "iris.studio"), "--init", str(path)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "loaded 6 of 6 tensors of the design from w.pt" in r.stdout
    run = load_project(tmp_path / "iris.studio").runs[-1]
    assert run["init"]["file"].endswith("w.pt")
    r = subprocess.run(cmd[:-1] + [str(tmp_path / "missing.pt")], capture_output=True, text=True)
    assert r.returncode == 1 and "no weights file" in r.stderr and "Traceback" not in r.stderr
