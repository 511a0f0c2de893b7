"""Samplers: the order in which a DataLoader visits dataset indices, and how they group into batches."""

from __future__ import annotations

import itertools

import numpy as np

from .. import backend as B
from ..tensor import Tensor

_DRAW_BLOCK = 4096  # indices drawn at a time by samplers with replacement


def _private_generator(generator):
    """The generator to draw from: the given one, or a fresh one seeded from the default generator.

    Seeding from the default generator makes `manual_seed` fix the order, as in PyTorch.
    """
    if generator is not None:
        return generator
    seed = int(B.default_generator.numpy.integers(0, 2**63 - 1))
    return B.Generator().manual_seed(seed)


class Sampler:
    """Base class: `iter(sampler)` yields indices (or lists of indices, for batch samplers)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Indices 0, 1, ..., len(data_source) - 1 in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in random order: a permutation, or draws with replacement.

    Args:
        data_source: the dataset.
        replacement: draw with replacement (default False).
        num_samples: how many indices to yield (default: len(data_source)).
        generator: the generator to draw from (default: seeded from the default generator).
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement}")
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n = len(self.data_source)
        rng = _private_generator(self.generator).numpy
        if self.replacement:
            # drawn a block at a time: num_samples may be far larger than memory (an "endless" loader)
            for start in range(0, self.num_samples, _DRAW_BLOCK):
                yield from rng.integers(0, n, min(_DRAW_BLOCK, self.num_samples - start)).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[: self.num_samples % n].tolist()

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order, without replacement."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = generator

    def __iter__(self):
        rng = _private_generator(self.generator).numpy
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices drawn with probability proportional to `weights` (e.g. to balance classes).

    Args:
        weights: one non-negative weight per sample (need not sum to one).
        num_samples: how many indices to draw.
        replacement: draw with replacement (default True); without it, no index repeats.
        generator: the generator to draw from.
    """

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = B.to_numpy(weights._data) if isinstance(weights, Tensor) else np.asarray(weights)
        w = w.astype(np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement from "
                f"{np.count_nonzero(w)} non-zero weights"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        rng = B.rng(self.generator, np)
        p = self.weights / self.weights.sum()
        if not self.replacement:  # at most one draw per non-zero weight: bounded by the data
            yield from rng.choice(p.size, self.num_samples, replace=False, p=p).tolist()
            return
        cdf = np.cumsum(p)
        cdf[-1] = 1.0
        for start in range(0, self.num_samples, _DRAW_BLOCK):
            u = rng.random(min(_DRAW_BLOCK, self.num_samples - start))
            yield from np.searchsorted(cdf, u, side="right").clip(max=p.size - 1).tolist()

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last shorter unless `drop_last`)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        it = iter(self.sampler)
        size = self.batch_size
        while True:
            batch = list(itertools.islice(it, size))
            if not batch or (self.drop_last and len(batch) < size):
                return
            yield batch
            if len(batch) < size:
                return

    def __len__(self):
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size
