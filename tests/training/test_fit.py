"""The training run on its own, without a window: events, stopping, divergence, runs kept in the project."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.design import load_template
from studio.training import Event, fit
from studio.training.data import prepare_data, split_indices


@pytest.fixture
def iris(tmp_path):
    project = load_template("iris_mlp")
    project.path = tmp_path / "iris.studio"
    project.training.update({"epochs": 3, "batch_size": 16, "lr": 0.05, "seed": 1})
    return project


def test_split_is_disjoint_and_complete():
    idx = split_indices(100, {"train": 0.7, "val": 0.15, "test": 0.15}, seed=3)
    allidx = sorted(list(idx["train"]) + list(idx["val"]) + list(idx["test"]))
    assert allidx == list(range(100))
    assert len(idx["train"]) == 70 and len(idx["val"]) == 15


def test_iris_data_is_standardised_on_the_training_split(iris):
    data = prepare_data(iris)
    x, _ = data.splits["train"]
    assert data.task == "classification" and data.num_classes == 3
    assert abs(float(x.mean())) < 1e-5
    assert data.input_shape == (4,)


def test_fit_reports_events_and_keeps_the_run(iris):
    events = list(fit(iris))
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert kinds.count("epoch") == 3
    steps = [e for e in events if e.kind == "step"]
    assert steps and all(math.isfinite(e.loss) for e in steps)
    assert [e.step for e in steps] == list(range(1, len(steps) + 1))
    end = events[-1]
    assert end.status == "completed"
    run = iris.runs[-1]
    assert run is end.run
    assert run["epochs_completed"] == 3
    assert len(run["curves"]["val_loss"]) == 3
    weights = iris.path.parent / run["weights"]
    assert weights.exists()
    assert "test_accuracy" in run["final"]


def test_fit_learns_iris(iris):
    iris.training.update({"epochs": 30, "lr": 0.02})
    events = list(fit(iris))
    assert events[-1].metrics["test_accuracy"] >= 0.9


def test_stop_ends_the_run_between_steps(iris):
    seen = []

    def stop():
        return len(seen) >= 3

    for ev in fit(iris, stop=stop):
        seen.append(ev)
    assert seen[-1].kind == "end" and seen[-1].status == "stopped"
    assert sum(1 for e in seen if e.kind == "step") <= 3


def test_nan_loss_ends_with_a_hint(iris):
    iris.training.update({"lr": 1e12, "optimizer": "sgd", "epochs": 5})
    events = list(fit(iris))
    last = events[-1]
    assert last.kind == "error"
    assert "step" in last.message and "learning rate" in last.message
    assert iris.runs[-1]["status"] == "failed"


def test_bad_settings_are_reported_not_raised(iris):
    iris.training["optimizer"] = "lbfgs-ish"
    events = list(fit(iris))
    assert [e.kind for e in events] == ["error"]
    assert "lbfgs-ish" in events[0].message


def test_event_round_trips_as_a_dict():
    ev = Event("step", epoch=1, step=2, loss=0.5)
    assert Event(**ev.to_dict()) == ev


def test_settings_and_choices_are_the_designs():
    import importlib

    from studio.core.data.tabular import MISSING_STRATEGIES
    from studio.design import catalogue, project
    from studio.design.training_spec import LOSS_CLASSES, TRAINING_SPEC

    fit_module = importlib.import_module("studio.training.fit")
    assert fit_module.TRAINING_SPEC is TRAINING_SPEC
    assert TRAINING_SPEC.defaults() == project.DEFAULT_TRAINING
    assert fit_module.LOSS_CLASSES is LOSS_CLASSES and set(LOSS_CLASSES) == set(catalogue.LOSSES)
    assert set(project.MISSING) - {"zero"} == set(MISSING_STRATEGIES)


@pytest.mark.parametrize("missing", ["most_frequent", "zero"])
def test_csv_missing_values_follow_the_data_setting(missing, tmp_path):
    from studio.design import Design, new_project
    from studio.training import prepare_data

    rows = [f"{'' if i == 4 else i % 3},{i},{i % 2}" for i in range(30)]
    (tmp_path / "gaps.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")
    d = Design()
    d.add_node("Input", {"shape": (2,)})
    data = {"kind": "csv", "path": "gaps.csv", "target": "label", "features": ["a", "b"], "missing": missing}
    data["preprocessing"] = "none"
    project = new_project(data=data, design=d)
    project.path = str(tmp_path / "p.studio")
    prepared = prepare_data(project)
    x = np.concatenate([prepared.splits[k][0] for k in ("train", "val", "test")])
    assert len(x) == 30 and not np.isnan(x).any()
    assert sorted(set(x[:, 0].tolist())) == [0.0, 1.0, 2.0]


def test_misclassified_examples_keep_the_rows_as_the_file_has_them(iris):
    import pandas as pd

    from studio import assets
    from studio.core.data.samples import SAMPLES
    from studio.design.project import project_from_dict
    from studio.design.samples import sample_feature_names

    iris.training.update({"epochs": 1, "lr": 1e-4})  # barely trained: plenty of mistakes
    list(fit(iris))
    ev = iris.runs[-1]["evaluation"]
    wrong = ev["misclassified"]
    assert wrong and ev["columns"] == sample_feature_names("iris") and len(ev["columns"]) == 4
    table = pd.read_csv(assets.DATA / SAMPLES["iris"]["file"])
    rows = {tuple(r) for r in table[ev["columns"]].itertuples(index=False)}
    for ex in wrong:
        assert tuple(ex["raw"]) in rows  # the measurements themselves, not standardised values
    # the summary survives saving and loading
    assert project_from_dict(iris.to_dict(), iris.path).runs[-1]["evaluation"] == ev


def test_misclassified_rows_of_a_csv_keep_their_text_cells(tmp_path):
    from studio.design import Design, new_project

    rows = [f"{'red' if i % 2 else 'blue'},{i * 0.5},{'yes' if (i * 7) % 3 else 'no'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("colour,size,label\n" + "\n".join(rows) + "\n")
    d = Design()
    inp = d.add_node("Input", {"shape": (3,)}).id
    head = d.add_node("Linear", {"out_features": 2}).id
    out = d.add_node("Output").id
    d.connect(inp, head)
    d.connect(head, out)
    data = {"kind": "csv", "path": "t.csv", "target": "label", "features": ["colour", "size"]}
    project = new_project(data=data, design=d)
    project.path = str(tmp_path / "p.studio")
    project.training.update({"epochs": 1, "lr": 1e-5})
    events = list(fit(project))
    ev = project.runs[-1]["evaluation"]
    assert events[-1].status == "completed", events[-1].message
    assert ev["columns"] == ["colour", "size"]
    for ex in ev["misclassified"]:
        assert ex["raw"][0] in ("red", "blue") and isinstance(ex["raw"][1], (int, float))


def test_device_auto_trains_where_there_is_no_gpu(tmp_path):
    from studio.design import load_template
    from studio.training import fit

    project = load_template("iris_mlp")
    project.training.update(device="auto", epochs=1)
    events = list(fit(project, weights_dir=tmp_path))
    assert events[-1].kind == "end", events[-1].message
    assert project.runs[-1]["settings"]["device"] == "auto"


@pytest.mark.parametrize("monitor, patience", [("val_loss", 1), ("val_metric", 2)])
def test_the_best_epoch_and_early_stopping_follow_the_monitor(tmp_path, monitor, patience):
    from studio.design import load_template
    from studio.training import fit

    project = load_template("iris_mlp")
    project.training.update(epochs=40, lr=0.5, optimizer="sgd")
    project.training["early_stopping"] = {"enabled": True, "patience": patience, "monitor": monitor}
    list(fit(project, weights_dir=tmp_path))
    run = project.runs[-1]
    curve = run["curves"]["val_loss" if monitor == "val_loss" else "val_metric"]
    best = (min if monitor == "val_loss" else max)(curve)
    assert run["best"]["epoch"] == curve.index(best) + 1
    if run["status"] == "early_stopped":
        assert run["epochs_completed"] - run["best"]["epoch"] == patience
