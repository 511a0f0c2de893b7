"""The second half of the app end to end through the main window: train, pause, stop, a failing run,
the graph inspector, export, and data that the design follows."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QTableWidget

from studio.design import load_template


@pytest.fixture
def iris_window(make_window, tmp_path):
    """The window as the app opens it (the Iris example), saved under a temporary folder."""
    from studio.ui.main_window import example_project

    project = example_project()
    project.path = str(tmp_path / "iris.studio")
    window = make_window(project=project)
    window.training_panel.epochs.setValue(2)
    return window


def click(qtbot, button):
    assert button.isEnabled(), button.objectName()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_for_steps(qtbot, panel, at_least=1):
    qtbot.waitUntil(lambda: panel.running and panel.progress.value() >= at_least, timeout=60_000)


def test_train_two_epochs_draws_both_plots_and_keeps_the_run(qtbot, iris_window):
    window = iris_window
    panel = window.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.train_button)
        assert not panel.train_button.isEnabled() and panel.stop_button.isEnabled()
    run = blocker.args[0]
    assert run["status"] == "completed" and run["epochs_completed"] == 2
    assert window.project.runs == [run] and run["weights"]
    window.plots.redraw()
    xs, ys = window.plots.raw_curve.getData()
    assert xs is not None and len(xs) == run["curves"]["step"][-1] > 2
    assert len(window.plots.val_curve.getData()[0]) == 2
    assert len(window.plots.metric_curve.getData()[0]) == 2
    assert len(window.plots.lr_curve.getData()[0]) == 2
    assert window.isWindowModified()  # a run changes the project
    assert window.evaluation.scores.rowCount() == 3  # the evaluation shows the finished run
    assert "completed" in panel.progress.format() and panel.train_button.isEnabled()


def test_the_toolbar_train_action_trains_the_example_at_once(qtbot, iris_window):
    window = iris_window
    with qtbot.waitSignal(window.training_panel.runFinished, timeout=60_000):
        window.act_train.trigger()
    assert window.project.runs[-1]["status"] == "completed"


def test_progress_shows_epoch_step_speed_and_time_left(qtbot, iris_window):
    panel = iris_window.training_panel
    panel.epochs.setValue(1000)
    click(qtbot, panel.train_button)
    wait_for_steps(qtbot, panel, 2)
    text = panel.progress.format()
    assert (
        text.startswith("epoch ")
        and "/1000 · step " in text
        and "/7000" in text
        and "samples/s" in text
        and "left" in text
    )
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        click(qtbot, panel.stop_button)


def test_stop_ends_the_run_and_the_app_trains_again(qtbot, iris_window):
    # how soon a run stops is measured by benchmarks/bench_app.py (bench_stop_latency), not timed here
    window = iris_window
    panel = window.training_panel
    panel.epochs.setValue(100_000)
    click(qtbot, panel.train_button)
    wait_for_steps(qtbot, panel, 3)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.stop_button)
    assert blocker.args[0]["status"] == "stopped" and blocker.args[0]["epochs_completed"] < 100_000
    assert not panel.running and panel.train_button.isEnabled() and not panel.stop_button.isEnabled()
    # the loss plot's step axis fits the steps taken, not the 100,000 epochs planned
    window.plots.redraw()
    (x0, x1), _ = window.plots.loss_plot.getPlotItem().vb.viewRange()
    last = blocker.args[0]["curves"]["step"][-1]
    assert last <= x1 < 3 * last + 10
    # the app stays usable: edit the design, then train again
    window.add_layer_after_selection("ReLU")
    window.undo_stack.undo()
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.train_button)
    assert blocker.args[0]["status"] == "completed"
    assert [r["status"] for r in window.project.runs] == ["stopped", "completed"]
    assert window.plots.overlay_box.count() == 2  # the stopped run can be overlaid


def test_pause_holds_the_run_and_resume_goes_on(qtbot, iris_window):
    panel = iris_window.training_panel
    panel.epochs.setValue(1000)
    seen = []
    panel.eventsArrived.connect(
        lambda evs: seen.extend(e for e in evs if e.kind in ("step", "paused", "resumed"))
    )
    click(qtbot, panel.train_button)
    wait_for_steps(qtbot, panel, 1)
    click(qtbot, panel.pause_button)
    assert panel.pause_button.isChecked() and panel.pause_button.text() == "Resume"
    qtbot.waitUntil(lambda: any(e.kind == "paused" for e in seen), timeout=60_000)
    paused = next(e for e in seen if e.kind == "paused")
    assert "Paused at" in panel.status.text() and "paused" in panel.progress.format()
    # nothing ran after the worker reported its pause: its step is the last one received
    assert seen[-1].kind == "paused" and paused.step == max(e.step for e in seen if e.kind == "step")
    click(qtbot, panel.pause_button)
    assert panel.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: any(e.kind == "step" and e.step > paused.step + 2 for e in seen), timeout=60_000)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        click(qtbot, panel.stop_button)
    kinds = [e.kind for e in seen]
    after = kinds.index("resumed")
    assert kinds.index("paused") < after and seen[after + 1].step == paused.step + 1
    numbers = [e.step for e in seen if e.kind == "step"]
    assert numbers == list(range(1, len(numbers) + 1))


def test_stop_while_paused_ends_the_run(qtbot, iris_window):
    panel = iris_window.training_panel
    panel.epochs.setValue(1000)
    click(qtbot, panel.train_button)
    wait_for_steps(qtbot, panel, 1)
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: "Paused at" in panel.status.text(), timeout=60_000)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.stop_button)
    assert blocker.args[0]["status"] == "stopped"


def test_a_diverging_run_ends_with_the_step_and_a_hint(qtbot, iris_window):
    window = iris_window
    panel = window.training_panel
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("sgd"))
    panel.lr.setValue(1e6)
    panel.epochs.setValue(50)
    assert window.project.training["lr"] == 1e6
    click(qtbot, panel.train_button)
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    text = panel.status.text()
    assert "step" in text and "lower learning rate" in text, text
    assert window.statusBar().currentMessage() == text
    assert window.project.runs[-1]["status"] == "failed" and "failed" in panel.progress.format()
    # still usable: a sane learning rate trains
    panel.lr.setValue(0.01)
    panel.optimizer.setCurrentIndex(panel.optimizer.findData("adam"))
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.train_button)
    assert blocker.args[0]["status"] == "completed"


def test_the_inspector_shows_the_graph_of_a_template(qtbot, make_window):
    window = make_window(project=load_template("digits_lenet"))
    window.act_inspect.trigger()
    assert window.central_tabs.currentWidget() is window.inspector
    qtbot.waitUntil(lambda: bool(window.inspector.items), timeout=30_000)
    items = window.inspector.items
    labels = {item.node.label for item in items.values()}
    assert {"ConvolutionBackward0", "ReluBackward0", "AddmmBackward0", "CrossEntropyLossBackward0"} <= labels
    assert {"conv1.weight", "conv1.bias", "head.weight"} <= labels
    keys = [item.kind_key for item in items.values()]
    assert keys.count("loss") == 1 and keys.count("input") == 1
    conv = next(i for i, item in items.items() if item.node.label == "ConvolutionBackward0")
    window.inspector.select(conv)
    assert "shape" in window.inspector.details.text() and "std" in window.inspector.details.text()


def test_the_inspector_draws_the_example_network(qtbot, iris_window):
    iris_window.inspect_graph()
    qtbot.waitUntil(lambda: bool(iris_window.inspector.items), timeout=30_000)
    labels = {item.node.label for item in iris_window.inspector.items.values()}
    assert {"AddmmBackward0", "ReluBackward0", "hidden1.weight", "input"} <= labels


def test_the_inspector_reads_the_trained_run_and_follows_changes(qtbot, iris_window):
    window, inspector = iris_window, iris_window.inspector
    with qtbot.waitSignal(window.training_panel.runFinished, timeout=60_000) as blocker:
        window.act_train.trigger()
    run = blocker.args[0]
    assert inspector.chosen_run() is run  # the newest run is inspected by default
    window.act_inspect.trigger()
    assert window.central_tabs.currentWidget() is inspector
    qtbot.waitUntil(lambda: inspector.inspection is not None, timeout=30_000)
    assert inspector.inspection.weights == str(run["id"])
    assert inspector.inspection.loss == pytest.approx(run["final"]["test_loss"], rel=1e-4)
    assert "evaluation mode" in inspector.summary.text()
    # a design the run's weights no longer fit: inspected again by itself, with fresh weights and a note
    first = inspector.inspection
    hidden = next(n for n in window.editor.design.nodes.values() if n.name == "hidden1")
    window.editor.set_param(hidden.id, "out_features", hidden.params["out_features"] + 3)
    qtbot.waitUntil(lambda: inspector.inspection is not first, timeout=30_000)
    assert inspector.inspection.weights == "fresh" and "do not fit" in inspector.summary.text()
    # back to the design the run trained: its weights again
    second = inspector.inspection
    window.undo_stack.undo()
    qtbot.waitUntil(lambda: inspector.inspection is not second, timeout=30_000)
    assert inspector.inspection.loss == pytest.approx(run["final"]["test_loss"], rel=1e-4)
    # fresh weights when chosen
    inspector.weights_box.setCurrentIndex(0)
    third = inspector.inspection
    window.act_inspect.trigger()
    qtbot.waitUntil(lambda: inspector.inspection is not third, timeout=30_000)
    assert inspector.inspection.weights == "fresh" and "training mode" in inspector.summary.text()


def test_the_inspector_follows_the_data(qtbot, iris_window):
    window, inspector = iris_window, iris_window.inspector
    window.act_inspect.trigger()
    qtbot.waitUntil(lambda: inspector.inspection is not None, timeout=30_000)
    first = inspector.inspection
    data = dict(window.project.data, preprocessing="none")
    window._data_changed(data, (4,), 3, "classification")
    qtbot.waitUntil(lambda: inspector.inspection is not first, timeout=30_000)
    # while the canvas is in view, a change waits until the inspector is shown again
    window.central_tabs.setCurrentWidget(window.view)
    second = inspector.inspection
    window.undo_stack.undo()
    assert window._inspect_timer.isActive()
    qtbot.waitUntil(lambda: not window._inspect_timer.isActive(), timeout=30_000)
    assert inspector.inspection is second and not window._inspection_job.busy
    window.central_tabs.setCurrentWidget(inspector)
    qtbot.waitUntil(lambda: inspector.inspection is not second, timeout=30_000)


def test_evaluation_shows_whole_class_names_raw_rows_and_a_legend_beside_the_lines(qtbot, iris_window):
    import copy

    from PySide6.QtGui import QFontMetrics

    window, view = iris_window, iris_window.evaluation
    window.training_panel.lr.setValue(1e-4)  # barely trained: examples to show
    with qtbot.waitSignal(window.training_panel.runFinished, timeout=60_000) as blocker:
        window.act_train.trigger()
    run = blocker.args[0]
    wrong = run["evaluation"]["misclassified"]
    assert wrong
    table = view.findChild(QTableWidget, "misclassifiedRows")
    assert table is not None and table.rowCount() == len(wrong)
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["true", "predicted", *run["evaluation"]["columns"]]
    assert [table.item(0, c).text() for c in range(2, table.columnCount())] == [
        str(v) for v in wrong[0]["raw"]
    ]
    # the gradient-flow legend is beside the plot, not over it
    assert view.flow.getPlotItem().legend is None
    assert all(name in view.flow_legend.text() for name in run["grad_norms"][-1])
    # class names too long for the columns: numbered columns, whole names on the rows
    long = copy.deepcopy(run)
    long["evaluation"]["classes"] = [f"a rather long class name {i}" for i in range(3)]
    view.show_run(long, (4,))
    view.setCurrentIndex(0)
    qtbot.waitUntil(lambda: view.confusion.getPlotItem().vb.width() > 10)
    left, bottom = view.confusion.getAxis("left"), view.confusion.getAxis("bottom")
    vb = view.confusion.getPlotItem().vb
    (x0, x1), _ = vb.viewRange()
    cell = vb.width() / (x1 - x0)
    metrics = QFontMetrics(view.font())
    view._fit_cell_texts()
    columns = [text for _, text in bottom._tickLevels[0]]
    rows = [text for _, text in left._tickLevels[0]]
    assert all(metrics.horizontalAdvance(t) <= cell for t in columns)
    assert all(any(name in r for r in rows) for name in long["evaluation"]["classes"])
    assert left.width() >= max(metrics.horizontalAdvance(r) for r in rows)


def test_a_design_problem_message_goes_once_the_design_is_fixed(qtbot, iris_window):
    window, panel = iris_window, iris_window.training_panel
    output = next(n for n in window.editor.design.nodes.values() if n.type == "Output")
    edge = next(e for e in window.editor.design.edges if e.dst == output.id)
    window.editor.delete((), [edge])
    window.act_train.trigger()
    assert panel.status.text().startswith("Fix the design first") and not panel.running
    assert window.statusBar().currentMessage().startswith("Fix the design first")
    window.undo_stack.undo()
    assert not panel.status.text().startswith("Fix the design first")
    assert not window.statusBar().currentMessage().startswith("Fix the design first")
    # the inspector's message goes too
    window.editor.delete((), [edge])
    window.act_inspect.trigger()
    assert window.statusBar().currentMessage().startswith("Fix the design first")
    window.central_tabs.setCurrentWidget(window.view)
    window.undo_stack.undo()
    assert window.statusBar().currentMessage() == ""


def test_another_project_clears_the_last_runs_status_and_progress(qtbot, iris_window):
    window, panel = iris_window, iris_window.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=60_000):
        window.act_train.trigger()
    assert "completed" in panel.progress.format()
    window._project_changes = False
    window.set_project(load_template("digits_lenet"))
    assert panel.progress.format() == "ready" and panel.progress.value() == 0
    assert panel.status.text() == "Press Train to start."


def _run_export(qtbot, window, tmp_path, torch_target: bool):
    """Open the export dialog from the window, save the script from it, and close it."""
    from studio.ui.export_dialog import ExportDialog

    written = []

    def act():
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ExportDialog)
        if torch_target:
            dialog.torch_target.setChecked(True)
        written.append(dialog.write_script(tmp_path / ("net_torch.py" if torch_target else "net.py")))
        dialog.accept()

    QTimer.singleShot(0, act)
    window.act_export.trigger()
    assert written, "the export dialog did not open"
    return written[0]


def _run_script(path, tmp_path):
    out = subprocess.run(
        [sys.executable, str(path), "--epochs", "1", "--weights", str(tmp_path / "w.safetensors")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "w.safetensors").stat().st_size > 0
    return out


def test_an_exported_studio_script_runs(qtbot, iris_window, tmp_path):
    from studio.design import export_python

    script = _run_export(qtbot, iris_window, tmp_path, torch_target=False)
    assert script.read_text() == export_python(iris_window.project, target="studio")
    _run_script(script, tmp_path)


def test_an_exported_torch_script_runs(qtbot, iris_window, tmp_path, torch):
    script = _run_export(qtbot, iris_window, tmp_path, torch_target=True)
    assert "import torch" in script.read_text()
    _run_script(script, tmp_path)


def test_choosing_digits_makes_the_design_follow_in_one_undo_step(qtbot, iris_window):
    window = iris_window
    design = window.project.design
    before = window.undo_stack.count()
    shape_of = lambda: next(n for n in design.nodes.values() if n.type == "Input").params["shape"]  # noqa: E731
    assert tuple(shape_of()) == (4,)
    head = next(e.src for e in design.edges if design.nodes[e.dst].type == "Output")
    with qtbot.waitSignal(window.data_panel.dataChanged, timeout=30_000):
        click(qtbot, window.data_panel.sample_buttons["digits"])
    assert window.project.data["sample"] == "digits"
    assert tuple(shape_of()) == (1, 8, 8) and design.nodes[head].params["out_features"] == 10
    assert window.undo_stack.count() == before + 1 and window.isWindowModified()
    assert window.undo_stack.undoText() == "Use the digits data"
    window.undo_stack.undo()  # data and design go back together
    assert tuple(shape_of()) == (4,) and design.nodes[head].params["out_features"] == 3
    assert window.project.data["sample"] == "iris"
    qtbot.waitUntil(lambda: "Iris" in window.data_panel.source_label.text(), timeout=30_000)
    assert window.undo_stack.isClean()
    window.undo_stack.redo()
    assert window.project.data["sample"] == "digits" and tuple(shape_of()) == (1, 8, 8)


def test_edits_of_the_data_settings_merge_into_one_undo_step(qtbot, iris_window):
    window = iris_window
    before = window.undo_stack.count()
    panel = window.data_panel
    panel.seed.setValue(5)
    panel.seed.setValue(6)
    panel.train_frac.setValue(0.6)
    assert window.project.data["seed"] == 6 and window.project.data["split"]["train"] == 0.6
    assert window.undo_stack.count() == before + 1 and window.isWindowModified()
    window.undo_stack.undo()
    assert window.project.data.get("seed", 0) == 0 and panel.seed.value() == 0
    assert panel.train_frac.value() == 0.7


def test_an_image_folder_project_trains_in_the_window(qtbot, make_window, tmp_path):
    from studio.core.data.samples import digits_image_folder

    root = digits_image_folder(tmp_path / "digits", limit=200)
    project = load_template("digits_lenet")
    project.path = str(tmp_path / "digits.studio")
    window = make_window(project=project)
    with qtbot.waitSignal(window.data_panel.dataChanged, timeout=60_000):
        window.data_panel.use_folder(root)
    assert window.project.data["kind"] == "images"
    assert tuple(next(n for n in project.design.nodes.values() if n.type == "Input").params["shape"]) == (
        1,
        28,
        28,
    )
    panel = window.training_panel
    panel.epochs.setValue(1)
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as blocker:
        click(qtbot, panel.train_button)
    assert blocker.args[0]["status"] == "completed", panel.status.text()
    assert blocker.args[0]["evaluation"]["classes"] == [str(i) for i in range(10)]


def test_dropping_a_csv_on_the_window_makes_it_the_data(qtbot, iris_window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    path = tmp_path / "points.csv"
    rows = ["a,b,c,label"] + [f"{i},{i % 5},{i % 3},{'p' if i % 2 else 'q'}" for i in range(40)]
    path.write_text("\n".join(rows) + "\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window = iris_window
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        window.rect().center(), copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(window.rect().center()), copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, drop)
    qtbot.waitUntil(lambda: window.project.data.get("kind") == "csv", timeout=30_000)
    assert window.project.data["target"] == "label" and window.data_dock.isVisible()
    design = window.project.design
    assert tuple(next(n for n in design.nodes.values() if n.type == "Input").params["shape"]) == (3,)
    head = next(e.src for e in design.edges if design.nodes[e.dst].type == "Output")
    assert design.nodes[head].params["out_features"] == 2
