"""ONNX import: operators become catalogue layers, templates round-trip, PyTorch's files fine-tune."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from design_cases import LAYER_CASES, one_layer, sample_input
from onnx_helpers import onnx_or_skip, randomise_batchnorm, run_onnx

import studio.core as core
from studio.design.build import build
from studio.design.project import list_templates, load_project, load_template

ort = onnx_or_skip()
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from studio.core import onnx as core_onnx  # noqa: E402
from studio.design.onnx_import import (  # noqa: E402
    OnnxImportError,
    build_imported,
    import_model,
    import_onnx_file,
    project_from_onnx,
)

TOLERANCE = 1e-4
# layer types whose export maps back onto the catalogue (the rest export as several operators)
ROUND_TRIP_LAYERS = [
    "Linear", "Embedding", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "RNN", "LSTM", "GRU", "ReLU", "LeakyReLU", "ELU", "GELU",
    "SiLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Add", "Multiply", "Concat", "Reshape", "Flatten",
    "Permute", "Dropout", "Dropout2d", "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
]  # fmt: skip


def _params(model):
    return sum(p.numel() for p in model.parameters())


def _round_trip(design, shape, dtype):
    core.manual_seed(3)
    model = build(design)
    randomise_batchnorm(model)
    model.eval()
    x = core.tensor(sample_input(shape, dtype))
    # attention and encoder layers travel as local functions that keep their settings and weights
    proto = core_onnx.export(
        model, (x,), None, dynamic_axes={"input": {0: "batch"}}, export_modules_as_functions=True
    )
    imported = import_model(proto)
    again = build_imported(imported)
    x = core.tensor(sample_input(shape, dtype, batch=4, seed=5))
    with core.no_grad():
        diff = float(np.abs(model(x).numpy() - again(x).numpy()).max())
    return model, again, imported, diff


@pytest.mark.parametrize("layer", ROUND_TRIP_LAYERS)
def test_layer_round_trips_through_onnx(layer):
    shape, dtype, params, n_ports = LAYER_CASES[layer]
    design, _ = one_layer(layer, shape, dtype, params, n_ports)
    model, again, imported, diff = _round_trip(design, shape, dtype)
    assert diff <= TOLERANCE
    assert _params(again) == _params(model)
    types = {n.type for n in imported.design.nodes.values()}
    if layer == "Flatten" and params.get("start_dim", 1) != 1:
        assert "Reshape" in types  # ONNX's Flatten keeps only the batch dimension
    elif not layer.startswith("Dropout"):  # evaluation mode exports dropout as nothing
        assert layer in types


TEMPLATES = [t[0] for t in list_templates()]


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_round_trips_with_same_outputs_and_parameter_count(name):
    project = load_template(name)
    inp = next(n for n in project.design.nodes.values() if n.type == "Input")
    model, again, imported, diff = _round_trip(
        project.design, tuple(inp.params["shape"]), inp.params["dtype"]
    )
    assert diff <= TOLERANCE
    assert _params(again) == _params(model)
    kinds = sorted(n.type for n in project.design.nodes.values() if not n.type.startswith("Dropout"))
    assert sorted(n.type for n in imported.design.nodes.values()) == kinds


def test_imported_design_is_laid_out_left_to_right():
    imported = import_model(_export_template("digits_lenet"))
    xs = {n.name: n.pos[0] for n in imported.design.nodes.values()}
    order = imported.design.topological_order()
    positions = [imported.design.nodes[i].pos[0] for i in order]
    assert positions == sorted(positions) and len(set(xs.values())) > 3


def _export_template(name):
    project = load_template(name)
    inp = next(n for n in project.design.nodes.values() if n.type == "Input")
    x = sample_input(tuple(inp.params["shape"]), inp.params["dtype"])
    model = build(project.design).eval()
    return core_onnx.export(
        model, (core.tensor(x),), None, dynamic_axes={"input": {0: "batch"}}, export_modules_as_functions=True
    )


def _model(nodes, inits, x_shape=("N", 4), y_shape=("N", 3)):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_matmul_add_dropout_concat_map_onto_layers():
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="/fc/MatMul"),
        helper.make_node("Add", ["h", "b"], ["h2"], name="/fc/Add"),
        helper.make_node("Dropout", ["h2"], ["d"], name="/drop/Dropout"),
        helper.make_node("Concat", ["d", "d"], ["c"], axis=1, name="/cat/Concat"),
        helper.make_node("Softmax", ["c"], ["y"], axis=-1, name="/sm/Softmax"),
    ]
    proto = _model(nodes, {"w": w, "b": b}, y_shape=("N", 6))
    imported = import_model(proto)
    types = sorted(n.type for n in imported.design.nodes.values())
    assert types == ["Concat", "Dropout", "Input", "Linear", "Output", "Softmax"]
    assert imported.operators["MatMul"] == 1 and imported.operators["Add"] == 1
    x = rng.standard_normal((2, 4)).astype(np.float32)
    got = build_imported(imported)(core.tensor(x)).detach().numpy()
    assert np.abs(got - run_onnx(proto, {"x": x})[0]).max() <= TOLERANCE


def test_unmapped_operators_are_listed_together_and_nothing_is_saved(tmp_path):
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="first"),
        helper.make_node("CumSum", ["a", "axis"], ["b"], name="running_total"),
        helper.make_node("Hardmax", ["b"], ["c"], name="pick"),
        helper.make_node("Abs", ["a"], ["d"], name="magnitude"),
        helper.make_node("Add", ["c", "d"], ["e"], name="join"),
        helper.make_node("Gemm", ["e", "w"], ["y"], transB=1, name="head"),
    ]
    proto = _model(nodes, {"w": np.ones((3, 4))})
    proto.graph.initializer.append(numpy_helper.from_array(np.asarray(1, np.int64), "axis"))
    path = tmp_path / "odd.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(OnnxImportError) as e:
        project_from_onnx(path, tmp_path / "odd.studio")
    msg = str(e.value)
    assert "CumSum (node 'running_total'" in msg and "Abs (node 'magnitude'" in msg
    assert "Hardmax" not in msg  # fed by an unmapped node: its cause is listed already
    assert len(e.value.unmapped) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.onnx"]


def test_broken_files_are_refused_clearly(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(OnnxImportError, match="not a readable ONNX file"):
        import_onnx_file(bad)
    with pytest.raises(OnnxImportError, match="no ONNX file"):
        import_onnx_file(tmp_path / "missing.onnx")


def test_cli_imports_and_trains_from_the_imported_weights(tmp_path):
    path = tmp_path / "iris.onnx"
    onnx.save(_export_template("iris_mlp"), str(path))
    out = tmp_path / "iris.studio"
    r = subprocess.run(
        [sys.executable, "-m", "studio", "import", str(path), "-o", str(out), "--data", "iris"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert "onnxruntime" in r.stdout and "Gemm x3" in r.stdout
    project = load_project(out)
    assert project.runs[0]["status"] == "imported" and project.weights_path().exists()
    r = subprocess.run(
        [sys.executable, "-m", "studio", "import", str(path), "-o", str(out)], capture_output=True, text=True
    )
    assert r.returncode == 1 and "--force" in r.stderr


# ---------------------------------------------------------------------------------------------------
# Files made by PyTorch's own exporter
# ---------------------------------------------------------------------------------------------------


def _torch_models(torch):
    nn = torch.nn
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 10),
    )  # fmt: skip
    mlp = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.2), nn.Linear(16, 3))
    return {"digits": (cnn, (1, 8, 8)), "iris": (mlp, (4,))}


def _torch_export(torch, model, shape, path):
    model.eval()
    x = torch.randn(2, *shape)
    # the TorchScript exporter: the dynamo one needs onnxscript, which is not a dependency here
    # without constant folding, batch norm stays a BatchNormalization rather than being fused into Conv
    torch.onnx.export(
        model,
        (x,),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        do_constant_folding=False,
    )


@pytest.mark.parametrize("sample", ["digits", "iris"])
def test_pytorch_exported_models_import_and_fine_tune(sample, tmp_path):
    torch = pytest.importorskip("torch")
    from studio.training.fit import fit

    model, shape = _torch_models(torch)[sample]
    path = tmp_path / f"{sample}.onnx"
    _torch_export(torch, model, shape, path)
    project, imported = project_from_onnx(
        path,
        tmp_path / f"{sample}.studio",
        data={"kind": "sample", "sample": sample, "preprocessing": "none"},
    )
    x = np.random.default_rng(1).standard_normal((5, *shape)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = build_imported(imported)(core.tensor(x)).detach().numpy()
    assert np.abs(got - want).max() <= TOLERANCE
    assert _params(build_imported(imported)) == sum(p.numel() for p in model.parameters())
    project.training.update(epochs=3, lr=0.01, batch_size=32)
    events = list(fit(project, init=project.weights_path()))
    end = events[-1]
    assert end.kind == "end", getattr(end, "message", "")
    run = project.runs[-1]
    assert run["init"]["report"].startswith(f"loaded {len(imported.state)} of")
    losses = run["curves"]["train_loss"]
    assert losses[-1] < losses[0]
