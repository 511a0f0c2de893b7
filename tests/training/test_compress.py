"""Compressing a trained run: each variant measured honestly, and a kept variant is a run that loads."""

from __future__ import annotations

import numpy as np
import pytest

from studio.design import load_template
from studio.design.project import load_project
from studio.design.runs import save_with_runs
from studio.design.weights import load_weights
from studio.training import fit
from studio.training.compress import (
    SETTINGS,
    CompressError,
    check_options,
    compress,
    count_parameters,
    discard,
    keep_variant,
    load_variant,
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The digits CNN template trained for three epochs, saved with its run."""
    folder = tmp_path_factory.mktemp("lenet")
    project = load_template("digits_lenet")
    project.training.update({"epochs": 3, "seed": 0})
    events = list(fit(project))
    assert events[-1].kind == "end", events[-1].message
    save_with_runs(project, folder / "lenet.studio")
    return folder / "lenet.studio"


def _variants(project, **options):
    events = list(compress(project, options))
    assert events[-1].kind == "end", events[-1].message
    return events, events[-1].metrics["variants"]


def _accuracy(model, project):
    import studio.core as core
    from studio.training.data import prepare_data

    x, y = prepare_data(project).splits["test"]
    with core.no_grad():
        return float((model(core.tensor(x)).numpy().argmax(1) == y).mean())


def test_options_are_declared_once_and_checked():
    assert [s.name for s in SETTINGS] == ["prune", "scope", "finetune", "quantize", "onnx"]
    assert check_options({"prune": 0.25}) == {
        "prune": 0.25,
        "scope": "global",
        "finetune": 0,
        "quantize": "dynamic",
        "onnx": False,
    }
    for bad, word in [
        ({"prune": 1.5}, "prune must be a number from 0 to 0.95"),
        ({"finetune": 2.5}, "finetune"),
        ({"quantize": "int4"}, "quantize must be one of none, dynamic, static"),
        ({"sparsity": 0.5}, "unknown compress option 'sparsity'"),
        ({"prune": 0, "quantize": "none"}, "nothing to do"),
    ]:
        with pytest.raises(CompressError, match=word):
            check_options(bad)


def test_prune_finetune_and_quantize_make_measured_variants(trained):
    project = load_project(trained)
    base_run = project.runs[-1]
    events, rows = _variants(project, prune=0.5, finetune=1, quantize="dynamic")
    assert [r["key"] for r in rows] == ["float32", "pruned", "finetuned", "quantized"]
    assert events[0].kind == "start" and any(e.kind == "step" for e in events)
    base, pruned, tuned, quant = rows
    assert base["value"] == pytest.approx(base_run["final"]["test_accuracy"])
    assert base["nonzero"] == base["parameters"] > 5000
    # half of the Linear and Conv weights are zero; biases are not pruned
    weights = sum(
        v.numel()
        for k, v in load_weights(project.folder / base_run["weights"], project.design).items()
        if k.endswith("weight")
    )
    assert base["parameters"] - pruned["nonzero"] == pytest.approx(weights / 2, abs=2)
    assert tuned["nonzero"] == pruned["nonzero"]  # fine-tuning keeps pruned weights at zero
    assert quant["nonzero"] <= tuned["nonzero"] and quant["size"] < 0.6 * base["size"]
    assert abs(quant["value"] - tuned["value"]) <= 0.02  # int8 costs at most a couple of points here
    assert all(r["latency"] > 0 and r["metric"] == "accuracy" for r in rows)
    assert quant["name"] == "pruned 50% (global), fine-tuned 1 epoch, int8 dynamic"
    discard(rows)


@pytest.mark.parametrize("mode", ["dynamic", "static"])
def test_a_kept_variant_is_a_run_that_loads_and_is_saved(trained, tmp_path, mode):
    project = load_project(trained)
    source = project.runs[-1]
    _, rows = _variants(project, prune=0.3, scope="per_layer", quantize=mode)
    run = keep_variant(project, rows[-1], source)
    assert run["compression"]["quantize"] == mode and run["compression"]["source"] == source["id"]
    assert run["compression"]["scope"] == "per_layer" and run["final"]["test_accuracy"] == rows[-1]["value"]
    model = load_variant(project, run)
    assert _accuracy(model, project) == pytest.approx(rows[-1]["value"])
    float_model = load_variant(project, {**run, "quantized_weights": None})
    assert _accuracy(float_model, project) == pytest.approx(rows[-2]["value"])
    discard(rows)
    assert not any(__import__("os").path.exists(r["file"]) for r in rows)  # the kept files were copies
    save_with_runs(project, tmp_path / "copy.studio")
    again = load_project(tmp_path / "copy.studio")
    kept = again.runs[-1]
    assert (again.folder / kept["quantized_weights"]).is_file()
    assert _accuracy(load_variant(again, kept), again) == pytest.approx(rows[-1]["value"])


def test_per_layer_pruning_prunes_each_layer_alike(trained):
    project = load_project(trained)
    _, rows = _variants(project, prune=0.5, scope="per_layer", quantize="none")
    from studio.core import serialization

    state = serialization.load(rows[-1]["file"])
    for key, value in state.items():
        if key.endswith("weight"):
            assert np.count_nonzero(value.numpy()) == value.numel() - round(0.5 * value.numel())
    assert count_parameters(state) == (rows[-1]["parameters"], rows[-1]["nonzero"])
    discard(rows)


def test_stop_ends_with_the_variants_made_so_far(trained):
    project = load_project(trained)
    seen = []

    def stop():
        return len(seen) >= 1

    for ev in compress(project, {"prune": 0.5, "finetune": 3}, stop=stop):
        if ev.kind == "variant":
            seen.append(ev)
        last = ev
    assert last.kind == "end" and last.status == "stopped"
    assert len(last.metrics["variants"]) == 1
    discard(last.metrics["variants"])


def test_a_project_without_a_trained_run_is_refused_plainly():
    project = load_template("digits_lenet")
    events = list(compress(project, {"prune": 0.5}))
    assert [e.kind for e in events] == ["error"]
    assert "no trained run" in events[0].message and "compress a trained run" in events[0].message


def test_the_onnx_route_without_onnxruntime_is_refused_plainly(monkeypatch):
    from studio.training import deploy

    monkeypatch.setattr(deploy, "available", lambda: False)
    with pytest.raises(CompressError, match=r"onnxruntime is not installed; install the onnx extra"):
        check_options({"onnx": True})
    with pytest.raises(CompressError, match="onnx must be true or false"):
        check_options({"onnx": "yes"})


def test_static_int8_quantizes_a_residual_network_with_batch_norms(tmp_path):
    """Each Conv and Linear is quantized in its own wrapper, so the residual additions and batch norms
    between them stay float and the network runs; the kept variant loads with the same structure."""
    from studio.design.build import build
    from studio.design.weights import save_weights

    project = load_template("digits_resnet")
    project.path = str(tmp_path / "res.studio")
    weights = tmp_path / "init.safetensors"
    save_weights(build(project.design).state_dict(), weights, "res")
    project.runs.append({"id": "init", "weights": str(weights), "final": {}})
    _, rows = _variants(project, prune=0.0, quantize="static")
    assert [r["key"] for r in rows] == ["float32", "quantized"]
    assert rows[1]["size"] < 0.75 * rows[0]["size"]
    run = keep_variant(project, rows[1])
    assert _accuracy(load_variant(project, run), project) == pytest.approx(rows[1]["value"])
    discard(rows)
