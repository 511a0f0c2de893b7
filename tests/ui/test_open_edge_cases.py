"""Whatever the project loader accepts, the window opens, shows unchanged and saves unchanged; data that
cannot be read (a pipe, a device, a folder) is said in the Data panel while the window stays usable."""

from __future__ import annotations

import copy
import faulthandler
import json
import os
import sys

import pytest

from studio.design.project import RANGES, load_project, load_template, save_project


@pytest.fixture(autouse=True)
def _no_hang():
    """A window that blocks on a file would hang the suite: end the process with a traceback instead."""
    faulthandler.dump_traceback_later(300, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def _base():
    return load_template("iris_mlp").to_dict()


def _at_limits(end: int) -> dict:
    d = _base()
    lo_hi = {k: v[end] for k, v in RANGES.items()}
    d["training"].update(
        lr=lo_hi["lr"],
        weight_decay=lo_hi["weight_decay"],
        momentum=lo_hi["momentum"],
        batch_size=lo_hi["batch_size"],
        epochs=lo_hi["epochs"],
        seed=lo_hi["seed"],
        early_stopping={"enabled": True, "patience": lo_hi["patience"]},
    )
    d["data"].update(seed=lo_hi["seed"], image_size=[lo_hi["image_size"]] * 2, image_mode="RGB")
    d["data"]["split"] = (
        {"train": 1.0, "val": 0.0, "test": 0.0} if end else {"train": 0.01, "val": 0.99, "test": 0.0}
    )
    return d


def _odd_settings() -> dict:
    d = _base()
    d["name"] = "odd \x1b[2J name 🚀 \u202e"
    d["training"].update(
        lr=0.00012345678901234, weight_decay=1e-9, device="auto", schedule="onecycle", loss="auto"
    )
    d["data"].update(
        missing="zero", preprocessing="none", split={"train": 0.333333, "val": 0.333333, "test": 0.333333}
    )
    return d


def _runs() -> dict:
    d = _base()
    d["runs"] = [
        {},
        {"id": "from another tool", "status": "imported", "curves": {}, "evaluation": None, "extra": [1, 2]},
        {
            "id": 3,
            "status": "completed",
            "metric": "accuracy",
            "curves": {
                "step": [1, 2, 3],
                "loss": [1.0, 0.5, 0.25],
                "epoch": [1],
                "train_loss": [0.5],
                "val_loss": [None],
                "val_metric": [None],
                "lr": [0.01],
            },
            "final": {"test_loss": None, "test_accuracy": 1.0},
            "grad_norms": [{}, {"hidden1": 0.0}],
            "evaluation": {
                "task": "classification",
                "classes": ["only"],
                "confusion": [[2]],
                "precision": [1.0],
                "recall": [1.0],
                "f1": [1.0],
                "support": [2],
                # an image for a design that takes table rows, and a row
                "misclassified": [
                    {"input": [[[0.0, 1.0], [1.0, 0.0]]], "true": 0, "pred": 0},
                    {"input": [1, 2, 3, 4], "true": 0, "pred": 0},
                ],
            },
        },
        {
            "id": 4,
            "status": "completed",
            "curves": {"step": [], "loss": []},
            "evaluation": {"task": "regression", "predicted": [], "actual": []},
        },
    ]
    return d


def _design_far_away() -> dict:
    d = _base()
    d["design"]["nodes"][0]["pos"] = [-1e9, 1e9]
    d["design"]["nodes"][1]["pos"] = [1e9, -1e9]
    return d


def _empty_design() -> dict:
    d = _base()
    d["design"] = {"nodes": [], "edges": []}
    return d


def _tokens() -> dict:
    d = load_template("tokens_transformer").to_dict()
    d["training"]["early_stopping"] = {"enabled": False, "patience": 1}
    return d


CASES = {
    "lowest settings": lambda: _at_limits(0),
    "highest settings": lambda: _at_limits(1),
    "odd settings": _odd_settings,
    "runs of every shape": _runs,
    "nodes far away": _design_far_away,
    "empty design": _empty_design,
    "tokens sample": _tokens,
}


def _open(make_window, qtbot, path):
    window = make_window(project=None, path=str(path))
    qtbot.waitUntil(lambda: not window.data_panel.loading, timeout=60_000)
    return window


def _without_places(d):
    d = copy.deepcopy(d)
    for node in d["design"]["nodes"]:
        node.pop("pos", None)
    return d


def _same_places_or_refolded(project, before):
    """Nodes stand where the file put them, unless the file had them in the automatic layout: the
    window may fold that into rows to suit its view (it is the same layout, made again)."""
    from studio.design.layout import is_automatic

    design = project.design
    saved = {n["id"]: tuple(n["pos"]) for n in before["design"]["nodes"]}
    now = {n.id: tuple(n.pos) for n in design.nodes.values()}
    if now != saved:
        assert is_automatic(saved, list(design.nodes), design.edges)
        assert is_automatic(now, list(design.nodes), design.edges)


@pytest.mark.parametrize("case", list(CASES))
def test_every_file_the_loader_accepts_opens_unchanged(make_window, qtbot, tmp_path, case):
    d = CASES[case]()
    path = tmp_path / "edge.studio"
    path.write_text(json.dumps(d))
    loaded = load_project(path)  # accepted
    before = copy.deepcopy(loaded.to_dict())
    window = _open(make_window, qtbot, path)
    assert make_window.dialogs.errors == []
    project = window.project
    assert _without_places(project.to_dict()) == _without_places(before)
    _same_places_or_refolded(project, before)
    shown = window.training_panel.settings()
    assert shown == {k: project.training[k] for k in shown}
    panel = window.data_panel
    split = project.data["split"]
    assert (panel.train_frac.value(), panel.val_frac.value(), panel.test_frac.value()) == (
        split["train"],
        split["val"],
        split["test"],
    )
    assert panel.seed.value() == project.data["seed"]
    window.plots.show_run(project.runs[-1]) if project.runs else None
    for run in project.runs:
        window.evaluation.show_run(run, window._input_shape())
    # saved by the window, the file loads again with the same content
    assert window.save_to(tmp_path / "again.studio")
    again = load_project(tmp_path / "again.studio").to_dict()
    assert again["training"] == before["training"] and again["data"] == before["data"]
    assert again["runs"] == before["runs"]
    assert _without_places(again)["design"] == _without_places(before)["design"]


def _with_data(tmp_path, kind, data_path):
    project = load_template("iris_mlp")
    project.data.update(kind=kind, path=str(data_path), target="label")
    save_project(project, tmp_path / "hostile.studio")
    return tmp_path / "hostile.studio"


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev are POSIX")
@pytest.mark.parametrize(
    "kind, where, fragment",
    [
        ("csv", "fifo", "named pipe"),
        ("csv", "/dev/zero", "character device"),
        ("csv", "folder", "a folder"),
        ("csv", "/proc/self/status", "/proc"),
        ("images", "/proc", "/proc"),
        ("images", "file", "not an image folder"),
        ("csv", "missing", "does not exist"),
    ],
)
def test_data_that_cannot_be_read_is_said_and_the_window_stays_usable(
    make_window, qtbot, tmp_path, kind, where, fragment
):
    if where == "fifo":
        data_path = tmp_path / "pipe.csv"
        os.mkfifo(data_path)
    elif where == "folder":
        data_path = tmp_path
    elif where == "file":
        data_path = tmp_path / "plain.txt"
        data_path.write_text("x")
    elif where == "missing":
        data_path = tmp_path / "gone.csv"
    else:
        data_path = where
    path = _with_data(tmp_path, kind, data_path)
    data = load_project(path).data
    window = _open(make_window, qtbot, path)
    panel = window.data_panel
    assert panel.problems.isVisibleTo(panel) and fragment in panel.problems.text(), panel.problems.text()
    assert window.project.data == data  # the project keeps its data setting
    # still usable: another data source can be chosen
    with qtbot.waitSignal(panel.dataChanged, timeout=30_000):
        panel.use_sample("digits")
    assert window.project.data["sample"] == "digits" and not panel.problems.isVisibleTo(panel)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs are POSIX")
def test_choosing_a_pipe_as_the_csv_changes_nothing(make_window, qtbot, tmp_path):
    window = make_window()
    panel = window.data_panel
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    before = dict(window.project.data)
    steps = window.undo_stack.count()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    panel.use_csv(fifo)
    assert panel.loading and "Loading" in panel.source_label.text()
    qtbot.waitUntil(lambda: not panel.loading, timeout=30_000)
    assert "named pipe" in panel.problems.text() and "unchanged" in panel.problems.text()
    assert window.project.data == before and window.undo_stack.count() == steps
    assert panel.data == before
