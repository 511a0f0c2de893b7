"""Samplers draw lazily, and every way a worker can fail reaches the main process as an error."""

from __future__ import annotations

import itertools
import multiprocessing
import os

import numpy as np
import pytest

import studio.core as sc
from studio.core.data import DataLoader, Dataset, RandomSampler, TensorDataset, WeightedRandomSampler


class _Failing(Dataset):
    def __init__(self, how):
        self.how = how

    def __len__(self):
        return 16

    def __getitem__(self, i):
        if i == 5:
            if self.how == "memory":
                raise MemoryError("dataset ran out of memory")
            if self.how == "allocation":
                return np.ones(10**13)  # numpy's own MemoryError, whose constructor takes other arguments
            if self.how == "exit":
                os._exit(3)
        return sc.tensor([float(i)])


def test_samplers_with_replacement_draw_lazily():
    ds = TensorDataset(sc.arange(10))
    sampler = RandomSampler(ds, replacement=True, num_samples=10**10)
    assert len(sampler) == 10**10
    first = list(itertools.islice(iter(sampler), 5000))
    assert len(first) == 5000 and set(first) <= set(range(10))
    weighted = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=10**12)
    draws = list(itertools.islice(iter(weighted), 8000))
    assert set(draws) == {1, 2} and 0.7 < draws.count(2) / len(draws) < 0.8


def test_endless_sampler_feeds_workers():
    ds = TensorDataset(sc.arange(10))
    loader = DataLoader(
        ds, batch_size=4, sampler=RandomSampler(ds, replacement=True, num_samples=10**10), num_workers=2
    )
    assert len(loader) == 2_500_000_000
    batches = list(itertools.islice(iter(loader), 3))
    assert [b[0].shape for b in batches] == [(4,)] * 3


@pytest.mark.parametrize("how", ["memory", "allocation"])
@pytest.mark.parametrize("workers", [0, 2])
def test_a_memory_error_reaches_the_main_process(how, workers):
    loader = DataLoader(_Failing(how), batch_size=4, num_workers=workers)
    with pytest.raises(MemoryError):
        for _ in loader:
            pass


def test_a_worker_that_dies_is_reported():
    loader = DataLoader(_Failing("exit"), batch_size=4, num_workers=2)
    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        for _ in loader:
            pass


def test_a_sampler_failing_at_start_stops_the_workers():
    class BadSampler:
        def __iter__(self):
            raise MemoryError("cannot draw the indices")

        def __len__(self):
            return 4

    loader = DataLoader(TensorDataset(sc.arange(4)), sampler=BadSampler(), num_workers=2)
    before = set(multiprocessing.active_children())
    with pytest.raises(MemoryError, match="cannot draw"):
        iter(loader)
    assert set(multiprocessing.active_children()) <= before
