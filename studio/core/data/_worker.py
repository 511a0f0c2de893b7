"""What runs inside a DataLoader worker process: seeding, fetching batches, and reporting errors.

A worker reads `(task index, sampler indices)` from its own index queue and puts `(task index,
batch)` on the shared data queue; `None` tells it to exit. An exception is sent back wrapped with
its traceback text, to be raised again in the main process.
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from .collate import default_collate

# How often a waiting worker checks that its parent is alive, and the main process its workers.
STATUS_CHECK_INTERVAL = 2.0

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """Facts about the current worker: its `id` (0-based), `num_workers`, `seed` and its `dataset` copy."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """The `WorkerInfo` of the calling worker process, or None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback text."""

    def __init__(self, exc_info=None, where="in background"):
        exc_info = exc_info or sys.exc_info()
        self.exc_type = exc_info[0]
        try:
            self.exc_msg = "".join(traceback.format_exception(*exc_info))
        except MemoryError:  # too little memory left to format it: the error itself must still arrive
            self.exc_msg = f"{self.exc_type.__name__}: {exc_info[1]}\n"
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        exception = _rebuild_exception(self.exc_type, msg)
        try:
            raise exception
        finally:
            # no cycle through this frame: the caller's iterator (and its workers) can be freed
            # as soon as the exception is dropped
            del exception


def _rebuild_exception(exc_type, msg):
    """`exc_type(msg)`, or its nearest base class that takes a message (numpy's allocation error is a
    MemoryError that wants other arguments), RuntimeError at the end."""
    for cls in exc_type.__mro__:
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            continue
        try:
            return cls(msg)
        except Exception:  # noqa: BLE001 - a constructor with other arguments: try its base
            continue
    return RuntimeError(msg)


class KeyErrorMessage(str):
    """KeyError quotes its message when printed; this keeps the traceback readable."""

    def __repr__(self):
        return self


class IterableDatasetStopIteration:
    """Sent by a worker whose iterable dataset is exhausted."""

    def __init__(self, worker_id):
        self.worker_id = worker_id


class ResumeIteration:
    """Sent to persistent workers at the start of a new epoch (they restart their dataset iterator)."""


class MapFetcher:
    """Fetches samples of a map-style dataset by index and collates them."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.getitems = getattr(dataset, "__getitems__", None) if auto_collation else None
        # datasets of whole tensors gather a batch in one step where the default collate would
        # stack it sample by sample (same result)
        self.batch = (
            getattr(dataset, "_batch", None) if auto_collation and collate_fn is default_collate else None
        )

    def fetch(self, index):
        if self.auto_collation:
            if self.batch is not None:
                return self.batch(index)
            if self.getitems is not None:
                data = self.getitems(index)
            else:
                ds = self.dataset
                data = [ds[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class IterableFetcher:
    """Reads samples from an iterable dataset's stream: `batch_size` at a time when batching."""

    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset_iter = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if not data or (self.drop_last and len(data) < len(index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


def make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last):
    cls = IterableFetcher if is_iterable else MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


def _pickled(idx, data, worker_id) -> bytes:
    """Pickle a result here, so that one that cannot be pickled is reported rather than lost.

    (A multiprocessing queue pickles in a background thread, where a failure only prints.)
    """
    try:
        return pickle.dumps((idx, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        if not isinstance(data, ExceptionWrapper):
            data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
    try:
        return pickle.dumps((idx, data), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception class the main process could not import
        data.exc_type = RuntimeError
        return pickle.dumps((idx, data), protocol=pickle.HIGHEST_PROTOCOL)


def seed_everything(seed: int) -> None:
    """Seed studio's default generator, Python's `random` and numpy's global generator in this process."""
    from .. import backend as B

    B.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def worker_loop(
    is_iterable,
    dataset,
    index_queue,
    data_queue,
    done_event,
    auto_collation,
    collate_fn,
    drop_last,
    base_seed,
    init_fn,
    worker_id,
    num_workers,
    persistent_workers,
):
    """The body of a worker process: serve index lists until told to stop."""
    global _worker_info
    parent = os.getppid()
    try:
        seed = base_seed + worker_id
        seed_everything(seed)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
        except Exception:  # reported to the main process with the first task
            init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        stopped = False
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:  # the main process died: nobody will read our results
                    break
                continue
            if task is None:
                break
            if isinstance(task, ResumeIteration):
                data_queue.put(_pickled(task, None, worker_id))
                stopped = False
                try:
                    fetcher = make_fetcher(is_iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_error = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
                continue
            if done_event.is_set() or stopped:
                continue  # shutting down, or this stream ended: drain without work
            idx, index = task
            if init_error is not None:
                data, init_error = init_error, None
                stopped = is_iterable
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    data = IterableDatasetStopIteration(worker_id)
                    stopped = True
                except Exception:  # every error goes back to the main process
                    data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            data_queue.put(_pickled(idx, data, worker_id))
            del data
    except KeyboardInterrupt:
        pass
    if done_event.is_set():
        # the main process stopped reading: do not wait for unread results to drain at exit
        data_queue.cancel_join_thread()
        data_queue.close()
