"""Sample data: iris and digits come from the engine's loader; sequences and tokens are generated here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from studio.core.data.samples import sample_path
from studio.design.samples import SAMPLE_INFO, load_sample


def test_iris_is_the_raw_table_with_species_numbered_in_sorted_order():
    x, y = load_sample("iris")
    frame = pd.read_csv(sample_path("iris"))
    classes = sorted(frame["species"].unique())
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x, frame.drop(columns=["species"]).to_numpy(np.float32))
    np.testing.assert_array_equal(y, frame["species"].map({c: i for i, c in enumerate(classes)}).to_numpy())


def test_digits_are_unit_range_images_with_their_labels():
    x, y = load_sample("digits")
    with np.load(sample_path("digits")) as d:
        np.testing.assert_array_equal(x, d["images"][:, None].astype(np.float32) / 16.0)
        np.testing.assert_array_equal(y, d["labels"])
    assert x.dtype == np.float32 and y.dtype == np.int64


@pytest.mark.parametrize("name", list(SAMPLE_INFO))
def test_every_sample_matches_its_description(name):
    x, y = load_sample(name)
    info = SAMPLE_INFO[name]
    assert x.shape[1:] == info["input_shape"] and str(x.dtype) == info["dtype"]
    assert len(x) == len(y) and set(np.unique(y)) == set(range(info["num_classes"]))


def test_an_unknown_sample_is_named():
    with pytest.raises(ValueError, match="'mnist'"):
        load_sample("mnist")
