"""Each run keeps its own weights, next to its own project, and weights load only into their design."""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys

import pytest

from studio.design import load_template
from studio.design import runs as R
from studio.design.project import load_project, save_project
from studio.design.weights import DESIGN_KEY, WeightsError, fingerprint, load_weights, save_weights
from studio.training import fit


def _iris(path=None, epochs=1):
    project = load_template("iris_mlp")
    project.path = str(path) if path else None
    project.training.update({"epochs": epochs, "batch_size": 32})
    return project


def _train(project):
    events = list(fit(project))
    assert events[-1].kind == "end", events[-1].message
    return events[-1].run


def _files(project) -> list:
    return [R._absolute(r["weights"], project) for r in project.runs]


def test_every_run_writes_its_own_weights(tmp_path):
    project = _iris(tmp_path / "iris.studio")
    for seed in range(3):  # one seed trains the same weights: vary it to tell the files apart
        project.training["seed"] = seed
        _train(project)
    files = _files(project)
    assert len(set(files)) == 3 and all(f.is_file() for f in files)
    assert len({r["id"] for r in project.runs}) == 3
    assert all(f.parent == tmp_path / "iris-runs" for f in files)
    assert len({f.read_bytes() for f in files}) == 3  # three trainings, three different files


def test_two_copies_of_a_project_and_deleted_runs_never_share_a_file(tmp_path):
    """Two processes that read the same project, and a run deleted from the list, reuse no name."""
    path = tmp_path / "iris.studio"
    first = _iris(path)
    _train(first)
    save_project(first, path)
    a, b = load_project(path), load_project(path)
    _train(a)
    _train(b)
    b.runs.pop(0)  # a deleted run: its number is free again, its name is not
    _train(b)
    kept = _files(first)[0]
    before = kept.read_bytes()
    new = [_files(a)[-1], *_files(b)]  # b's first run is gone from its list; its file stays
    assert len({kept, *new}) == 4 and all(f.is_file() for f in new)
    assert kept.read_bytes() == before


def test_a_name_taken_by_another_run_is_never_overwritten(tmp_path, monkeypatch):
    ids = iter(["20250101-000000-aaaaaa", "20250101-000000-aaaaaa", "20250101-000000-bbbbbb"])
    fit_module = sys.modules["studio.training.fit"]  # the package's `fit` is the function
    monkeypatch.setattr(fit_module, "new_run_id", lambda: next(ids))
    project = _iris(tmp_path / "iris.studio")
    _train(project)
    first = _files(project)[0]
    before = first.read_bytes()
    _train(project)  # draws the taken id first, then another
    assert [r["id"] for r in project.runs] == ["20250101-000000-aaaaaa", "20250101-000000-bbbbbb"]
    assert first.read_bytes() == before and _files(project)[1].is_file()


def test_unsaved_projects_have_folders_of_their_own(tmp_path):
    one, two = _iris(), _iris()
    _train(one)
    _train(two)
    f1, f2 = _files(one)[0], _files(two)[0]
    assert f1.parent != f2.parent
    assert f1.parent.parent == f2.parent.parent == R.unsaved_root()


def test_save_takes_an_unsaved_projects_weights_along(tmp_path):
    project = _iris()
    run = _train(project)
    scratch = _files(project)[0].parent
    content = _files(project)[0].read_bytes()
    R.save_with_runs(project, tmp_path / "mine.studio")
    assert run["weights"] == f"mine-runs/run-{run['id']}.safetensors"
    saved = json.loads((tmp_path / "mine.studio").read_text())
    assert saved["runs"][0]["weights"] == run["weights"]
    assert (tmp_path / run["weights"]).read_bytes() == content
    assert not scratch.exists()  # the unsaved project's folder went with it
    reopened = load_project(tmp_path / "mine.studio")
    assert reopened.weights_path().read_bytes() == content
    assert load_weights(reopened.weights_path(), reopened.design)


def test_save_as_copies_the_weights_so_that_no_two_projects_share_them(tmp_path):
    old = tmp_path / "a" / "old.studio"
    old.parent.mkdir()
    project = _iris(old)
    _train(project)
    R.save_with_runs(project, old)
    old_weights = (old.parent / project.runs[0]["weights"]).read_bytes()
    R.save_with_runs(project, tmp_path / "b" / "new.studio")
    assert project.runs[0]["weights"].startswith("new-runs/")
    assert (tmp_path / "b" / project.runs[0]["weights"]).read_bytes() == old_weights
    assert json.loads(old.read_text())["runs"][0]["weights"].startswith("old-runs/")
    assert (old.parent / "old-runs").is_dir()  # the old project keeps its own


def test_a_project_copied_by_hand_gets_its_own_weights_when_saved(tmp_path):
    project = _iris(tmp_path / "a.studio")
    _train(project)
    R.save_with_runs(project, tmp_path / "a.studio")
    shutil.copy(tmp_path / "a.studio", tmp_path / "b.studio")
    copy = load_project(tmp_path / "b.studio")
    assert copy.runs[0]["weights"].startswith("a-runs/")
    _train(copy)
    R.save_with_runs(copy, tmp_path / "b.studio")
    assert all(r["weights"].startswith("b-runs/") for r in copy.runs)
    assert all((tmp_path / r["weights"]).is_file() for r in copy.runs)


def test_a_failed_save_changes_nothing(small_disk):
    project = _iris()
    _train(project)
    before = dict(project.runs[0])
    target = small_disk.path / "p.studio"
    save_project(_iris(), target)
    old = target.read_bytes()
    small_disk.fill()
    with pytest.raises(OSError, match="no space left"):
        R.save_with_runs(project, target)
    assert project.runs[0] == before and project.path is None and _files(project)[0].is_file()
    assert target.read_bytes() == old
    assert not (small_disk.path / "p-runs").exists() or not os.listdir(small_disk.path / "p-runs")


def test_concurrent_runs_of_one_project_are_all_recorded(tmp_path):
    """Two trainings that read the same file both end up in it (the second adds to the first's)."""
    path = tmp_path / "iris.studio"
    save_project(_iris(), path)
    a, b = load_project(path), load_project(path)
    _train(a)
    _train(b)
    R.save_new_runs(a, a.runs[-1:])
    R.save_new_runs(b, b.runs[-1:])
    R.save_new_runs(b, b.runs[-1:])  # saving the same run again records it once
    on_disk = load_project(path)
    assert [r["id"] for r in on_disk.runs] == [a.runs[-1]["id"], b.runs[-1]["id"]]
    assert all(f.is_file() for f in _files(on_disk))


# ---------------------------------------------------------------------------------------------------
# What weights belong to
# ---------------------------------------------------------------------------------------------------


def test_weights_carry_their_designs_fingerprint_and_name(tmp_path):
    from studio.core.serialization import load_with_metadata

    project = _iris(tmp_path / "iris.studio")
    _train(project)
    state, meta = load_with_metadata(_files(project)[0])
    assert meta[DESIGN_KEY] == project.name and meta["studio.fingerprint"] == fingerprint(state)


def test_weights_of_another_design_are_refused_naming_both(tmp_path):
    from studio.design.weights import design_state

    transformer = load_template("tokens_transformer")
    path = tmp_path / "run-x.safetensors"
    save_weights(design_state(transformer.design), path, transformer.name)  # as its runs write them
    iris = _iris(tmp_path / "iris.studio")
    with pytest.raises(WeightsError) as info:
        load_weights(path, iris.design, "Iris MLP")
    text = str(info.value)
    assert f"{transformer.name!r}" in text and "'Iris MLP'" in text and "run-x.safetensors" in text
    assert "missing from the file" in text or "which the design has not" in text


def test_old_weights_without_a_fingerprint_are_checked_by_their_tensors(tmp_path):
    from studio.core import save
    from studio.design.weights import design_state

    iris = _iris()
    state = design_state(iris.design)
    save(state, tmp_path / "old.safetensors")  # no fingerprint, as files written before it
    assert set(load_weights(tmp_path / "old.safetensors", iris.design)) == set(state)
    state[next(iter(state))] = state[next(iter(state))][:1]
    save(state, tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match="in the file but"):
        load_weights(tmp_path / "other.safetensors", iris.design)


def test_a_flipped_byte_in_run_weights_is_refused_naming_file_and_tensor(tmp_path):
    iris = _iris(tmp_path / "iris.studio")
    _train(iris)
    path = _files(iris)[0]
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    data[-3] ^= 0x10  # inside the last tensor's bytes
    path.write_bytes(bytes(data))
    header = json.loads(data[8 : 8 + n])
    last = max((v["data_offsets"][1], k) for k, v in header.items() if k != "__metadata__")[1]
    with pytest.raises(RuntimeError, match=rf"{path.name}.*{last!r} do not match their checksum"):
        load_weights(path, iris.design)


def test_save_weights_never_replaces_with_exclusive(tmp_path):
    import studio.core as sc

    state = {"w": sc.ones(2)}
    save_weights(state, tmp_path / "w.safetensors", "d", exclusive=True)
    with pytest.raises(FileExistsError):
        save_weights(state, tmp_path / "w.safetensors", "d", exclusive=True)
