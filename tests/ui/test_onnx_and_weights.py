"""ONNX and weights from elsewhere in the window: export from the dialog, open an .onnx, load weights."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as core
from studio.design.build import build

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture
def iris_window(make_window, tmp_path):
    from studio.ui.main_window import example_project

    project = example_project()
    project.path = str(tmp_path / "iris.studio")
    window = make_window(project=project)
    window.training_panel.epochs.setValue(1)
    return window


def test_export_dialog_writes_onnx_of_the_trained_run_away_from_the_gui_thread(qtbot, iris_window, tmp_path):
    from studio.ui.export_dialog import ExportDialog

    panel = iris_window.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        panel.start()
    dialog = ExportDialog(iris_window.project, iris_window)
    qtbot.addWidget(dialog)
    dialog.onnx_fold.setChecked(False)
    out = tmp_path / "iris.onnx"
    dialog.write_onnx(out)
    qtbot.waitUntil(lambda: dialog.save_onnx_button.isEnabled(), timeout=60_000)
    run_id = iris_window.project.runs[-1]["id"]
    assert dialog.status.text().startswith(
        f"Wrote {out} (run {run_id}, preprocessing in iris.preprocessing.json)"
    )
    assert "onnxruntime agrees" in dialog.status.text()
    onnx.checker.check_model(onnx.load(str(out)))
    dialog.write_onnx(tmp_path / "missing" / "x" / "y.onnx")
    qtbot.waitUntil(lambda: dialog.save_onnx_button.isEnabled(), timeout=60_000)
    assert dialog.status.text().startswith("Wrote") or "Could not export" in dialog.status.text()


def _onnx_of_template(path, name="digits_lenet"):
    from studio.core import onnx as core_onnx
    from studio.design.project import load_template

    model = build(load_template(name).design).eval()
    core_onnx.export(model, core.randn(2, 1, 8, 8), str(path), dynamic_axes={"input": {0: "batch"}})
    return model


def test_opening_an_onnx_file_imports_it_as_a_saved_project(qtbot, make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window = make_window()
    model = _onnx_of_template(tmp_path / "lenet.onnx")
    chosen = tmp_path / "lenet.studio"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(chosen), ""))
    assert window.open_path(str(tmp_path / "lenet.onnx"))
    assert window.project.path == str(chosen)
    types = sorted(n.type for n in window.editor.design.nodes.values())
    assert types.count("Conv2d") == 2 and types.count("Linear") == 2
    assert window.project.runs[0]["status"] == "imported"
    imported = build(window.project.design)
    imported.load_state_dict(core.load(window.project.weights_path()))
    x = core.randn(3, 1, 8, 8)
    assert np.abs(imported.eval()(x).detach().numpy() - model(x).detach().numpy()).max() <= 1e-5
    assert not window.isWindowModified()


def test_an_onnx_file_that_does_not_map_changes_nothing(make_window, tmp_path):
    from onnx import TensorProto, helper

    window = make_window()
    before = window.editor.design.to_dict()
    graph = helper.make_graph(
        [helper.make_node("CumSum", ["x", "axis"], ["y"], name="running")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [onnx.numpy_helper.from_array(np.asarray(1, np.int64), "axis")],
    )
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert not window.import_onnx(str(path), str(tmp_path / "odd.studio"))
    title, _text, details = make_window.dialogs.errors[-1]
    assert title == "Cannot import ONNX model" and "CumSum (node 'running'" in details
    assert window.editor.design.to_dict() == before
    # "home" is the test's home folder (tests/ui/conftest.py), where the window keeps its recovery lock
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["odd.onnx"]


def test_load_weights_makes_the_next_run_start_from_them(qtbot, iris_window, tmp_path):
    project = iris_window.project
    src = build(project.design)
    state = {k: v for k, v in src.state_dict().items() if not k.startswith("head.")}
    core.save(state, tmp_path / "body.safetensors")
    match = iris_window.load_weights(str(tmp_path / "body.safetensors"))
    assert match is not None and len(match.arrays) == 4 and match.missing == ["head.weight", "head.bias"]
    panel = iris_window.training_panel
    assert panel.init_weights == str(tmp_path / "body.safetensors")
    assert "body.safetensors (4 of 6 tensors)" in panel.init_label.text()
    assert "not in the file (kept as initialised): head.weight, head.bias" in panel.init_label.toolTip()
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        panel.start()
    run = blocker.args[0]
    assert run["status"] == "completed"
    assert run["init"]["report"].startswith("loaded 4 of 6 tensors")
    panel.init_clear.click()
    assert panel.init_weights is None and not panel.init_label.isVisibleTo(panel)


def test_load_weights_refuses_files_that_do_not_fit(iris_window, make_window, tmp_path):
    core.save({"other": core.zeros(2)}, tmp_path / "other.safetensors")
    assert iris_window.load_weights(str(tmp_path / "other.safetensors")) is None
    assert make_window.dialogs.errors[-1][0] == "Cannot load weights"
    assert iris_window.training_panel.init_weights is None
