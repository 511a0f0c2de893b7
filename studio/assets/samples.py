"""The sample data sets, described once: the files shipped here (Iris, 8x8 digits) and the ones Studio
generates (sequences, tokens). The engine's loader (`studio.core.data.samples`) and the design's
(`studio.design.samples`) both read this table, and find the files through `sample_path`."""

from __future__ import annotations

from pathlib import Path

from . import DATA

SAMPLES = {
    "iris": {
        "title": "Iris flowers (150 rows, 4 measurements, 3 species)",
        "description": "150 flowers, 4 measurements each, 3 species (Fisher, 1936).",
        "file": "iris.csv",
        "kind": "tabular",
        "task": "classification",
        "target": "species",
        "input_shape": (4,),
        "dtype": "float32",
        "num_classes": 3,
        "class_names": ("setosa", "versicolor", "virginica"),
    },
    "digits": {
        "title": "Handwritten digits (1,797 grey 8x8 images, 10 classes)",
        "description": "1,797 grey 8x8 images of the digits 0 to 9 (Alpaydin and Kaynak).",
        "file": "digits_8x8.npz",
        "kind": "images",
        "task": "classification",
        "input_shape": (1, 8, 8),
        "dtype": "float32",
        "num_classes": 10,
        "class_names": tuple(str(i) for i in range(10)),
    },
    "sequences": {
        "title": "Noisy waves (1,200 sequences of 24 steps): 1, 2 or 4 cycles?",
        "description": "Generated: noisy sine waves of 1, 2 or 4 cycles per window.",
        "file": None,
        "kind": "generated",
        "task": "classification",
        "input_shape": (24, 1),
        "dtype": "float32",
        "num_classes": 3,
        "class_names": ("0", "1", "2"),
    },
    "tokens": {
        "title": "Token sequences (1,200 of 16 ids from 24): mostly low ids or not?",
        "description": "Generated: token ids drawn with a per-sequence bias toward the lower half.",
        "file": None,
        "kind": "generated",
        "task": "classification",
        "input_shape": (16,),
        "dtype": "int64",
        "num_classes": 2,
        "class_names": ("0", "1"),
        "vocab": 24,
    },
}


def sample_path(name) -> Path:
    """The file of a shipped sample data set."""
    if name not in SAMPLES or SAMPLES[name]["file"] is None:
        shipped = ", ".join(k for k, v in SAMPLES.items() if v["file"])
        raise ValueError(f"unknown sample data set {name!r}; the samples are: {shipped}")
    path = DATA / SAMPLES[name]["file"]
    if not path.exists():
        raise FileNotFoundError(f"sample data file missing: {path} (the assets folder is incomplete)")
    return path
