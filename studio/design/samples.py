"""Sample data sets a project can name, as arrays: shipped (iris, digits) and generated (sequences, tokens);
their descriptions are the registry in studio.assets.samples."""

from __future__ import annotations

import numpy as np

from ..assets.samples import SAMPLES

SAMPLE_INFO = SAMPLES  # the one registry of sample data sets, by name


def sample_feature_names(name: str) -> list[str] | None:
    """The column names of a table sample's features, in order (None for images and generated data)."""
    if name != "iris":
        return None
    from studio.core.data import samples

    target = samples.SAMPLES["iris"]["target"]
    return [str(c) for c in samples.load_sample("iris").frame.columns if c != target]


def sample_class_names(name: str) -> list[str]:
    """The class names of a sample data set, in label order."""
    return list(SAMPLE_INFO[name]["class_names"])


def make_sequences(n=1200, length=24, seed=0):
    """Noisy sine waves of 1, 2 or 4 cycles per window with a random phase; the label is the frequency."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    t = np.arange(length) / length
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    cycles = np.array([1.0, 2.0, 4.0])[y]
    x = np.sin(2 * np.pi * cycles[:, None] * t[None, :] + phase) + 0.3 * rng.standard_normal((n, length))
    return x[:, :, None].astype(np.float32), y.astype(np.int64)


def make_tokens(n=1200, length=16, vocab=24, seed=0):
    """Token ids drawn with a per-sequence bias; the label says whether most ids are in the lower half."""
    rng = np.random.default_rng(seed)
    bias = rng.uniform(0.15, 0.85, size=(n, 1))
    low = rng.random((n, length)) < bias
    half = vocab // 2
    ids = np.where(low, rng.integers(0, half, size=(n, length)), rng.integers(half, vocab, size=(n, length)))
    y = (low.sum(1) > length // 2).astype(np.int64)
    return ids.astype(np.int64), y


def load_sample(name: str):
    """(features, labels) of a sample data set: float32 or int64 features, int64 class labels.

    Iris and digits come from the engine's loader (`studio.core.data.samples`), so the files are read in
    one place; iris features are the raw measurements, the species numbered in sorted order.
    """
    if name in ("iris", "digits"):
        from studio.core.data import samples

        ds = samples.load_sample(name)
        if name == "iris":
            target = samples.SAMPLES["iris"]["target"]
            x = ds.frame.drop(columns=[target]).to_numpy(np.float32)
            return x, ds.targets.numpy().astype(np.int64)
        images, labels = ds.tensors
        return images.numpy(), labels.numpy().astype(np.int64)
    if name == "sequences":
        return make_sequences()
    if name == "tokens":
        return make_tokens()
    raise ValueError(f"unknown sample data set {name!r}; samples: {', '.join(SAMPLE_INFO)}")
