"""Project files: round trip, atomic save, checked load with JSON paths, migrations, relative paths."""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.design.project import (
    FORMAT_VERSION,
    ProjectError,
    list_templates,
    load_project,
    load_template,
    new_project,
    project_from_dict,
    save_project,
)
from studio.design.starter import mlp_design


def make_project(tmp_path):
    csv = tmp_path / "data" / "table.csv"
    csv.parent.mkdir()
    csv.write_text("a,b,label\n1,2,x\n3,4,y\n")
    p = new_project(
        data={"kind": "csv", "path": str(csv), "target": "label", "features": ["a", "b"]},
        training={"epochs": 3, "lr": 0.05},
        design=mlp_design(2, 2),
        name="table",
    )
    p.runs.append({"id": 1, "status": "completed", "weights": str(tmp_path / "runs" / "run1.safetensors")})
    return p


def test_round_trip_and_relative_paths(tmp_path):
    p = make_project(tmp_path)
    path = save_project(p, tmp_path / "proj" / "model.studio")
    raw = json.loads(path.read_text())
    assert raw["format"] == "studio-project" and raw["version"] == FORMAT_VERSION
    assert raw["data"]["path"] == "../data/table.csv"
    assert raw["runs"][0]["weights"] == "../runs/run1.safetensors"
    q = load_project(path)
    assert q.design.to_dict() == p.design.to_dict()
    assert q.training["epochs"] == 3 and q.training["lr"] == 0.05 and q.name == "table"
    assert q.data_path().resolve() == (tmp_path / "data" / "table.csv").resolve()
    assert q.weights_path().resolve() == (tmp_path / "runs" / "run1.safetensors").resolve()
    # saving elsewhere keeps the paths pointing at the same files
    moved = save_project(q, tmp_path / "other" / "deeper" / "m.studio")
    assert json.loads(moved.read_text())["data"]["path"] == "../../data/table.csv"
    assert q.data_path().resolve() == (tmp_path / "data" / "table.csv").resolve()


def test_save_is_atomic(tmp_path, monkeypatch):
    p = make_project(tmp_path)
    path = save_project(p, tmp_path / "m.studio")
    before = path.read_bytes()
    p.training["epochs"] = 99

    def crash(*args):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_project(p, path)
    assert path.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []


def test_load_reports_each_problem_with_its_json_path(tmp_path):
    p = make_project(tmp_path)
    path = save_project(p, tmp_path / "m.studio")
    d = json.loads(path.read_text())
    d["design"]["nodes"][3]["params"]["out_features"] = -2
    d["design"]["nodes"][1]["type"] = "Conv9d"
    d["design"]["edges"].append(["n1", 0, "ghost", 0])
    d["training"]["batch_size"] = 0
    d["data"]["split"]["train"] = 3
    d["data"]["preprocessing"] = "minmax"  # a scaling training would not apply is refused, not ignored
    path.write_text(json.dumps(d))
    with pytest.raises(ProjectError) as err:
        load_project(path)
    problems = err.value.problems
    assert "design.nodes[3].params.out_features: expected a positive integer, got -2" in problems
    assert any(m.startswith("design.nodes[1].type: unknown layer type") for m in problems)
    assert any(m.startswith("design.edges[") and "ghost" in m for m in problems)
    assert any(m.startswith("training.batch_size:") for m in problems)
    assert any(m.startswith("data.split.train:") for m in problems)
    assert "data.preprocessing: expected one of standardize, none, got 'minmax'" in problems
    assert "6 problems" in str(err.value) or len(problems) >= 6


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"format": "other"}', "format"),
        ('{"format": "studio-project", "version": 99}', "newer"),
        ('{"format": "studio-project", "version": 1, "design": {"nodes": [], "edges": []}, "x": NaN}', "NaN"),
        ("[" * 100000, "not"),
    ],
)
def test_malformed_files_raise_project_error(tmp_path, text, fragment):
    path = tmp_path / "bad.studio"
    path.write_text(text)
    with pytest.raises(ProjectError, match=fragment):
        load_project(path)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        load_project(tmp_path / "nope.studio")
    (tmp_path / "b.studio").write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ProjectError):
        load_project(tmp_path / "b.studio")


def test_version_0_files_migrate():
    d = {
        "format": "studio-project",
        "version": 0,
        "model": {
            "nodes": [
                {"id": "a", "type": "Input", "name": "x_in", "params": {"shape": [3]}},
                {"id": "b", "type": "Linear", "name": "fc", "params": {"out_features": 2}},
            ],
            "edges": [{"from": ["a", 0], "to": ["b", 0]}],
        },
    }
    p = project_from_dict(d)
    assert p.design.infer().shapes["b"] == (None, 2)


def test_templates_are_listed_and_load():
    names = [t[0] for t in list_templates()]
    assert {"iris_mlp", "digits_lenet", "digits_resnet", "sequence_lstm", "tokens_transformer"} <= set(names)
    p = load_template("iris_mlp")
    assert p.path is None and p.runs == [] and p.data["sample"] == "iris"
    with pytest.raises(ProjectError, match="unknown template"):
        load_template("../secrets")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(derandomize=True, max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_project_files_raise_only_project_error(data):
    base = new_project(design=mlp_design(3, 2)).to_dict()
    d = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(1, 4))):
        # walk to a random place in the document and replace or delete what is there
        node = d
        path = []
        while isinstance(node, (dict, list)) and node and data.draw(st.booleans()):
            key = data.draw(
                st.sampled_from(list(node.keys()) if isinstance(node, dict) else range(len(node)))
            )
            path.append((node, key))
            node = node[key]
        if not path:
            d = data.draw(json_values)
            break
        parent, key = path[-1]
        if data.draw(st.booleans()):
            parent[key] = data.draw(json_values)
        elif isinstance(parent, dict):
            del parent[key]
    try:
        p = project_from_dict(d)
    except ProjectError as e:
        assert e.problems and all(isinstance(m, str) and m for m in e.problems)
    else:
        p.design.infer()  # a file that loads gives a design that infers without raising


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_project_error(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "f.studio"
    path.write_bytes(blob)
    with pytest.raises(ProjectError):
        load_project(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder", "/proc/self/status"])
def test_pipes_devices_and_folders_are_refused_at_once_naming_the_file(tmp_path, kind, finishes):
    if kind == "fifo":
        path = tmp_path / "pipe.studio"
        os.mkfifo(path)
    elif kind == "folder":
        path = tmp_path
    else:
        path = kind
    with pytest.raises(ProjectError) as info:
        finishes(load_project, path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and "$" not in message


@pytest.mark.parametrize(
    "change, fragment",
    [
        (
            lambda d: d["training"].update(seed=2**32 - 1),
            "training.seed: expected an integer from 0 to 2147483647",
        ),
        (lambda d: d["data"].update(seed=-1), "data.seed"),
        (lambda d: d["training"].update(batch_size=10**7), "training.batch_size"),
        (lambda d: d["data"].update(split={"val": 0.5, "test": 0.5}), "add up to more than 1"),
        (
            lambda d: d.update(runs=[{"curves": {"step": [1, 2], "loss": [0.5]}}]),
            "runs[0].curves: step and loss",
        ),
        (lambda d: d.update(runs=[{"curves": {"loss": "high"}}]), "runs[0].curves.loss"),
        (
            lambda d: d.update(runs=[{"evaluation": {"task": "classification", "confusion": [[1, 2]]}}]),
            "square",
        ),
        (
            lambda d: d.update(
                runs=[
                    {
                        "evaluation": {
                            "task": "classification",
                            "confusion": [[1]],
                            "classes": ["a"],
                            "precision": [1],
                            "recall": [1],
                            "f1": [1],
                            "support": [1],
                            "misclassified": [{"input": [[1, 2], [3]], "true": 0, "pred": 5}],
                        }
                    }
                ]
            ),
            "runs[0].evaluation.misclassified[0].pred",
        ),
        (
            lambda d: d.update(runs=[{"evaluation": {"task": "regression", "predicted": [1]}}]),
            "predicted and actual",
        ),
        (lambda d: d.update(runs=[{"grad_norms": [{"a": -1}]}]), "runs[0].grad_norms"),
    ],
)
def test_settings_out_of_the_window_s_range_and_malformed_runs_are_refused(change, fragment):
    d = new_project(design=mlp_design(3, 2)).to_dict()
    change(d)
    with pytest.raises(ProjectError) as info:
        project_from_dict(d)
    assert any(fragment in p for p in info.value.problems), info.value.problems


def test_runs_written_by_training_pass_the_checks(tmp_path):
    from studio.training import fit

    project = load_template("iris_mlp")
    project.training["epochs"] = 1
    project.path = str(tmp_path / "iris.studio")
    list(fit(project))
    save_project(project)
    assert load_project(project.path).runs[0]["evaluation"]["task"] == "classification"
