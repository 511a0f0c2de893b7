"""What a run keeps of its test predictions (curves, calibration, top-k, errors) and of its parameters
(weights' and gradients' histograms): the figures are scikit-learn's on the kept predictions, the
records are bounded, and runs kept before these fields existed still load."""

from __future__ import annotations

import numpy as np
import pytest

from studio.design import Design, load_template, new_project
from studio.design.project import project_from_dict
from studio.design.run_summary import run_problems
from studio.training import fit
from studio.training.evaluation import CURVE_POINTS, classification_curves, thin
from studio.training.histograms import BINS, HistogramRecorder, histogram

sk = pytest.importorskip("sklearn.metrics")
calibration = pytest.importorskip("sklearn.calibration")


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    project = load_template("iris_mlp")
    project.path = tmp_path_factory.mktemp("iris") / "iris.studio"
    project.training.update({"epochs": 3, "lr": 0.01, "seed": 2})
    events = list(fit(project))
    assert events[-1].kind == "end", events[-1].message
    return project.runs[-1]


def _csv_project(tmp_path, rows, header, target, out_features, task="classification"):
    (tmp_path / "t.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    d = Design()
    width = header.count(",")
    ids = [
        d.add_node("Input", {"shape": (width,)}).id,
        d.add_node("Linear", {"out_features": 8}).id,
        d.add_node("ReLU").id,
        d.add_node("Linear", {"out_features": out_features}).id,
        d.add_node("Output", {"task": task, "loss": "mse" if task == "regression" else "cross_entropy"}).id,
    ]
    for a, b in zip(ids, ids[1:]):
        d.connect(a, b)
    project = new_project(data={"kind": "csv", "path": "t.csv", "target": target, "task": task}, design=d)
    project.path = str(tmp_path / "p.studio")
    project.training.update({"epochs": 3, "lr": 0.01})
    events = list(fit(project))
    assert events[-1].kind == "end", events[-1].message
    return project.runs[-1]


def test_kept_curves_and_scores_are_scikit_learns_on_the_kept_predictions(iris_run):
    ev = iris_run["evaluation"]
    scores, targets = np.array(ev["scores"]), np.array(ev["targets"])
    assert scores.shape == (ev["test_size"], 3) and len(targets) == ev["test_size"]  # all kept: small
    assert [c["class"] for c in ev["roc"]] == [0, 1, 2] and [c["name"] for c in ev["pr"]] == ev["classes"]
    for roc, pr in zip(ev["roc"], ev["pr"]):
        c, positive = roc["class"], (targets == roc["class"]).astype(int)
        fpr, tpr, _ = sk.roc_curve(positive, scores[:, c])
        assert len(fpr) <= CURVE_POINTS
        np.testing.assert_allclose(roc["fpr"], fpr, rtol=1e-6)
        np.testing.assert_allclose(roc["tpr"], tpr, rtol=1e-6)
        assert roc["auc"] == pytest.approx(sk.roc_auc_score(positive, scores[:, c]), rel=1e-6)
        precision, recall, _ = sk.precision_recall_curve(positive, scores[:, c])
        np.testing.assert_allclose(pr["precision"], precision, rtol=1e-6)
        np.testing.assert_allclose(pr["recall"], recall, rtol=1e-6)
        assert pr["ap"] == pytest.approx(sk.average_precision_score(positive, scores[:, c]), rel=1e-6)
    assert ev["roc_auc_macro"] == pytest.approx(
        sk.roc_auc_score(targets, scores, multi_class="ovr", average="macro"), rel=1e-6
    )
    for k, acc in enumerate(ev["top_k"], 1):
        assert acc == pytest.approx(sk.top_k_accuracy_score(targets, scores, k=k, labels=[0, 1, 2]), rel=1e-6)
    assert len(ev["top_k"]) == 3 and ev["top_k"][-1] == 1.0
    hit = (scores.argmax(1) == targets).astype(int)
    fraction, mean_predicted = calibration.calibration_curve(hit, scores.max(1), n_bins=10)
    cal = ev["calibration"]
    assert cal["kind"] == "confidence" and sum(cal["count"]) == len(targets)
    np.testing.assert_allclose(cal["fraction_positive"], fraction, rtol=1e-6)
    np.testing.assert_allclose(cal["mean_predicted"], mean_predicted, rtol=1e-6)
    # the per-class table the view shows beside the curves: scikit-learn's on the kept predictions
    p, r, f, s = sk.precision_recall_fscore_support(
        targets, scores.argmax(1), labels=[0, 1, 2], zero_division=0
    )
    np.testing.assert_allclose(ev["precision"], p, atol=1e-6)
    np.testing.assert_allclose(ev["recall"], r, atol=1e-6)
    np.testing.assert_allclose(ev["f1"], f, atol=1e-6)
    assert ev["support"] == s.tolist()


def test_a_binary_classifier_has_one_curve_of_its_positive_class(tmp_path):
    rows = [f"{i * 0.1:.2f},{(i * 7) % 5},{'yes' if (i * 7) % 5 > 1 else 'no'}" for i in range(80)]
    run = _csv_project(tmp_path, rows, "a,b,label", "label", 2)
    ev = run["evaluation"]
    assert len(ev["roc"]) == len(ev["pr"]) == 1 and ev["roc"][0]["class"] == 1
    scores, targets = np.array(ev["scores"]), np.array(ev["targets"])
    assert ev["roc"][0]["auc"] == pytest.approx(sk.roc_auc_score(targets, scores[:, 1]), rel=1e-6)
    assert ev["calibration"]["kind"] == "positive" and len(ev["top_k"]) == 2
    assert run_problems(run) == []


def test_a_regressor_keeps_its_errors_as_scikit_learn_has_them(tmp_path):
    rows = [f"{i * 0.1:.2f},{(i * 7) % 5},{i * 0.2 + (i * 7) % 5:.3f}" for i in range(80)]
    run = _csv_project(tmp_path, rows, "a,b,y", "y", 1, task="regression")
    ev = run["evaluation"]
    assert ev["task"] == "regression" and ev["test_size"] == len(ev["predicted"])
    actual, predicted = np.array(ev["actual"]), np.array(ev["predicted"])
    assert ev["mae"] == pytest.approx(sk.mean_absolute_error(actual, predicted), rel=1e-5)
    assert ev["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(actual, predicted)), rel=1e-5)
    assert ev["r2"] == pytest.approx(sk.r2_score(actual, predicted), rel=1e-5, abs=1e-6)


def test_histograms_are_recorded_per_epoch_and_tensor(iris_run):
    h = iris_run["histograms"]
    assert h["bins"] == BINS and h["epochs"] == [1, 2, 3]
    names = ["hidden1.weight", "hidden1.bias", "hidden2.weight", "hidden2.bias", "head.weight", "head.bias"]
    assert list(h["tensors"]) == names
    for entry in h["tensors"].values():
        size = int(np.prod(entry["shape"]))
        for kind in ("weight", "grad"):
            assert len(entry[kind]) == 3
            for one in entry[kind]:
                assert len(one["counts"]) == BINS and sum(one["counts"]) == size
                assert one["range"][0] < one["range"][1]
    assert run_problems(iris_run) == []


def test_a_histogram_has_its_bins_over_the_range_as_numpy_has_them():
    values = np.random.default_rng(0).normal(size=1000)
    h = histogram(values)
    counts, edges = np.histogram(values, bins=BINS)
    assert h["counts"] == counts.tolist()
    np.testing.assert_allclose(np.linspace(*h["range"], BINS + 1), edges, rtol=1e-6)
    assert histogram(np.zeros(5))["range"] == [-0.5, 0.5]  # a constant tensor, as numpy bins it
    assert sum(histogram([1.0, np.nan, np.inf, 2.0])["counts"]) == 2  # non-finite values left out


def test_a_long_run_keeps_a_bounded_evenly_spaced_record():
    core = pytest.importorskip("studio.core")
    model = core.nn.Sequential(core.nn.Linear(3, 4), core.nn.Linear(4, 2))
    record = {}
    recorder = HistogramRecorder(model, record)
    for epoch in range(1, 1001):
        recorder.epoch_end(epoch)
    epochs = record["epochs"]
    assert recorder.limit // 2 <= len(epochs) <= recorder.limit == 100
    assert epochs[0] == 1 and len(set(np.diff(epochs))) == 1  # evenly spaced from the first epoch
    for entry in record["tensors"].values():
        assert len(entry["weight"]) == len(entry["grad"]) == len(epochs)
        assert all(g is None for g in entry["grad"])  # no step was taken: no gradients


def test_curves_are_thinned_to_a_bounded_number_of_points_keeping_their_ends():
    xs = np.linspace(0, 1, 5000)
    a, b = thin(xs, xs**2)
    assert len(a) == len(b) == CURVE_POINTS and a[0] == 0.0 and a[-1] == 1.0
    probs = np.random.default_rng(1).dirichlet(np.ones(4), size=3000)
    ev = classification_curves(np.log(probs), np.random.default_rng(2).integers(0, 4, 3000), list("abcd"))
    assert all(len(c["fpr"]) <= CURVE_POINTS for c in ev["roc"])
    assert len(ev["scores"]) == 3000 and ev["test_size"] == 3000


def test_runs_kept_before_curves_and_histograms_still_load(iris_run):
    old = {k: v for k, v in iris_run.items() if k != "histograms"}
    old["evaluation"] = {
        k: v
        for k, v in iris_run["evaluation"].items()
        if k not in ("roc", "pr", "top_k", "scores", "targets", "calibration", "test_size", "roc_auc_macro")
    }
    assert run_problems(old) == []
    project = load_template("iris_mlp")
    project.runs = [old]
    assert project_from_dict(project.to_dict(), None).runs[0]["evaluation"] == old["evaluation"]


def test_a_damaged_record_is_refused_with_where_it_is_wrong(iris_run):
    run = dict(iris_run, evaluation=dict(iris_run["evaluation"], roc=[{"class": 7}]))
    assert run_problems(run)[0].startswith("runs[0].evaluation.roc[0]: expected a curve with a class index")
    run = dict(iris_run, evaluation=dict(iris_run["evaluation"], targets=[0]))
    assert run_problems(run)[0].startswith("runs[0].evaluation.targets")
    h = dict(iris_run["histograms"], epochs=[1, 2])
    assert "histograms.tensors['hidden1.weight'].weight" in run_problems(dict(iris_run, histograms=h))[0]
