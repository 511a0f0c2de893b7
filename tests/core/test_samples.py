"""Sample data: Iris as a tabular dataset, digits as tensors and as an image folder."""

from __future__ import annotations

import numpy as np
import pytest

import studio.core as sc
from studio.core.data import DataLoader, ImageFolder, digits_image_folder, list_samples, load_sample
from studio.core.data import transforms as T


def test_iris():
    ds = load_sample("iris")
    assert len(ds) == 150 and ds.num_features == 4 and ds.task == "classification"
    assert ds.classes == ["setosa", "versicolor", "virginica"]
    assert np.bincount(ds.targets.numpy()).tolist() == [50, 50, 50]
    x, y = ds[0]
    assert x.dtype == sc.float32 and y.item() == 0


def test_digits():
    ds = load_sample("digits")
    assert len(ds) == 1797
    x, y = ds[0]
    assert x.shape == (1, 8, 8) and x.dtype == sc.float32 and y.dtype == sc.int64
    images = ds.tensors[0].numpy()
    assert images.min() == 0.0 and images.max() == 1.0
    assert set(ds.tensors[1].tolist()) == set(range(10)) and ds.classes[3] == "3"
    xb, yb = next(iter(DataLoader(ds, batch_size=32, shuffle=True)))
    assert xb.shape == (32, 1, 8, 8)


def test_digits_image_folder(tmp_path):
    root = digits_image_folder(tmp_path / "digits", limit=40)
    ds = ImageFolder(root, mode="L", transform=T.ToTensor())
    assert ds.classes == [str(i) for i in range(10)] and len(ds) == 40
    tensors = load_sample("digits")
    x, y = ds[0]
    i = int(ds.samples[0][0].rsplit("/", 1)[-1].split(".")[0])
    assert y == tensors[i][1].item()
    np.testing.assert_allclose(x.numpy(), tensors[i][0].numpy(), atol=1 / 255 + 1e-6)
    digits_image_folder(tmp_path / "digits", limit=40)  # a second call keeps the files
    assert len(ImageFolder(root)) == 40


def test_list_and_unknown():
    assert {s["name"] for s in list_samples()} == {"iris", "digits"}
    with pytest.raises(ValueError, match="unknown sample data set 'mnist'; the samples are: iris, digits"):
        load_sample("mnist")
