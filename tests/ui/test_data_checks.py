"""The Data panel reads in the background and says what would make a run fail or mislead, as the command
line does: one-class targets, text in a column of numbers, and heads sized for other classes. The
training panel's status keeps "Paused at" when a pause arrives with an epoch's results."""

from __future__ import annotations

import math

import pytest

from studio.design import load_template
from studio.training import Event


@pytest.fixture
def panel(qtbot, tmp_path):
    from studio.ui.data_panel import DataPanel

    project = load_template("iris_mlp")
    project.path = str(tmp_path / "p.studio")
    panel = DataPanel()
    qtbot.addWidget(panel)
    panel.set_project(project)
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    return panel


def _csv(tmp_path, rows, header="a,b,label"):
    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_reading_happens_in_the_background_with_a_visible_state(qtbot, panel, tmp_path):
    path = _csv(tmp_path, [f"{i},{i % 3},{'x' if i % 2 else 'y'}" for i in range(300)])
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        panel.use_csv(path)
        assert panel.loading and not panel.busy.isHidden() and "Loading t.csv" in panel.source_label.text()
    assert not panel.loading and panel.busy.isHidden()
    data, shape, classes, _ = blocker.args
    # the features training uses, written out, and the classes from the whole file
    assert data["features"] == ["a", "b"] and shape == (2,) and classes == 2


def test_a_text_cell_in_a_number_column_is_named_and_the_column_can_be_left_out(qtbot, panel, tmp_path):
    rows = [f"{i},{i * 2},{i % 2}" for i in range(40)]
    rows[9] = "9,n/a?,1"
    changed = []
    panel.dataChanged.connect(lambda *args: changed.append(args))
    panel.use_csv(_csv(tmp_path, rows))
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    text = panel.problems.text()
    assert "column 'b'" in text and "line 11" in text and "'n/a?'" in text and not changed
    assert panel.table.columnCount() == 3  # the table is shown, so that the column can be unticked
    item = next(
        panel.features.item(i) for i in range(panel.features.count()) if panel.features.item(i).text() == "b"
    )
    from PySide6.QtCore import Qt

    with qtbot.waitSignal(panel.dataChanged, timeout=30_000) as blocker:
        item.setCheckState(Qt.CheckState.Unchecked)
    assert blocker.args[0]["features"] == ["a"] and blocker.args[1] == (1,)
    assert not panel.problems.isVisibleTo(panel)


def test_a_one_class_target_is_said_plainly(qtbot, panel, tmp_path):
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000):
        panel.use_csv(_csv(tmp_path, [f"{i},{i % 5},same" for i in range(20)]))
    assert "only one class ('same')" in panel.problems.text()


def test_a_head_that_cannot_follow_the_classes_is_shown_until_fixed(qtbot, make_window, tmp_path):
    project = load_template("iris_mlp")
    design = project.design
    output = next(n for n in design.nodes.values() if n.type == "Output")
    edge = next(e for e in design.edges if e.dst == output.id)
    design.disconnect(edge)
    drop = design.add_node("Dropout", name="last_drop")
    design.connect(edge.src, drop.id)
    design.connect(drop.id, output.id)
    window = make_window(project=project)
    panel = window.data_panel
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000):
        panel.use_csv(_csv(tmp_path, [f"{i},{i % 7},k{i % 5}" for i in range(50)]))
    assert "5 classes" in panel.problems.text() and "out_features=5" in panel.problems.text()
    head = next(n for n in design.nodes.values() if n.name == "head")
    window.editor.set_param(head.id, "out_features", 5)
    assert not panel.problems.isVisibleTo(panel)


def test_the_split_never_adds_up_to_more_than_one(qtbot, panel):
    panel.train_frac.setValue(0.9)
    d = panel.data["split"]
    assert math.isclose(d["train"] + d["val"] + d["test"], 1.0) and d["train"] == 0.9
    assert math.isclose(d["val"], 0.1) and d["test"] == 0.0


def test_a_pause_and_an_epoch_in_one_batch_leave_paused_shown(qtbot):
    from studio.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)

    class Process:
        finished = False

        def __init__(self, batches):
            self.batches = list(batches)

        def poll(self):
            return self.batches.pop(0) if self.batches else []

    total = {"total_epochs": 1000, "total_steps": 7000}
    batch = [
        Event("step", epoch=8, step=56, loss=0.2, **total),
        Event("epoch", epoch=8, step=56, metrics={"train_loss": 0.19, "val_loss": 0.27}, **total),
        Event("paused", epoch=8, step=56),
    ]
    panel.process = Process([batch, []])
    panel.poll()
    panel.poll()  # a later poll with nothing new changes nothing either
    assert panel.status.text().startswith("Paused at epoch 8, step 56"), panel.status.text()
    assert "paused" in panel.progress.format()


def test_a_background_job_is_never_destroyed_by_its_thread(qtbot):
    """Its widget and every reference of the GUI thread gone, the job's thread ends: the job object must
    still be destroyed in the GUI thread (destroyed in its thread, with its result queued in the GUI
    thread, it crashed the app now and then)."""
    import gc
    import threading
    import weakref

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QWidget

    from studio.ui import background

    gate, where = threading.Event(), []
    owner = QWidget()
    job = background.Background(owner)
    job.run(lambda: gate.wait(30), lambda result, error: None)
    thread = job._threads[-1]
    weakref.finalize(job, lambda: where.append(threading.current_thread().name))
    owner.deleteLater()
    del job
    gc.collect()
    gate.set()
    thread.join(30)
    QCoreApplication.processEvents()  # the queued result arrives (and is dropped)
    background._sweep()
    gc.collect()
    assert where == [threading.main_thread().name]
