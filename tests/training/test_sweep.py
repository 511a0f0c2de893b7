"""Sweeps: the search's proposals (grid covers its grid, random and tpe repeat with their seed), real
trials in worker processes, the best trial kept as a run, Stop keeping finished trials."""

from __future__ import annotations

import pytest

from studio.design.project import load_project, load_template, save_project
from studio.design.runs import load_run_weights
from studio.design.search_space import parse
from studio.training.sweep import Search, Sweep, SweepError, objective_of


@pytest.fixture
def iris():
    return load_template("iris_mlp")


def _proposals(iris, method, seed, n=8):
    dims = [parse(iris, "lr=1e-4:1e-1:log"), parse(iris, "hidden1.out_features=8,16,32")]
    search = Search(dims, method, seed)
    out = []
    for _ in range(n):
        number, values = search.ask()
        out.append(values)
        search.tell(number, values["lr"] * values["hidden1.out_features"])  # any objective will do
    return out


def test_grid_covers_the_grid(iris):
    dims = [parse(iris, "lr=1e-3:1e-1:log"), parse(iris, "optimizer=adam,sgd")]
    search = Search(dims, "grid", 0)
    assert search.size == 6
    asked = {tuple(search.ask()[1].values()) for _ in range(6)}  # asked before any result, as in parallel
    assert asked == {(lr, opt) for lr in (0.001, 0.01, 0.1) for opt in ("adam", "sgd")}


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_random_and_tpe_repeat_with_their_seed_and_stay_in_the_space(iris, method):
    first = _proposals(iris, method, seed=3)
    assert first == _proposals(iris, method, seed=3)
    assert first != _proposals(iris, method, seed=4)
    assert all(1e-4 <= v["lr"] <= 1e-1 and v["hidden1.out_features"] in (8, 16, 32) for v in first)


def test_a_bad_method_objective_or_design_is_refused(iris):
    dims = [parse(iris, "lr=1e-3:1e-1")]
    with pytest.raises(SweepError, match="method: expected one of grid, random, tpe"):
        Sweep(iris, dims, method="annealing")
    with pytest.raises(SweepError, match="objective: expected one of"):
        Sweep(iris, dims, objective="speed")
    with pytest.raises(SweepError, match="trials: expected at least 1"):
        Sweep(iris, dims, trials=0)
    iris.design.remove_node("n4")
    with pytest.raises(SweepError, match="the design has"):
        Sweep(iris, dims)


def test_objective_of_a_run():
    run = {
        "curves": {"val_loss": [0.9, 0.4], "val_metric": [0.5, 0.8]},
        "final": {"test_loss": 0.3, "test_accuracy": 0.95},
        "metric": "accuracy",
    }
    assert objective_of(run, "val_loss") == 0.4 and objective_of(run, "val_metric") == 0.8
    assert objective_of(run, "test_loss") == 0.3 and objective_of(run, "test_metric") == 0.95
    assert objective_of({"curves": {"val_loss": [None]}}, "val_loss") is None


def test_a_sweep_trains_each_trial_keeps_the_best_as_a_run_and_round_trips(iris, tmp_path):
    save_project(iris, tmp_path / "iris.studio")
    dims = [parse(iris, "lr=1e-3:1e-1:log"), parse(iris, "hidden1.out_features=4,16")]
    sweep = Sweep(iris, dims, method="grid", trials=100, jobs=2, epochs=2)
    events = list(sweep.run())
    assert sweep.trials == 6  # the grid's size
    results = [e.trial for e in events if e.kind == "result"]
    assert sorted(r["number"] for r in results) == list(range(6))
    assert {(r["values"]["lr"], r["values"]["hidden1.out_features"]) for r in results} == {
        (lr, w) for lr in (0.001, 0.01, 0.1) for w in (4, 16)
    }
    assert all(r["status"] == "completed" and r["curves"]["epoch"] == [1, 2] for r in results)
    assert all(r["objective"] == r["curves"]["val_loss"][-1] for r in results)
    best = sweep.best()
    assert best["objective"] == min(r["objective"] for r in results)
    assert events[-1].kind == "end" and f"trial {best['number']}" in events[-1].message

    record = sweep.keep(iris)
    run = iris.runs[-1]
    assert record["best_run"] == run["id"] and run["sweep"]["values"] == best["values"]
    assert not sweep.folder.exists()  # the other trials' weights are gone
    save_project(iris, iris.path)
    loaded = load_project(iris.path)
    assert loaded.sweeps == [record]
    # the kept weights load into the design with the best trial's values
    loaded.design.set_param("n2", "out_features", best["values"]["hidden1.out_features"])
    load_run_weights(loaded.design.build(), loaded, loaded.runs[-1])


def test_stop_ends_running_trials_and_keeps_the_finished_ones(iris, tmp_path):
    save_project(iris, tmp_path / "iris.studio")
    dims = [parse(iris, "lr=1e-3:1e-1:log")]
    sweep = Sweep(iris, dims, method="random", trials=3, jobs=1, epochs=1)
    kinds = []
    for ev in sweep.run():
        kinds.append(ev.kind)
        if ev.kind == "result" and ev.trial["status"] == "completed":
            sweep.stop()  # at once: the next trial has started meanwhile, or not yet
            sweep.epochs = 10_000
    assert kinds[-1] == "end" and not sweep.running
    statuses = [r["status"] for r in sweep.results]
    assert statuses[0] == "completed" and set(statuses[1:]) <= {"stopped"}
    record = sweep.keep(iris)
    assert record["status"] == "stopped" and record["best"] == 0 and iris.runs[-1]["id"] == record["best_run"]


def test_a_long_trial_is_stopped_within_its_run(iris, tmp_path):
    save_project(iris, tmp_path / "iris.studio")
    sweep = Sweep(iris, [parse(iris, "lr=1e-3:1e-1:log")], trials=2, jobs=2, epochs=100_000)
    for ev in sweep.run():
        if ev.kind == "epoch" and ev.trial["epoch"] >= 1:
            sweep.stop()
    assert [r["status"] for r in sweep.results] == ["stopped", "stopped"]
    assert sweep.best() is None and sweep.keep(iris)["best_run"] is None


def test_a_trial_whose_values_do_not_fit_the_data_fails_alone(iris, tmp_path):
    save_project(iris, tmp_path / "iris.studio")
    sweep = Sweep(iris, [parse(iris, "head.out_features=2,3")], method="grid", jobs=2, epochs=1)
    results = {e.trial["values"]["head.out_features"]: e.trial for e in sweep.run() if e.kind == "result"}
    assert results[2]["status"] == "failed" and "3 classes" in results[2]["message"]
    assert results[3]["status"] == "completed" and sweep.best()["number"] == results[3]["number"]
