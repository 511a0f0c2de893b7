"""Sample data shipped with Studio (Iris, 8x8 digits), loadable offline from the assets folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...assets.samples import SAMPLES as REGISTRY
from ...assets.samples import sample_path
from .. import atomic
from .. import backend as B
from ..tensor import _wrap
from .dataset import TensorDataset
from .tabular import CSVDataset

__all__ = ["SAMPLES", "digits_image_folder", "list_samples", "load_sample", "sample_path"]


# the shipped files of the one registry of sample data (studio.assets.samples)
SAMPLES = {name: info for name, info in REGISTRY.items() if info["file"]}


def list_samples() -> list[dict]:
    """The sample data sets: name, title, description, kind and task."""
    return [{"name": name, **info} for name, info in SAMPLES.items()]


def _digits_arrays():
    with np.load(sample_path("digits")) as f:
        return f["images"], f["labels"]


def load_sample(name, **kwargs):
    """A sample data set by name.

    'iris': a `CSVDataset` with the species as classification target (keyword arguments pass on to
    `CSVDataset`). 'digits': a `TensorDataset` of (1, 8, 8) float32 images in [0, 1] and int64 labels;
    `.classes` names the digits.
    """
    path = sample_path(name)
    if name == "iris":
        kwargs.setdefault("target", SAMPLES["iris"]["target"])
        return CSVDataset(path, **kwargs)
    if kwargs:
        raise TypeError(f"load_sample('digits') takes no options, got {', '.join(kwargs)}")
    images, labels = _digits_arrays()
    x = (images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    ds = TensorDataset(
        _wrap(B.host_array(np.ascontiguousarray(x))), _wrap(B.host_array(labels.astype(np.int64)))
    )
    ds.classes = [str(i) for i in range(10)]
    ds.class_to_idx = {c: i for i, c in enumerate(ds.classes)}
    return ds


def digits_image_folder(root, limit=None) -> Path:
    """Write the digits as PNG files in class folders `root/0 ... root/9` (for an ImageFolder example).

    Files already there are kept; `limit` writes only the first `limit` images. Returns `root`.
    """
    from PIL import Image

    root = Path(root)
    images, labels = _digits_arrays()
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    pixels = (images.astype(np.uint16) * 255 // 16).astype(np.uint8)
    for digit in range(10):
        (root / str(digit)).mkdir(parents=True, exist_ok=True)
    for i, (img, label) in enumerate(zip(pixels, labels)):
        path = root / str(int(label)) / f"{i:04d}.png"
        if not path.exists():
            with atomic.atomic_open(path, "wb") as f:
                Image.fromarray(img, mode="L").save(f, format="PNG")
    return root
