"""The second half of the app, widget by widget: live plots, the training panel, evaluation,
the graph inspector, the data panel and the export dialog."""

from __future__ import annotations

import ast
import csv

import numpy as np
import pytest

from studio.design import load_template
from studio.training import Event


@pytest.fixture
def iris(tmp_path):
    project = load_template("iris_mlp")
    project.path = str(tmp_path / "iris.studio")
    project.training.update({"epochs": 2, "batch_size": 16})
    return project


# ------------------------------------------------------------------------------- live plots
def test_plots_take_events_and_export(qtbot, tmp_path):
    from studio.ui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    events = [Event("step", epoch=1, step=i, loss=1.0 / i) for i in range(1, 101)]
    events.append(
        Event(
            "epoch",
            epoch=1,
            step=100,
            metrics={"train_loss": 0.2, "val_loss": 0.3, "val_accuracy": 0.8},
            lr=0.01,
        )
    )
    plots.feed(events)
    plots.redraw()
    xs, ys = plots.raw_curve.getData()
    assert len(xs) == 100 and ys[0] == pytest.approx(1.0)
    sx, sy = plots.smooth_curve.getData()
    assert sy[-1] > ys[-1]  # the smoothed curve lags a falling loss
    assert list(plots.val_curve.getData()[1]) == [0.3]
    assert list(plots.metric_curve.getData()[1]) == [0.8]
    plots.log_box.setChecked(True)
    assert plots.loss_plot.getPlotItem().ctrl.logYCheck.isChecked()
    plots.export_csv(tmp_path / "c.csv")
    rows = list(csv.reader((tmp_path / "c.csv").read_text().splitlines()))
    assert rows[0] == ["series", "step", "value"] and ["val_loss", "100", "0.3"] in rows
    plots.export_png(tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 1000


def test_plots_hold_a_hundred_thousand_points(qtbot):
    from studio.ui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.add_steps(np.arange(1, 100_001), np.random.default_rng(0).random(100_000))
    plots.redraw()
    assert plots.raw.n == 100_000
    assert plots.loss_plot.getPlotItem().clipToViewMode()


# ---------------------------------------------------------------------------- training panel
def test_training_panel_trains_and_keeps_the_run(qtbot, iris):
    from studio.ui.plots import LivePlots
    from studio.ui.training_panel import TrainingPanel

    plots = LivePlots()
    panel = TrainingPanel(plots)
    qtbot.addWidget(plots)
    qtbot.addWidget(panel)
    panel.set_project(iris)
    assert panel.epochs.value() == 2
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        panel.train_button.click()
        assert not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    run = blocker.args[0]
    assert run["status"] == "completed" and iris.runs[-1] is run
    assert plots.raw.n > 0 and plots.val_loss.n == 2
    assert panel.train_button.isEnabled()


def test_stop_ends_a_run(qtbot, iris):
    # how soon is measured by benchmarks/bench_app.py (bench_stop_latency), not timed here
    from studio.ui.training_panel import TrainingPanel

    iris.training["epochs"] = 100000
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_project(iris)
    panel.start()
    qtbot.waitUntil(lambda: panel.progress.maximum() > 0 and panel.progress.value() > 0, timeout=60_000)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        panel.stop_button.click()
    assert iris.runs[-1]["status"] == "stopped"


def test_nan_run_ends_with_a_message(qtbot, iris):
    from studio.ui.training_panel import TrainingPanel

    iris.training.update({"lr": 1000.0, "optimizer": "sgd", "epochs": 50})
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_project(iris)
    assert panel.lr.value() == 1000.0
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert "learning rate" in panel.status.text() and "step" in panel.status.text()
    assert iris.runs[-1]["status"] == "failed"
    assert panel.train_button.isEnabled()


# ------------------------------------------------------------------------------ evaluation
def test_evaluation_shows_a_classification_run(qtbot, iris):
    from studio.training import fit
    from studio.ui.evaluation import EvaluationView, gradient_flags

    list(fit(iris))
    view = EvaluationView()
    qtbot.addWidget(view)
    view.show_run(iris.runs[-1], input_shape=(4,))
    titles = [view.tabText(i) for i in range(view.count())]
    assert titles == [
        "Confusion matrix",
        "Per-class scores",
        "ROC",
        "Precision-recall",
        "Calibration",
        "Misclassified",
        "Gradient flow",
        "Histograms",
    ]
    assert view.scores.rowCount() == 3
    assert gradient_flags([{"a": 1e-9, "b": 0.5, "c": float("inf")}]) == {"a": "vanishing", "c": "exploding"}


# ------------------------------------------------------------------------------- inspector
def test_inspector_draws_the_graph_of_a_template(qtbot, iris):
    from studio.training.inspect import inspect_project
    from studio.ui.inspector import GraphInspector

    ins = inspect_project(iris)
    view = GraphInspector()
    qtbot.addWidget(view)
    view.show_inspection(ins)
    labels = {item.node.label for item in view.items.values()}
    kinds = {item.node.kind for item in view.items.values()}
    assert {"op", "param", "input"} <= kinds
    assert any("Backward" in label for label in labels)
    assert any(label.endswith(".weight") for label in labels)
    param = next(i for i, item in view.items.items() if item.node.label.endswith(".weight"))
    view.select(param)
    assert "gradient" in view.details.text()
    view.search.setText("weight")
    view.find_next()
    assert view.scene.selectedItems()


# ------------------------------------------------------------------------------ data panel
def test_data_panel_follows_samples_and_csv(qtbot, tmp_path):
    from studio.ui.data_panel import DataPanel, balance_warning

    project = load_template("iris_mlp")
    project.path = str(tmp_path / "p.studio")
    panel = DataPanel()
    qtbot.addWidget(panel)
    panel.set_project(project)
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.sample_buttons["digits"].click()
    data, shape, classes, task = blocker.args
    assert data["sample"] == "digits" and shape == (1, 8, 8) and classes == 10 and task == "classification"
    path = tmp_path / "t.csv"
    rows = ["a,b,colour,label"] + [
        f"{i},{i % 7},{'red' if i % 2 else 'blue'},{'x' if i < 45 else 'y'}" for i in range(50)
    ]
    path.write_text("\n".join(rows) + "\n")
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.use_csv(path)
    data, shape, classes, task = blocker.args
    assert data["target"] == "label" and classes == 2 and shape == (4,)  # a, b and two one-hot columns
    assert panel.table.columnCount() == 4 and "missing" in panel.table.horizontalHeaderItem(0).text()
    assert panel.balance_warning.isVisibleTo(panel)
    assert balance_warning([50, 50]) is None


# ---------------------------------------------------------------------------- export dialog
def test_export_dialog_writes_what_the_cli_writes(qtbot, iris, tmp_path):
    from studio.design import export_python
    from studio.training import fit
    from studio.ui.export_dialog import ExportDialog

    list(fit(iris))
    dialog = ExportDialog(iris)
    qtbot.addWidget(dialog)
    dialog.torch_target.setChecked(True)
    dialog.ddp.setChecked(True)
    out = dialog.write_script(tmp_path / "net.py")
    assert out.read_text() == export_python(iris, target="torch", ddp=True)
    ast.parse(out.read_text())
    assert "DistributedDataParallel" in dialog.preview.toPlainText()
    dialog.write_weights(tmp_path / "w.safetensors")
    dialog.write_curves(tmp_path / "curves.csv")
    assert (tmp_path / "w.safetensors").stat().st_size > 0
    assert (tmp_path / "curves.csv").read_text().splitlines()[0] == "series,step,value"


def test_data_panel_shows_an_image_folder(qtbot, tmp_path):
    from PySide6.QtWidgets import QLabel

    from studio.core.data.samples import digits_image_folder
    from studio.ui.data_panel import AUG_PREVIEW_PX, THUMBS_PER_CLASS, DataPanel

    root = digits_image_folder(tmp_path / "digits", limit=120)
    project = load_template("digits_lenet")
    project.path = str(tmp_path / "p.studio")
    panel = DataPanel()
    qtbot.addWidget(panel)
    panel.set_project(project)
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.use_folder(root)
    data, shape, classes, task = blocker.args
    assert data["kind"] == "images" and shape == (1, 28, 28) and classes == 10 and task == "classification"
    assert "120 images, 10 classes" in panel.source_label.text() and "8x8" in panel.image_info.text()
    expected = np.bincount([int(p.parent.name) for p in root.glob("*/*.png")], minlength=10)
    grid = panel.thumbs_grid
    for row in range(10):
        assert grid.itemAtPosition(row, 0).widget().text() == f"{row} ({expected[row]})"
        thumbs = [grid.itemAtPosition(row, c) for c in range(1, THUMBS_PER_CLASS + 1)]
        assert sum(t is not None for t in thumbs) == min(THUMBS_PER_CLASS, expected[row])
    first = grid.itemAtPosition(0, 1).widget()
    assert isinstance(first, QLabel) and not first.pixmap().isNull()
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.height_box.setValue(8)
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.width_box.setValue(8)
    assert blocker.args[1] == (1, 8, 8) and blocker.args[0]["image_size"] == [8, 8]
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.aug_rotate.setChecked(True)
    assert blocker.args[0]["augmentation"]["rotate"] is True
    panel.preview_augmentation()
    cells = [panel.aug_grid.itemAt(i).widget() for i in range(panel.aug_grid.count())]
    assert len(cells) == 8 and all(c.pixmap().width() == AUG_PREVIEW_PX for c in cells)


def test_smoothing_in_batches_equals_the_running_average():
    from studio.ui.plots import SMOOTHING, _Smoother, smooth

    values = np.random.default_rng(3).random(1000) * 4
    expected, acc, debias = [], 0.0, 1.0
    for v in values:
        acc = acc * SMOOTHING + (1 - SMOOTHING) * v
        debias *= SMOOTHING
        expected.append(acc / (1 - debias))
    s = _Smoother()
    parts = [s.feed(values[a:b]) for a, b in ((0, 1), (1, 70), (70, 64 * 5), (64 * 5, 1000))]
    np.testing.assert_allclose(np.concatenate(parts), expected, rtol=1e-12)
    np.testing.assert_allclose(smooth(values), expected, rtol=1e-12)
    assert len(s.feed([])) == 0


def test_loss_range_follows_the_data_until_the_user_zooms(qtbot):
    from studio.ui.plots import LivePlots

    plots = LivePlots()
    qtbot.addWidget(plots)
    plots.resize(800, 400)
    plots.add_steps(np.arange(1, 1001), np.linspace(2.0, 0.5, 1000))
    plots.redraw()
    vb = plots.loss_plot.getPlotItem().vb
    (x0, x1), (y0, y1) = vb.viewRange()
    assert x0 <= 1 and 1000 <= x1 <= 1100 and y0 <= 0.5 and 2.0 <= y1 < 2.2
    plots.add_steps(np.arange(1001, 3001), np.full(2000, 3.0))
    plots.redraw()
    (x0, x1), (y0, y1) = vb.viewRange()
    assert 3000 <= x1 <= 3300 and y1 >= 3.0
    vb.sigRangeChangedManually.emit([True, True])  # the user zooms or pans: the range stays put
    vb.setRange(xRange=(10, 20), padding=0)
    plots.add_steps(np.arange(3001, 4001), np.full(1000, 9.0))
    plots.redraw()
    assert vb.viewRange()[0] == [10, 20]
    plots.follow()
    assert vb.viewRange()[0][1] >= 4000 and vb.viewRange()[1][1] >= 9.0
    plots.log_box.setChecked(True)
    assert vb.viewRange()[1][1] == pytest.approx(np.log10(9.0), abs=0.1)
    xs, ys = plots.raw_curve.getData()
    assert len(xs) < 4000  # drawn downsampled, about one point per pixel column


def test_training_fields_come_from_the_spec_and_options_follow_the_choice(qtbot, iris):
    from studio.design.training_spec import TRAINING_SPEC
    from studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_project(iris)
    top = [n for n in TRAINING_SPEC.names() if n.split(".")[0] in (*TRAINING_SPEC.settings, "early_stopping")]
    assert sorted(panel.fields) == sorted(top)
    assert panel.seed.maximum() == TRAINING_SPEC.setting("seed").max
    assert sorted(k for _, k in panel.option_fields) == ["amsgrad", "betas", "eps"]  # Adam's
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.schedule.setCurrentIndex(panel.schedule.findData("step"))
    assert set(panel.option_fields) == {
        ("sgd", "momentum"),
        ("sgd", "dampening"),
        ("sgd", "nesterov"),
        ("step", "step_size"),
        ("step", "gamma"),
    }
    panel.option_fields[("sgd", "momentum")].widget.setValue(0.5)
    panel.option_fields[("step", "gamma")].widget.setValue(0.25)
    assert iris.training["optimizer"] == "sgd" and iris.training["sgd"] == {"momentum": 0.5}
    assert iris.training["step"] == {"gamma": 0.25}
    assert panel.option_fields[("step", "step_size")].get() is None  # left to the run: a third of it
    panel.monitor.setCurrentIndex(panel.monitor.findData("val_loss"))
    assert iris.training["early_stopping"]["monitor"] == "val_loss"
