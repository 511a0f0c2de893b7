"""Image-folder data made ready for training, augmentation, and a run on it; speed and time left."""

from __future__ import annotations

import numpy as np
import pytest

from studio.design import load_template
from studio.design.recipe import augment
from studio.training import fit, prepare_data


@pytest.fixture
def folder_project(tmp_path):
    from studio.core.data.samples import digits_image_folder

    digits_image_folder(tmp_path / "digits", limit=150)
    project = load_template("digits_lenet")
    project.path = str(tmp_path / "digits.studio")
    project.data.update({"kind": "images", "path": "digits", "image_size": [8, 8], "image_mode": "L"})
    project.training.update({"epochs": 1, "batch_size": 32})
    return project


def test_an_image_folder_is_loaded_split_and_labelled(folder_project):
    data = prepare_data(folder_project)
    x, y = data.splits["train"]
    assert data.input_shape == (1, 8, 8) and x.dtype == np.float32
    assert data.class_names == [str(i) for i in range(10)] and data.num_classes == 10
    assert sum(len(data.splits[k][0]) for k in ("train", "val", "test")) == 150
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_training_on_an_image_folder_completes(folder_project):
    folder_project.data["augmentation"] = {"hflip": True, "shift": True, "rotate": True}
    events = list(fit(folder_project))
    assert events[-1].kind == "end", events[-1].message
    run = folder_project.runs[-1]
    assert run["status"] == "completed" and len(run["evaluation"]["confusion"]) == 10


def test_augmentation_keeps_shape_and_dtype_and_changes_pixels():
    rng = np.random.default_rng(0)
    x = rng.random((6, 1, 8, 8)).astype(np.float32)
    out = augment(x, np.random.default_rng(1), hflip=True, shift=True, rotate=True)
    assert out.shape == x.shape and out.dtype == np.float32
    assert not np.array_equal(out, x)
    flipped = augment(x[:1], _AlwaysFlip(), hflip=True)
    np.testing.assert_array_equal(flipped, x[:1, :, :, ::-1])


class _AlwaysFlip:
    def random(self, n):
        return np.zeros(n)


def test_speed_and_time_left_are_reported_for_every_step(tmp_path):
    project = load_template("iris_mlp")
    project.path = str(tmp_path / "iris.studio")
    project.training.update({"epochs": 2, "batch_size": 16})
    steps = [e for e in fit(project) if e.kind == "step"]
    assert all(e.samples_per_sec > 0 and e.eta >= 0 for e in steps)
    assert steps[-1].eta == 0 and steps[0].eta > 0


def test_images_decode_once_with_progress_and_the_second_run_reads_the_cache(folder_project, monkeypatch):
    from studio.core.data import image_arrays

    events = list(fit(folder_project))
    loading = [e for e in events if e.kind == "loading"]
    assert loading and loading[-1].step == loading[-1].total_steps == 150
    assert events.index(loading[-1]) < [e.kind for e in events].index("start")
    cache = folder_project.folder / ".studio-cache"
    assert len(list(cache.glob("*.npy"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("the second run decoded images again")

    monkeypatch.setattr(image_arrays, "_decode_all", no_decoding)
    assert list(fit(folder_project))[-1].kind == "end"
    assert folder_project.runs[-1]["status"] == "completed"


def test_a_run_stopped_while_images_load_ends_as_stopped(folder_project):
    events = list(fit(folder_project, stop=lambda: True))
    assert events[-1].kind == "end" and events[-1].status == "stopped"
    assert "start" not in [e.kind for e in events]
