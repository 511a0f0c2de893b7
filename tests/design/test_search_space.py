"""The search space of sweeps: dimensions checked by the training spec and the catalogue, grid points,
applying a trial's values, and the saved sweeps' schema."""

from __future__ import annotations

import copy

import pytest

from studio.design.project import ProjectError, load_project, load_template, project_from_dict, save_project
from studio.design.search_space import SpaceError, applied, changes, check_space, parse
from studio.design.sweep_record import sweep_problems


@pytest.fixture
def iris():
    return load_template("iris_mlp")


def test_ranges_take_the_settings_own_scale_and_lists_are_checked(iris):
    lr = parse(iris, "lr=1e-4:1e-1")
    assert (lr.kind, lr.low, lr.high, lr.scale, lr.node) == ("float", 1e-4, 0.1, "log", None)
    width = parse(iris, "hidden1.out_features=8,16,32")
    assert width.values == (8, 16, 32) and width.node == "n2" and width.param == "out_features"
    assert parse(iris, "hidden1.out_features=4:64").scale == "linear"
    assert parse(iris, "optimizer=adam,sgd").values == ("adam", "sgd")
    momentum = parse(iris, "sgd.momentum=0.5:0.9")
    assert (momentum.param, momentum.scale) == ("sgd.momentum", "linear")
    iris.training["optimizer"] = "sgd"
    assert parse(iris, "momentum=0.5:0.9").param == "sgd.momentum"  # the chosen optimizer's option


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hidden9.out_features=1,2", "hidden9.out_features: not a training setting, nor NODE.PARAM"),
        ("hidden1.bogus=1,2", "hidden1.bogus: a Linear layer has no parameter 'bogus'"),
        ("hidden1.out_features=0,4", "hidden1.out_features: expected a positive integer, got '0'"),
        ("lr=abc:1", "lr: expected a number from 1e-10 to 1e+06, got 'abc'"),
        ("lr=0.1:0.01", "lr: the range's low end must be below its high end"),
        ("weight_decay=0:0.1:log", "weight_decay: a log scale needs a low end above 0"),
        ("lr=1e-3:1e-1:cubic", "lr: the scale must be log or linear, got 'cubic'"),
        ("seed=1,2", "seed: this training setting is not searched by sweeps"),
        ("optimizer=adam:sgd", "optimizer: a choice is swept over a list of values"),
        ("optimizer=adam,lbfgs", "optimizer: expected one of"),
        ("lr", "expected NAME=LOW:HIGH[:log|linear] or NAME=a,b,c"),
    ],
)
def test_a_bad_dimension_is_refused_with_its_name_and_reason(iris, text, words):
    with pytest.raises(SpaceError) as e:
        parse(iris, text)
    assert words in str(e.value)


def test_a_quantity_varied_twice_or_nothing_varied_is_refused(iris):
    with pytest.raises(SpaceError, match="varied twice"):
        check_space([parse(iris, "hidden1.out_features=8,16"), parse(iris, "n2.out_features=4,32")])
    with pytest.raises(SpaceError, match="nothing to sweep"):
        check_space([])


def test_grid_points_of_ranges(iris):
    assert parse(iris, "lr=1e-3:1e-1:log").grid() == [0.001, 0.01, 0.1]
    assert parse(iris, "hidden1.out_features=8:32").grid() == [8, 20, 32]
    assert parse(iris, "optimizer=adam,sgd").grid() == ["adam", "sgd"]


def test_applied_changes_a_copy_and_changes_lists_what_apply_would_do(iris):
    dims = [
        parse(iris, "lr=1e-3:1e-1"),
        parse(iris, "hidden1.out_features=8,32"),
        parse(iris, "optimizer=sgd"),
    ]
    values = {"lr": 0.05, "hidden1.out_features": 32, "optimizer": "sgd"}
    before = copy.deepcopy(iris.to_dict())
    trial = applied(iris, dims, values)
    assert iris.to_dict() == before
    assert trial.training["lr"] == 0.05 and trial.training["optimizer"] == "sgd"
    assert trial.design.nodes["n2"].params["out_features"] == 32
    training, params = changes(iris, dims, values)
    assert training["lr"] == 0.05 and params == [("n2", "out_features", 16, 32)]


def _record(**extra):
    trial = {
        "number": 0,
        "values": {"lr": 0.01, "hidden1.out_features": 8},
        "status": "completed",
        "objective": 0.3,
        "metrics": {"test_loss": 0.31, "test_accuracy": 0.9},
        "curves": {
            "epoch": [1, 2],
            "train_loss": [1.0, 0.5],
            "val_loss": [0.9, 0.3],
            "val_metric": [0.5, 0.9],
        },
        "seconds": 2.0,
        "message": "",
    }
    record = {
        "id": "20260101-000000-abcdef",
        "status": "completed",
        "method": "random",
        "objective": "val_loss",
        "direction": "minimize",
        "params": [
            {"name": "lr", "kind": "float", "low": 1e-3, "high": 0.1, "scale": "log"},
            {"name": "hidden1.out_features", "kind": "choice", "values": [8, 16]},
        ],
        "trials": [trial],
        "best": 0,
        "best_run": None,
    }
    record.update(extra)
    return record


def test_sweeps_round_trip_through_a_project_file_and_an_old_file_still_loads(iris, tmp_path):
    path = save_project(iris, tmp_path / "a.studio")
    assert "sweeps" not in path.read_text()  # a project without sweeps is written as before
    assert load_project(path).sweeps == []
    iris.sweeps.append(_record())
    save_project(iris, path)
    assert load_project(path).sweeps == [_record()]


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ({"method": "annealing"}, "sweeps[0].method: expected one of grid, random, tpe"),
        ({"trials": "many"}, "sweeps[0].trials: expected a list"),
        ({"params": [{"name": "lr", "low": "a", "high": 1, "scale": "log"}]}, "sweeps[0].params[0]"),
        ({"best": "two"}, "sweeps[0].best: expected a trial number"),
    ],
)
def test_a_damaged_sweep_is_refused_on_load_with_its_path(iris, damage, words):
    d = iris.to_dict()
    d["sweeps"] = [_record(**damage)]
    with pytest.raises(ProjectError) as e:
        project_from_dict(d)
    assert any(words in p for p in e.value.problems)


def test_a_damaged_trial_is_named():
    record = _record()
    record["trials"][0]["objective"] = "low"
    record["trials"][0]["curves"]["val_loss"] = ["x"]
    problems = sweep_problems(record)
    assert "sweeps[0].trials[0].objective: expected a number, got 'low'" in problems
    assert any(p.startswith("sweeps[0].trials[0].curves.val_loss") for p in problems)
    assert sweep_problems(_record()) == []
