"""DataLoader: batching, shuffling, iterable datasets, and worker processes (order, seeds, errors, exit)."""

from __future__ import annotations

import multiprocessing as mp
import os
import time

import numpy as np
import pytest

import studio.core as sc
from studio.core.data import DataLoader, Dataset, IterableDataset, TensorDataset, _worker, get_worker_info


class Numbers(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return sc.tensor([float(i)]), i


class RandomDraws(Dataset):
    """Each sample is a draw from the worker's default generator, with the worker's id."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return sc.rand(1).item(), -1 if info is None else info.id


class FailsAt(Dataset):
    def __init__(self, bad):
        self.bad = bad

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"sample {i} is broken")
        return i


class Sleepy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(0.6)
        return i


class Dies(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        os._exit(3)


class Sharded(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


def _no_children():
    deadline = time.monotonic() + 3
    while mp.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not mp.active_children()


def _labels(loader):
    return [b[1].tolist() for b in loader]


def test_batches_in_main_process():
    dl = DataLoader(Numbers(7), batch_size=3)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    x, y = batches[0]
    assert x.shape == (3, 1) and x.dtype == sc.float32 and y.dtype == sc.int64
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert _labels(DataLoader(Numbers(7), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]


def test_shuffle_is_reproducible_and_reshuffles_each_epoch():
    dl = DataLoader(Numbers(10), batch_size=5, shuffle=True)
    sc.manual_seed(1)
    first, second = _labels(dl), _labels(dl)
    assert first != second
    assert sorted(sum(first, [])) == list(range(10))
    sc.manual_seed(1)
    assert _labels(dl) == first
    g = sc.Generator().manual_seed(4)
    a = _labels(DataLoader(Numbers(10), batch_size=5, shuffle=True, generator=g))
    g.manual_seed(4)
    assert _labels(DataLoader(Numbers(10), batch_size=5, shuffle=True, generator=g)) == a


def test_no_batching_and_custom_collate():
    dl = DataLoader(TensorDataset(sc.arange(3)), batch_size=None)
    items = list(dl)
    assert len(items) == 3 and items[1][0].item() == 1
    dl = DataLoader(Numbers(4), batch_size=2, collate_fn=lambda batch: [i for _, i in batch])
    assert list(dl) == [[0, 1], [2, 3]]


def test_samplers_and_batch_sampler():
    dl = DataLoader(Numbers(5), sampler=[4, 3, 2, 1, 0], batch_size=2)
    assert _labels(dl) == [[4, 3], [2, 1], [0]]
    dl = DataLoader(Numbers(5), batch_sampler=[[0, 4], [1]])
    assert _labels(dl) == [[0, 4], [1]]


def test_iterable_dataset():
    dl = DataLoader(Sharded(5), batch_size=2)
    assert [b.tolist() for b in dl] == [[0, 1], [2, 3], [4]]
    assert len(dl) if hasattr(Sharded, "__len__") else True
    assert [b.tolist() for b in DataLoader(Sharded(5), batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"num_workers": -1}, "num_workers option should be non-negative"),
        ({"timeout": -1}, "timeout option should be non-negative"),
        ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
        ({"persistent_workers": True}, "persistent_workers option needs num_workers > 0"),
        ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
        ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
        ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Numbers(3), **kwargs)


def test_iterable_dataset_refuses_shuffle():
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Sharded(3), shuffle=True)


def test_workers_keep_sampler_order():
    sc.manual_seed(5)
    expected = _labels(DataLoader(Numbers(21), batch_size=4, shuffle=True))
    sc.manual_seed(5)
    got = _labels(DataLoader(Numbers(21), batch_size=4, shuffle=True, num_workers=2))
    assert got == expected
    assert _no_children()


def test_worker_seeds_are_reproducible_and_distinct():
    def run():
        sc.manual_seed(123)
        return [(v, w) for b in DataLoader(RandomDraws(), batch_size=2, num_workers=2) for v, w in zip(*b)]

    a, b = run(), run()
    assert [v.item() for v, _ in a] == [v.item() for v, _ in b]
    assert {w.item() for _, w in a} == {0, 1}
    by_worker = {}
    for v, w in a:
        by_worker.setdefault(w.item(), []).append(v.item())
    assert by_worker[0] != by_worker[1]
    sc.manual_seed(124)
    assert [v.item() for b in DataLoader(RandomDraws(), batch_size=2, num_workers=2) for v in b[0]] != [
        v.item() for v, _ in a
    ]


def _record_init(worker_id):
    info = get_worker_info()
    assert info.id == worker_id and info.num_workers == 2
    np.random.seed(1000 + worker_id)


class InitSeen(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(np.random.randint(0, 10**6)), get_worker_info().seed


def test_worker_init_fn_and_worker_info():
    assert get_worker_info() is None
    sc.manual_seed(0)
    out = list(DataLoader(InitSeen(), batch_size=None, num_workers=2, worker_init_fn=_record_init))
    rs = np.random.RandomState(1000)
    assert out[0][0] == rs.randint(0, 10**6)
    seeds = {s for _, s in out}
    assert len(seeds) == 2 and max(seeds) - min(seeds) == 1


def test_worker_error_is_raised_with_traceback_text():
    dl = DataLoader(FailsAt(5), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(dl)
    text = str(info.value)
    assert "Caught ValueError in DataLoader worker process" in text
    assert "Traceback (most recent call last)" in text
    assert "sample 5 is broken" in text and "__getitem__" in text
    del info
    assert _no_children()


def test_error_in_main_process_is_raised_as_is():
    with pytest.raises(ValueError, match="^sample 1 is broken$"):
        list(DataLoader(FailsAt(1), batch_size=2))


def test_early_break_leaves_no_live_workers():
    dl = DataLoader(Numbers(100), batch_size=2, num_workers=2)
    for i, _ in enumerate(dl):
        if i == 2:
            break
    assert _no_children()
    it = iter(dl)
    next(it)
    del it
    assert _no_children()


def test_timeout_raises():
    dl = DataLoader(Sleepy(), batch_size=1, num_workers=1, timeout=0.1)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.1 seconds"):
        next(iter(dl))
    assert _no_children()


def test_dead_worker_is_reported(monkeypatch):
    monkeypatch.setattr(_worker, "STATUS_CHECK_INTERVAL", 0.1)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Dies(), batch_size=1, num_workers=1))
    assert _no_children()


def test_iterable_dataset_with_workers():
    dl = DataLoader(Sharded(9), batch_size=2, num_workers=2)
    got = sorted(v for b in dl for v in b.tolist())
    assert got == list(range(9))
    assert _no_children()


def test_persistent_workers_serve_several_epochs():
    dl = DataLoader(Numbers(9), batch_size=2, num_workers=2, persistent_workers=True)
    first = _labels(dl)
    pids = {p.pid for p in mp.active_children()}
    it = iter(dl)
    next(it)  # break off an epoch early: the next one starts cleanly
    assert _labels(dl) == first == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    assert {p.pid for p in mp.active_children()} == pids
    del dl, it
    assert _no_children()


def test_spawn_context():
    ds = TensorDataset(sc.arange(6).float())
    dl = DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert [b[0].tolist() for b in dl] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert _no_children()


def test_tensor_datasets_gather_batches_like_default_collate():
    from studio.core.data import default_collate, random_split

    ds = TensorDataset(sc.arange(20).reshape(10, 2).float(), sc.arange(10))
    sub = random_split(ds, [6, 4], generator=sc.Generator().manual_seed(0))[0]
    for data in (ds, sub):
        fast = list(DataLoader(data, batch_size=4))
        slow = list(DataLoader(data, batch_size=4, collate_fn=lambda b: default_collate(b)))
        assert len(fast) == len(slow)
        for f, s in zip(fast, slow):
            assert type(f) is type(s) and all(
                a.tolist() == b.tolist() and a.dtype == b.dtype for a, b in zip(f, s)
            )
