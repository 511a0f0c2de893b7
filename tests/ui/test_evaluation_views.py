"""Deeper evaluation and run comparison through the main window: ROC, precision-recall and calibration
curves per class, weight and gradient histograms over the epochs, a regressor's residuals, and two
runs compared side by side."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from studio import assets
from studio.design import Design, new_project
from studio.ui.eval_curves import heat_image, legend_texts


def _train(qtbot, window):
    with qtbot.waitSignal(window.training_panel.runFinished, timeout=120_000) as blocker:
        window.act_train.trigger()
    run = blocker.args[0]
    assert run["status"] == "completed", run.get("message")
    return run


def _curves(plot) -> list:
    return [i for i in plot.getPlotItem().listDataItems() if i.name()]


@pytest.fixture
def iris_window(make_window, tmp_path):
    from studio.ui.main_window import example_project

    project = example_project()
    project.path = str(tmp_path / "iris.studio")
    window = make_window(project=project)
    window.training_panel.epochs.setValue(3)
    return window


def test_a_trained_classifier_shows_roc_pr_and_calibration_curves_and_histograms(qtbot, iris_window):
    window = iris_window
    run = _train(qtbot, window)
    view = window.evaluation
    titles = view.tab_titles()
    for title in ("ROC", "Precision-recall", "Calibration", "Per-class scores", "Histograms"):
        assert title in titles
    ev = run["evaluation"]
    # one curve per class, each with its area in the legend, as the run keeps it
    roc_legend = legend_texts(view.roc)
    assert len(_curves(view.roc)) == 3 and len(roc_legend) == 3
    for text, curve, name in zip(roc_legend, ev["roc"], ["setosa", "versicolor", "virginica"]):
        assert text == f"{name} (AUC {curve['auc']:.3f})"
    xs, ys = _curves(view.roc)[0].getData()
    np.testing.assert_allclose(xs, ev["roc"][0]["fpr"])
    assert [t.split(" (AP ")[0] for t in legend_texts(view.pr)] == ["setosa", "versicolor", "virginica"]
    assert len(_curves(view.pr)) == 3
    (cal_text,) = [t for t in legend_texts(view.calibration) if "ECE" in t]
    assert cal_text == f"top class (ECE {ev['calibration']['ece']:.3f})"
    assert "top-1 accuracy" in view.scores_note.text() and "top-3 accuracy" in view.scores_note.text()
    assert view.scores.item(0, 3).text() == str(ev["support"][0])
    # the histograms: one heat-map column per epoch, for the tensor picked
    view.show_tab("histograms")
    hv = view.histograms
    assert hv.picker.count() == 6 and hv.picker.currentData() == "hidden1.weight"
    for kind in ("weight", "grad"):
        assert hv.images[kind].image.shape[0] == 3 == len(run["histograms"]["epochs"])
    hv.picker.setCurrentIndex(hv.picker.findData("head.bias"))
    expected, _ = heat_image(run["histograms"]["tensors"]["head.bias"]["grad"], [1, 2, 3])
    np.testing.assert_allclose(hv.images["grad"].image, np.sqrt(expected))
    left, right = hv.images["weight"].mapRectToParent(hv.images["weight"].boundingRect()).getCoords()[::2]
    assert (left, right) == (0.5, 3.5)  # columns centred on the epochs


def test_a_heat_map_column_holds_each_epochs_values_whatever_its_range():
    series = [{"range": [0.0, 1.0], "counts": [2, 2]}, {"range": [-1.0, 3.0], "counts": [1, 3]}, None]
    image, (lo, hi) = heat_image(series, [1, 2, 3], rows=8)
    assert (lo, hi) == (-1.0, 3.0) and image.shape == (3, 8)
    np.testing.assert_allclose(image.sum(axis=1), [1, 1, 0])
    assert image[0, :2].sum() == 0 and image[0, 2:4].sum() == pytest.approx(1.0)  # [0, 1] in rows 2..3


def test_a_regressor_shows_predicted_against_actual_and_its_residuals(qtbot, make_window, tmp_path):
    d = Design()
    ids = [
        d.add_node("Input", {"shape": (3,)}).id,
        d.add_node("Linear", {"out_features": 16}).id,
        d.add_node("ReLU").id,
        d.add_node("Linear", {"out_features": 1}).id,
        d.add_node("Output", {"task": "regression", "loss": "mse"}).id,
    ]
    for a, b in zip(ids, ids[1:]):
        d.connect(a, b)
    data = {
        "kind": "csv",
        "path": str(assets.DATA / "iris.csv"),
        "target": "petal_width",
        "features": ["sepal_length", "sepal_width", "petal_length"],
        "task": "regression",
    }
    project = new_project(design=d, data=data, name="Iris petal width")
    project.path = str(tmp_path / "petal.studio")
    window = make_window(project=project)
    window.training_panel.epochs.setValue(3)
    run = _train(qtbot, window)
    ev, view = run["evaluation"], window.evaluation
    assert ev["task"] == "regression"
    assert view.tab_titles()[:3] == ["Predicted vs actual", "Residuals", "Residual histogram"]
    view.show_tab("residuals")
    points = view.residuals.getPlotItem().listDataItems()[0].getData()
    np.testing.assert_allclose(points[0], ev["predicted"])
    np.testing.assert_allclose(points[1], np.subtract(ev["actual"], ev["predicted"]), atol=1e-9)
    items = view.scatter.getPlotItem().listDataItems()
    assert len(items) == 2  # the predictions and the y = x line
    line_x, line_y = items[1].getData()
    np.testing.assert_allclose(line_x, line_y)
    assert f"R² {ev['r2']:.4g}" in view.scatter.getPlotItem().titleLabel.text
    (bars,) = view.residual_hist.getPlotItem().listDataItems()
    assert bars.getData()[1].sum() == len(ev["predicted"])
    assert "Histograms" in view.tab_titles()


def test_two_runs_compared_overlay_their_curves_and_highlight_the_setting_that_differs(qtbot, iris_window):
    window = iris_window
    window.training_panel.epochs.setValue(2)
    _train(qtbot, window)
    window.training_panel.fields["lr"].set(0.05)
    _train(qtbot, window)
    assert [r["settings"]["lr"] for r in window.project.runs] == [0.01, 0.05]
    window.act_compare.trigger()
    comparison = window.comparison
    assert window.central_tabs.currentWidget() is comparison
    assert [n for n, _ in comparison.chosen()] == [1, 2]
    assert legend_texts(comparison.loss_plot) == ["run 1", "run 2"]
    assert legend_texts(comparison.metric_plot) == ["run 1", "run 2"]
    solid = [c for c in _curves(comparison.loss_plot)]
    assert solid[0].opts["pen"].color() != solid[1].opts["pen"].color()  # one colour per run
    assert comparison.differing_settings() == ["lr"]
    table = comparison.table
    rows = {table.verticalHeaderItem(i).toolTip(): i for i in range(table.rowCount())}
    lr = rows["lr"]
    assert [table.item(lr, j).text() for j in range(2)] == ["0.01", "0.05"]
    assert table.item(lr, 0).font().bold() and not table.item(rows["batch_size"], 0).font().bold()
    assert table.item(lr, 0).background().color().alpha() > 0
    assert table.item(rows["test_accuracy"], 1).text()  # the final metrics are there too
    assert "Learning rate" in comparison.note.text()
    # only what differs, on request; unticking a run leaves one curve
    comparison.differences_only.setChecked(True)
    assert [table.verticalHeaderItem(i).toolTip() for i in range(table.rowCount())][0] == "lr"
    comparison.run_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert legend_texts(comparison.loss_plot) == ["run 2"]
    # a new run joins the ticked ones
    _train(qtbot, window)
    assert [n for n, _ in comparison.chosen()] == [2, 3]


def test_runs_kept_before_the_curves_existed_still_show(qtbot, make_window, tmp_path):
    from studio.ui.main_window import example_project

    project = example_project()
    old_run = {
        "id": "20250101-000000-abcdef",
        "status": "completed",
        "settings": {"lr": 0.01},
        "curves": {"step": [1, 2], "loss": [1.0, 0.5], "epoch": [1], "val_loss": [0.6], "val_metric": [0.7]},
        "final": {"test_loss": 0.5, "test_accuracy": 0.7},
        "evaluation": {
            "task": "classification",
            "classes": ["a", "b"],
            "confusion": [[3, 1], [0, 4]],
            "precision": [1.0, 0.8],
            "recall": [0.75, 1.0],
            "f1": [0.857, 0.889],
            "support": [4, 4],
        },
    }
    project.runs = [old_run]
    window = make_window(project=project)
    titles = window.evaluation.tab_titles()
    assert titles == ["Confusion matrix", "Per-class scores", "Misclassified", "Gradient flow"]
    window.compare_runs()
    assert legend_texts(window.comparison.loss_plot) == ["run 1"]
    assert isinstance(window.comparison.loss_plot.getPlotItem().listDataItems()[0], pg.PlotDataItem)
