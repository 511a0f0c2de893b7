"""ONNX export of designs: every layer type and every template, checked in onnxruntime."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from design_cases import LAYER_CASES, one_layer, sample_input
from onnx_helpers import max_difference, onnx_or_skip, randomise_batchnorm, run_onnx

import studio.core as core
from studio.design.build import build
from studio.design.project import list_templates, load_template

ort = onnx_or_skip()
import onnx  # noqa: E402

from studio.core import onnx as core_onnx  # noqa: E402

TOLERANCE = 1e-4
LAYER_TYPES = sorted(t for t in LAYER_CASES if t != "Output")


def _export(model, x):
    axes = {"input": {0: "batch"}}
    proto = core_onnx.export(model, (core.tensor(x),), None, input_names=["input"], dynamic_axes=axes)
    onnx.checker.check_model(proto)
    return proto


@pytest.mark.parametrize("layer", LAYER_TYPES)
def test_every_layer_type_exports_and_matches_onnxruntime(layer):
    shape, dtype, params, n_ports = LAYER_CASES[layer]
    design, _ = one_layer(layer, shape, dtype, params, n_ports)
    core.manual_seed(0)
    model = build(design)
    randomise_batchnorm(model)
    model.eval()
    proto = _export(model, sample_input(shape, dtype, batch=2))
    # another batch size than the traced one: the batch axis is dynamic
    assert max_difference(model, proto, sample_input(shape, dtype, batch=5, seed=1)) <= TOLERANCE


@pytest.mark.parametrize("name", [t[0] for t in list_templates()])
def test_every_template_exports_and_matches_onnxruntime(name):
    project = load_template(name)
    core.manual_seed(1)
    model = build(project.design)
    randomise_batchnorm(model)
    inp = next(n for n in project.design.nodes.values() if n.type == "Input")
    shape, dtype = tuple(inp.params["shape"]), inp.params["dtype"]
    proto = _export(model.eval(), sample_input(shape, dtype, batch=2))
    assert max_difference(model, proto, sample_input(shape, dtype, batch=3, seed=2)) <= TOLERANCE


def test_unsupported_operations_are_named_in_one_error():
    class Odd(core.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = core.nn.Linear(3, 3)

        def forward(self, x):
            return core.cumsum(self.lin(x), 1).sort(dim=1)[0]

    with pytest.raises(core_onnx.UnsupportedOperatorError) as e:
        core_onnx.export(Odd(), (core.randn(2, 3),), None)
    assert "CumsumBackward0" in str(e.value) and "SortBackward0" in str(e.value)


def test_export_writes_a_file_with_names_and_restores_training_mode(tmp_path):
    model = core.nn.Sequential(core.nn.Linear(4, 3), core.nn.Dropout(0.5))
    model.train()
    path = tmp_path / "m.onnx"
    assert core_onnx.export(model, core.randn(2, 4), str(path), input_names=["x"], output_names=["y"]) is None
    assert model.training and model[1].training
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["y"]
    assert {i.name for i in proto.graph.initializer} == {"0.weight", "0.bias"}
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_value == 2  # no dynamic_axes: the traced batch size stays


def test_functional_ops_between_layers_export():
    class Net(core.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = core.nn.Embedding(10, 4)
            self.lin = core.nn.Linear(8, 2)

        def forward(self, ids):
            h = self.emb(ids) * 0.5 + 1.0
            h = core.nn.functional.gelu(h).transpose(1, 2)
            pooled = core.cat((h.mean(dim=2), h.sum(dim=2) - 2.0), dim=1)
            return core.softmax(self.lin(pooled), dim=-1)[:, :1]

    model = Net().eval()
    ids = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    proto = core_onnx.export(model, (core.tensor(ids),), None, dynamic_axes={"input": [0]})
    assert max_difference(model, proto, np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.int64)) <= TOLERANCE


def test_opset_outside_the_supported_range_is_refused():
    with pytest.raises(core_onnx.OnnxExporterError, match="opset_version"):
        core_onnx.export(core.nn.Linear(2, 2), core.randn(1, 2), None, opset_version=9)


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_other_opsets_export_gelu_and_reductions(opset):
    model = core.nn.Sequential(core.nn.Linear(4, 4), core.nn.GELU(), core.nn.GroupNorm(2, 4)).eval()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    proto = core_onnx.export(model, core.tensor(x), None, opset_version=opset)
    assert proto.opset_import[0].version == opset
    assert max_difference(model, proto, x) <= TOLERANCE


def test_pytorch_exports_the_same_model_alike():
    torch = pytest.importorskip("torch")
    from design_cases import copy_state

    project = load_template("digits_lenet")
    model = build(project.design).eval()
    ref = build(project.design, torch).eval()
    copy_state(model, ref, torch)
    x = sample_input((1, 8, 8), "float32", batch=4)
    proto = _export(model, sample_input((1, 8, 8), "float32"))
    got = run_onnx(proto, {"input": x})[0]
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() <= TOLERANCE


# ---------------------------------------------------------------------------------------------------
# Projects: trained weights, preprocessing, the command line
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def trained_iris(tmp_path):
    from studio.design.project import save_project
    from studio.training.fit import fit

    project = load_template("iris_mlp")
    project.path = str(tmp_path / "iris.studio")
    for _ in fit(project, epochs=2):
        pass
    save_project(project)
    return project


def test_project_export_folds_standardisation_into_the_graph(trained_iris, tmp_path):
    from studio.design.samples import load_sample
    from studio.training.data import prepare_data
    from studio.training.onnx_export import export_onnx

    res = export_onnx(trained_iris, tmp_path / "iris.onnx")
    assert (
        res.run_id == trained_iris.runs[-1]["id"]
        and res.json_path is None
        and res.max_difference <= TOLERANCE
    )
    raw, _ = load_sample("iris")
    got = run_onnx(str(res.path), {"input": raw[:7].astype(np.float32)})[0]
    model = build(trained_iris.design)
    model.load_state_dict(core.load(trained_iris.weights_path()))
    pre = prepare_data(trained_iris).preprocessing
    x = (raw[:7] - np.array(pre["mean"])) / np.array(pre["std"])
    with core.no_grad():
        want = model.eval()(core.tensor(x.astype(np.float32))).numpy()
    assert np.abs(got - want).max() <= TOLERANCE
    meta = {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}
    assert json.loads(meta["studio.classes"]) == ["setosa", "versicolor", "virginica"]


def test_project_export_writes_preprocessing_as_json(trained_iris, tmp_path):
    from studio.training.onnx_export import export_onnx

    res = export_onnx(trained_iris, tmp_path / "iris.onnx", preprocessing="json")
    saved = json.loads(res.json_path.read_text())
    assert saved["preprocessing"]["kind"] == "standardize" and len(saved["preprocessing"]["mean"]) == 4
    ops = {n.op_type for n in onnx.load(str(res.path)).graph.node}
    assert "Sub" not in ops and "Div" not in ops


def test_project_without_runs_needs_untrained(tmp_path):
    from studio.training.onnx_export import OnnxExportError, export_onnx

    project = load_template("iris_mlp")
    with pytest.raises(OnnxExportError, match="no trained run"):
        export_onnx(project, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
    assert export_onnx(project, tmp_path / "x.onnx", untrained=True).run_id is None


def test_cli_exports_onnx(trained_iris, tmp_path):
    out = tmp_path / "cli.onnx"
    r = subprocess.run(
        [sys.executable, "-m", "studio", "export", trained_iris.path, "--target", "onnx", "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert f"run {trained_iris.runs[-1]['id']}" in r.stdout and "onnxruntime" in r.stdout
    onnx.checker.check_model(onnx.load(str(out)))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "export",
            trained_iris.path,
            "--target",
            "onnx",
            "-o",
            str(out),
            "--run",
            "7",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and "no run 7" in r.stderr and "Traceback" not in r.stderr


def test_attention_layers_export_as_functions_with_settings_and_named_weights():
    nn = core.nn
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, activation="gelu")
    model = nn.Sequential(nn.Linear(4, 8), nn.TransformerEncoder(layer, 2)).eval()
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    proto = core_onnx.export(
        model, core.tensor(x), None, dynamic_axes={"input": {0: "batch"}}, export_modules_as_functions=True
    )
    (call,) = [n for n in proto.graph.node if n.domain == "studio.nn"]
    assert call.op_type == "TransformerEncoder" and [f.name for f in proto.functions] == [
        "TransformerEncoder"
    ]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in call.attribute}
    assert attrs["num_layers"] == 2 and attrs["nhead"] == 2 and attrs["activation"] == b"gelu"
    names = {i.name for i in proto.graph.initializer}
    assert "1.layers.1.self_attn.in_proj_weight" in names and "1.layers.0.linear1.weight" in names
    assert max_difference(model, proto, np.concatenate([x, x[:1]])) <= TOLERANCE
