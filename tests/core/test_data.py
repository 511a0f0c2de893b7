"""Datasets, random_split, samplers and the default collate function."""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

import studio.core as sc
from studio.core.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    StackDataset,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_tensor_dataset():
    x, y = sc.arange(12).reshape(6, 2).float(), sc.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[2]
    assert a.tolist() == [4.0, 5.0] and b.item() == 2
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, sc.arange(5))


def test_concat_subset_stack_chain():
    c = Squares(3) + Squares(2)
    assert isinstance(c, ConcatDataset) and len(c) == 5
    assert [c[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert c[-1] == 1
    with pytest.raises(IndexError):
        c[5]
    s = Subset(Squares(10), [9, 0, 3])
    assert len(s) == 3 and [s[i] for i in range(3)] == [81, 0, 9]
    assert s.__getitems__([0, 2]) == [81, 9]
    st = StackDataset(a=Squares(3), b=Squares(3))
    assert st[2] == {"a": 4, "b": 4}
    assert list(ChainDataset([Stream(2), Stream(3)])) == [0, 1, 0, 1, 2]
    assert list(Stream(2) + Stream(1)) == [0, 1, 0]


def test_random_split_lengths_and_fractions():
    ds = Squares(10)
    a, b = random_split(ds, [3, 7], generator=sc.Generator().manual_seed(1))
    assert len(a) == 3 and len(b) == 7
    assert sorted(a.indices + b.indices) == list(range(10))
    a2, _ = random_split(ds, [3, 7], generator=sc.Generator().manual_seed(1))
    assert a.indices == a2.indices
    parts = random_split(Squares(11), [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [6, 3, 2]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0"):
        random_split(ds, [1.5, -0.5])


def test_random_split_fraction_remainders_match_pytorch(torch):
    ours = [len(p) for p in random_split(Squares(11), [0.5, 0.3, 0.2])]
    theirs = [len(p) for p in torch.utils.data.random_split(range(11), [0.5, 0.3, 0.2])]
    assert ours == theirs


def test_random_split_uses_default_generator():
    sc.manual_seed(3)
    a = random_split(Squares(8), [4, 4])[0].indices
    sc.manual_seed(3)
    assert random_split(Squares(8), [4, 4])[0].indices == a


def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    sc.manual_seed(0)
    order = list(RandomSampler(range(10)))
    assert sorted(order) == list(range(10))
    sc.manual_seed(0)
    assert list(RandomSampler(range(10))) == order
    g = sc.Generator().manual_seed(7)
    more = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(more) == 10 and collections.Counter(more[:8]) == {0: 2, 1: 2, 2: 2, 3: 2}
    rep = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(rep) == 50 and set(rep) <= {0, 1, 2}
    with pytest.raises(
        ValueError, match="num_samples should be a positive integer value, but got num_samples=0"
    ):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    out = list(SubsetRandomSampler([5, 6, 7]))
    assert sorted(out) == [5, 6, 7]


def test_weighted_random_sampler():
    w = sc.tensor([0.0, 1.0, 3.0])
    draws = list(WeightedRandomSampler(w, 4000, generator=sc.Generator().manual_seed(0)))
    counts = collections.Counter(draws)
    assert counts[0] == 0 and 0.7 < counts[2] / 4000 < 0.8
    no_rep = list(WeightedRandomSampler([1.0, 1.0, 1.0, 0.5], 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(RuntimeError, match="cannot draw 3 samples without replacement"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)


def test_samplers_with_replacement_draw_lazily_at_any_size():
    # a billion (or ten billion) draws: only the ones taken are ever made
    weighted = itertools.islice(iter(WeightedRandomSampler([1.0, 2.0, 1.0], num_samples=10**9)), 3000)
    drawn = np.bincount(np.array(list(weighted)), minlength=3) / 3000
    assert abs(drawn[1] - 0.5) < 0.05
    plain = RandomSampler(range(7), replacement=True, num_samples=10**10)
    assert len(plain) == 10**10
    assert all(0 <= i < 7 for i in itertools.islice(iter(plain), 500))


def test_batch_sampler():
    assert list(BatchSampler(range(7), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3 and len(BatchSampler(range(7), 3, True)) == 2
    with pytest.raises(
        ValueError, match="batch_size should be a positive integer value, but got batch_size=0"
    ):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 1, 0)


def test_collate_like_pytorch(torch):
    Point = collections.namedtuple("Point", "x y")
    cases = [
        [1, 2, 3],
        [1.5, 2.5],
        [True, False],
        [np.float32(1.0), np.float32(2.0)],
        [np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32)],
        [np.ones((2, 2), np.float64), np.zeros((2, 2), np.float64)],
        [{"a": 1, "b": 2.0}, {"a": 3, "b": 4.0}],
        [(1, 2.0), (3, 4.0)],
        [[1, 2], [3, 4]],
    ]
    for batch in cases:
        ours, theirs = default_collate(batch), torch.utils.data.default_collate(batch)
        _same(ours, theirs)
    t = [sc.ones(2, 3), sc.zeros(2, 3)]
    ours = default_collate(t)
    assert ours.shape == (2, 2, 3) and ours.dtype == sc.float32
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.dtype == sc.int64 and p.y.dtype == sc.float64
    assert default_collate(["a", "b"]) == ["a", "b"]


def _same(ours, theirs):
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys()
        for k in theirs:
            _same(ours[k], theirs[k])
    elif isinstance(theirs, list | tuple):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    else:
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_collate_errors():
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        default_collate([sc.ones(2), sc.ones(3)])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


def test_default_convert():
    out = default_convert({"x": np.ones(2, np.float32), "n": 3, "s": "a"})
    assert isinstance(out["x"], sc.Tensor) and out["n"] == 3 and out["s"] == "a"
    assert isinstance(default_convert((np.zeros(1), 2)), list)
