"""The Compress panel through the main window: compress in the worker, stop, keep a variant, export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from studio.design import load_template
from studio.training import fit


@pytest.fixture
def lenet_window(make_window, tmp_path):
    """A window on the digits CNN, trained for two epochs and saved."""
    from studio.design.runs import save_with_runs

    project = load_template("digits_lenet")
    project.training.update({"epochs": 2, "seed": 0})
    assert list(fit(project))[-1].kind == "end"
    save_with_runs(project, tmp_path / "lenet.studio")
    return make_window(project=project)


def click(qtbot, button):
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _finished(panel):
    return not panel.running and panel.progress.format() in ("completed", "stopped", "failed")


def test_compress_keep_and_export_through_the_window(qtbot, lenet_window, tmp_path):
    window = lenet_window
    window.act_compress.trigger()
    panel = window.findChild(QWidget, "compressPanel")
    assert panel is window.compress_panel and window.compress_dock.isVisible()
    source = window.project.runs[-1]
    assert panel.run_box.currentData() == source["id"]
    panel.fields["prune"].setValue(0.5)
    panel.fields["finetune"].setValue(1)
    panel.fields["quantize"].setCurrentText("dynamic")
    click(qtbot, panel.start_button)
    assert panel.stop_button.isEnabled() and not panel.fields["prune"].isEnabled()
    qtbot.waitUntil(lambda: _finished(panel), timeout=120_000)
    assert panel.progress.format() == "completed", panel.status.text()
    names = [panel.table.item(i, 0).text() for i in range(panel.table.rowCount())]
    assert names == [
        "float32 (as trained)",
        "pruned 50% (global)",
        "pruned 50% (global), fine-tuned 1 epoch",
        "pruned 50% (global), fine-tuned 1 epoch, int8 dynamic",
    ]
    assert panel.table.horizontalHeaderItem(5).text() == "accuracy"
    assert float(panel.table.item(3, 4).text().removesuffix("x")) > 1.5
    assert len(panel.plot.getPlotItem().listDataItems()) == 1  # Studio's variants; no onnxruntime asked
    assert panel.selected() is panel.rows[-1] and panel.keep_button.isEnabled()
    runs_before = len(window.project.runs)
    click(qtbot, panel.keep_button)
    kept = window.project.runs[-1]
    assert len(window.project.runs) == runs_before + 1 and kept["compression"]["quantize"] == "dynamic"
    assert window.evaluation.run is kept and window.is_modified()
    assert panel.run_box.currentData() == kept["id"]
    written = panel.export_selected("torch", tmp_path / "net_torch.py")
    assert [p.name for p in written] == ["net_torch.py", "net_torch.safetensors"]
    pytest.importorskip("torch")
    res = subprocess.run(
        [sys.executable, str(written[0]), "compress"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{kept['compression']['nonzero']} non-zero" in res.stdout


def test_stop_ends_the_compression_and_keeps_what_was_made(qtbot, lenet_window):
    window = lenet_window
    window.act_compress.trigger()
    panel = window.compress_panel
    panel.fields["finetune"].setValue(100)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.table.rowCount() >= 2, timeout=120_000)
    click(qtbot, panel.stop_button)
    qtbot.waitUntil(lambda: _finished(panel), timeout=120_000)
    assert panel.progress.format() == "stopped" and panel.table.rowCount() == 2
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    folder = panel.folder
    assert any(p.suffix == ".safetensors" for p in Path(folder).iterdir())
    panel.shutdown()  # as the window does when it closes: the variants' files go
    assert not os.path.exists(folder) and panel.table.rowCount() == 0


def test_onnx_rows_export_an_int8_file(qtbot, lenet_window, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    window = lenet_window
    window.act_compress.trigger()
    panel = window.compress_panel
    panel.fields["quantize"].setCurrentText("static")
    panel.fields["onnx"].setChecked(True)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: _finished(panel), timeout=120_000)
    assert panel.progress.format() == "completed", panel.status.text()
    assert [r["runtime"] for r in panel.rows][-2:] == ["onnxruntime", "onnxruntime"]
    assert len(panel.plot.getPlotItem().listDataItems()) == 2
    panel.table.selectRow(len(panel.rows) - 1)
    assert not panel.keep_button.isEnabled()  # an onnxruntime file is exported, not kept
    panel.table.selectRow(1)
    with pytest.raises(ValueError, match="choose an onnxruntime row"):
        panel.export_selected("onnx", tmp_path / "x.onnx")
    panel.table.selectRow(len(panel.rows) - 1)
    written = panel.export_selected("onnx", tmp_path / "net.onnx")
    session = ort.InferenceSession(str(written[0]), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "input"


def test_without_a_trained_run_the_panel_says_so(qtbot, make_window):
    window = make_window(project=load_template("digits_lenet"))
    window.act_compress.trigger()
    panel = window.compress_panel
    assert not panel.start_button.isEnabled()
    panel.start()
    assert "Train the design first" in panel.status.text() and panel.process is None
