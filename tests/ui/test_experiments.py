"""Experiments through the main window: a six-trial sweep of the Iris example finishes in worker
processes, the best trial is highlighted and kept as a run, Apply sets its settings and layer
parameters as one undo step, Stop keeps the finished trials, and bad parameters are named."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from studio.design.project import load_project


@pytest.fixture
def iris_window(make_window, tmp_path):
    from studio.ui.main_window import example_project

    project = example_project()
    project.path = str(tmp_path / "iris.studio")
    return make_window(project=project)


def click(qtbot, button):
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def define(window, rows, method="grid", trials=6, jobs=2, epochs=2):
    panel = window.experiments
    window.act_experiments.trigger()
    assert window.central_tabs.currentWidget() is panel
    panel.params.setRowCount(0)
    for name, text in rows:
        panel.add_param(name, text)
    panel.method.setCurrentIndex(panel.method.findData(method))
    panel.trials.setValue(trials)
    panel.jobs.setValue(jobs)
    panel.epochs.setValue(epochs)
    return panel


def test_a_six_trial_sweep_finishes_highlights_the_best_and_applies_it_as_one_undo_step(qtbot, iris_window):
    window = iris_window
    hidden1 = window.project.design.node_by_name("hidden1")
    window.scene.select_nodes([hidden1.id])
    panel = window.experiments
    assert panel.pick.currentData() == "hidden1.out_features"  # the selected layer's parameter is offered
    panel = define(window, [("lr", "0.003,0.1,0.3"), ("hidden1.out_features", "4,32")])
    before_training = dict(window.project.training)
    with qtbot.waitSignal(panel.sweepFinished, timeout=180_000) as blocker:
        click(qtbot, panel.start_button)
        assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    run = blocker.args[0]
    record = window.project.sweeps[-1]
    assert len(record["trials"]) == 6 and all(t["status"] == "completed" for t in record["trials"])
    assert panel.table.rowCount() == 6 and panel.progress.value() == 6
    best = next(t for t in record["trials"] if t["number"] == record["best"])
    assert best["objective"] == min(t["objective"] for t in record["trials"])
    # the best row is highlighted, also after sorting by another column
    panel.table.sortItems(1, Qt.SortOrder.DescendingOrder)
    row = panel.best_row()
    assert panel.table.item(row, 0).value == best["number"] and panel.table.item(row, 0).font().bold()
    assert panel.table.item(row, 2).background().color().alpha() > 0
    assert len(panel.coords.listDataItems()) == 6 and len(panel.curves.listDataItems()) == 6
    # the best trial's weights are a run of the project, shown where runs are
    assert run["id"] == record["best_run"] and window.project.runs[-1] is run
    assert window.isWindowModified()

    click(qtbot, panel.apply_button)
    assert window.project.training["lr"] == best["values"]["lr"]
    assert hidden1.params["out_features"] == best["values"]["hidden1.out_features"]
    assert window.training_panel.fields["lr"].get() == pytest.approx(best["values"]["lr"])
    window.undo_stack.undo()
    assert window.project.training == before_training and hidden1.params["out_features"] == 16
    window.undo_stack.redo()
    assert window.project.training["lr"] == best["values"]["lr"]

    assert window.save()
    assert load_project(window.project.path).sweeps[-1]["best"] == best["number"]


def test_stop_keeps_the_finished_trials(qtbot, iris_window):
    window = iris_window
    panel = define(window, [("lr", "1e-3:1e-1:log")], method="random", trials=4, jobs=1, epochs=1)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.progress.value() >= 1, timeout=120_000)
    panel.epochs.setValue(1)  # disabled while running: the sweep keeps its own options
    with qtbot.waitSignal(panel.sweepFinished, timeout=120_000):
        click(qtbot, panel.stop_button)
    record = window.project.sweeps[-1]
    assert record["status"] == "stopped" and 1 <= len(record["trials"]) < 4
    assert record["trials"][0]["status"] == "completed" and panel.apply_button.isEnabled()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()


def test_a_bad_parameter_is_named_and_nothing_starts(qtbot, iris_window):
    window = iris_window
    panel = define(window, [("hidden1.out_features", "0,8")])
    click(qtbot, panel.start_button)
    assert "hidden1.out_features: expected a positive integer" in panel.status.text()
    assert not panel.running and window.project.sweeps == []


def _with_last_sweep(params: list, values: dict):
    """The example project with a finished two-trial sweep over `params` (trial 1 best, lr 0.1)."""
    from studio.ui.main_window import example_project

    project = example_project()
    project.sweeps.append(
        {
            "id": "s1",
            "status": "completed",
            "method": "grid",
            "objective": "val_loss",
            "direction": "minimize",
            "epochs": 3,
            "params": [{"name": "lr", "kind": "choice", "values": [0.01, 0.1]}, *params],
            "trials": [
                {
                    "number": n,
                    "values": {"lr": lr, **values},
                    "status": "completed",
                    "objective": obj,
                    "metrics": {},
                    "curves": {"epoch": [1], "val_loss": [obj]},
                    "seconds": 1.0,
                    "message": "",
                }
                for n, lr, obj in ((0, 0.01, 0.5), (1, 0.1, 0.2))
            ],
            "best": 1,
            "best_run": None,
        }
    )
    return project


def test_the_last_sweep_shows_when_the_project_opens(qtbot, make_window, tmp_path):
    span = {"name": "hidden1.out_features", "kind": "int", "low": 4, "high": 32, "scale": "log"}
    project = _with_last_sweep([span], {"hidden1.out_features": 8})
    window = make_window(project=project)
    panel = window.experiments
    assert panel.table.rowCount() == 2 and panel.table.item(panel.best_row(), 0).value == 1
    # its definition is back, ready to run again: parameters, method, objective and trials
    rows = [(panel.params.item(r, 0).text(), panel.params.item(r, 1).text()) for r in range(2)]
    assert rows == [("lr", "0.01,0.1"), ("hidden1.out_features", "4:32:log")] and panel.params.rowCount() == 2
    assert panel.method.currentData() == "grid" and panel.objective.currentData() == "val_loss"
    assert panel.trials.value() == 2 and panel.epochs.value() == 3
    assert [d.text() for d in panel.dimensions()] == ["lr=0.01,0.1", "hidden1.out_features=4:32:log"]
    click(qtbot, panel.apply_button)
    assert window.project.training["lr"] == 0.1
    window.undo_stack.undo()
    assert window.project.training["lr"] == 0.01


def test_the_last_sweep_of_a_deleted_layer_is_shown_but_not_offered_again(qtbot, make_window):
    gone = {"name": "gone.out_features", "kind": "int", "values": [8, 16]}
    window = make_window(project=_with_last_sweep([gone], {"gone.out_features": 8}))
    panel = window.experiments
    assert panel.table.rowCount() == 2
    assert [panel.params.item(r, 0).text() for r in range(panel.params.rowCount())] == ["lr"]
    click(qtbot, panel.apply_button)
    assert "no longer fit the design" in panel.status.text() and window.project.training["lr"] != 0.1
