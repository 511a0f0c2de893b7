"""Local data for the programs, in place of downloads: the sample data sets shipped with Studio."""

import csv
from importlib import resources

import numpy as np


def digits():
    """(images (n, 8, 8) float32 in [0, 16], labels (n,) int64): the 8x8 handwritten digits."""
    with resources.as_file(resources.files("studio.assets") / "data" / "digits_8x8.npz") as path:
        data = np.load(path)
        return data["images"].astype(np.float32), data["labels"].astype(np.int64)


def iris():
    """(features (150, 4) float32, labels (150,) int64)."""
    with (resources.files("studio.assets") / "data" / "iris.csv").open() as f:
        rows = list(csv.reader(f))[1:]
    names = sorted({r[4] for r in rows})
    x = np.array([[float(v) for v in r[:4]] for r in rows], dtype=np.float32)
    y = np.array([names.index(r[4]) for r in rows], dtype=np.int64)
    return x, y
