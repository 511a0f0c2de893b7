"""Datasets: the map-style and iterable bases, tensors as a dataset, subsets, concatenation, splits."""

from __future__ import annotations

import bisect
import itertools
import math
import warnings

from .. import backend as B
from ..tensor import Tensor, _wrap


class Dataset:
    """A map-style dataset: `dataset[i]` is sample i and `len(dataset)` the number of samples."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A dataset read as a stream: `iter(dataset)` yields samples.

    With worker processes each worker iterates its own copy; use `get_worker_info()` in `__iter__`
    to give each worker its share, or samples are repeated once per worker.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are slices of the given tensors along their first dimension: `(t0[i], t1[i], ...)`."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        n = tensors[0].shape[0] if tensors[0].ndim else None
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a Tensor")
            if t.ndim == 0 or t.shape[0] != n:
                raise ValueError(
                    "Size mismatch between tensors: TensorDataset got first dimensions "
                    f"{[tuple(x.shape)[:1] for x in tensors]}, expected all equal"
                )
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def _batch(self, indices):
        """What `default_collate` makes of these samples, gathered in one step per tensor."""
        return [_wrap(t._data[indices]) for t in self.tensors]


class StackDataset(Dataset):
    """Samples combine several datasets of equal length: a tuple (positional) or a dict (keywords)."""

    def __init__(self, *args, **kwargs):
        if args and kwargs:
            raise ValueError("StackDataset takes datasets as positional or keyword arguments, not both")
        self.datasets = args or kwargs
        sizes = [len(d) for d in (args or kwargs.values())]
        if not sizes or any(s != sizes[0] for s in sizes):
            raise ValueError(f"Size mismatch between datasets: got lengths {sizes}")
        self._length = sizes[0]

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self):
        return self._length


class ConcatDataset(Dataset):
    """The samples of several map-style datasets, one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = n + idx
        if idx >= n:
            raise IndexError(f"ConcatDataset index {idx} is out of range for {n} samples")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[d - 1] if d > 0 else 0
        return self.datasets[d][idx - start]


class ChainDataset(IterableDataset):
    """The samples of several iterable datasets, one stream after another."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError("ChainDataset only supports IterableDataset")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices):
        inner = getattr(self.dataset, "__getitems__", None)
        if callable(inner):
            return inner([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self):
        return len(self.indices)

    @property
    def _batch(self):
        inner = getattr(self.dataset, "_batch", None)
        if inner is None:
            return None
        return lambda indices: inner([self.indices[i] for i in indices])


def random_split(dataset, lengths, generator=None):
    """Split `dataset` at random into non-overlapping subsets of the given lengths or fractions.

    Fractions that sum to 1 become lengths `floor(frac * len(dataset))`, the remainder handed out
    one at a time from the first split on. `generator` (default: the default generator) makes the
    split repeatable.
    """
    lengths = list(lengths)
    n = len(dataset)
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        sizes = []
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
            sizes.append(math.floor(n * frac))
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
        for i, length in enumerate(lengths):
            if length == 0:
                warnings.warn(
                    f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2
                )
    if sum(lengths) != n:
        raise ValueError(
            f"Sum of input lengths does not equal the length of the input dataset! (lengths {lengths} "
            f"sum to {sum(lengths)}, the dataset has {n} samples)"
        )
    perm = B.rng(generator, B.numpy).permutation(n).tolist()
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset : offset + length]))
        offset += length
    return out
