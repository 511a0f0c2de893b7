"""DataLoader: batches from a dataset, in the main process or in worker processes that prefetch in order.

With `num_workers > 0` each worker is a separate process seeded from a base seed drawn from the
default generator (so `manual_seed` repeats runs); batches arrive in sampler order whatever the
worker that made them; an error in a worker is raised in the main process with the worker's
traceback; and workers are shut down when iteration ends, breaks off, or the iterator is deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing as mp
import pickle
import queue

from .. import backend as B
from . import _worker
from ._worker import ExceptionWrapper, IterableDatasetStopIteration, ResumeIteration, get_worker_info
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]


class _InfiniteConstantSampler:
    """The 'sampler' of an iterable dataset: it only counts how many items to ask for."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style `Dataset` (indexable, with a length) or an `IterableDataset`.
        batch_size: samples per batch (default 1); None turns batching off.
        shuffle: reshuffle the order every epoch (default False).
        sampler: the order of indices (exclusive with `shuffle`).
        batch_sampler: yields lists of indices (exclusive with batch_size, shuffle, sampler, drop_last).
        num_workers: worker processes loading batches (default 0: load in the main process).
        collate_fn: merges a list of samples into a batch (default `default_collate`).
        pin_memory: accepted for compatibility; batches are not pinned.
        drop_last: drop the last batch when it is smaller than batch_size (default False).
        timeout: seconds to wait for a batch from the workers before raising (default 0: no limit).
        worker_init_fn: called as `worker_init_fn(worker_id)` in each worker after seeding.
        multiprocessing_context: a start method name ('fork', 'spawn', 'forkserver') or a context.
        generator: the generator for the base seed of workers and for shuffling.
        prefetch_factor: batches each worker loads ahead (default 2 when num_workers > 0).
        persistent_workers: keep the workers alive between epochs (default False).
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=None,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor=None,
        persistent_workers=False,
        pin_memory_device="",
        in_order=True,
    ):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable multiprocessing."
                f" Got num_workers={num_workers!r}"
            )
        if timeout < 0:
            raise ValueError(f"timeout option should be non-negative, got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing. Let num_workers > 0 "
                "to enable multiprocessing, otherwise set prefetch_factor to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError(
                f"prefetch_factor option should be positive, got prefetch_factor={prefetch_factor}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self._is_iterable = isinstance(dataset, IterableDataset)

        if self._is_iterable:
            if shuffle not in {False, None}:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                    f"shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                    f"sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but "
                    f"got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, and "
                    "drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with drop_last"
            )
        if sampler is None:
            if self._is_iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        return _MultiProcessIter(self)

    def __iter__(self):
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = self._get_iterator()  # first epoch, or the workers were stopped
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def __del__(self):
        it = self.__dict__.get("_iterator")
        if it is not None:
            it._shutdown_workers()


class _BaseIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._is_iterable = loader._is_iterable
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._collate_fn = loader.collate_fn
        self._timeout = loader.timeout
        self._base_seed = int(B.rng(loader.generator, B.numpy).integers(0, 2**62))
        self._sampler_iter = iter(self._index_sampler)

    def _reset(self, loader):
        """Start a new epoch (persistent workers reuse one iterator)."""
        self._sampler_iter = iter(self._index_sampler)

    def _next_index(self):
        return next(self._sampler_iter)

    def __iter__(self):
        return self

    def __next__(self):
        return self._next_data()

    def __len__(self):
        return len(self._index_sampler)


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader):
        super().__init__(loader)
        self._fetcher = _worker.make_fetcher(
            self._is_iterable, self._dataset, self._auto_collation, self._collate_fn, self._drop_last
        )

    def _next_data(self):
        index = self._next_index()
        return self._fetcher.fetch(index)


class _MultiProcessIter(_BaseIter):
    """Workers each own an index queue; results come back on one data queue and are put in order."""

    def __init__(self, loader):
        super().__init__(loader)
        self._shutdown = False
        self._num_workers = loader.num_workers
        self._prefetch_factor = loader.prefetch_factor
        self._persistent = loader.persistent_workers
        ctx = loader.multiprocessing_context
        if ctx is None:
            ctx = mp.get_context()
        elif isinstance(ctx, str):
            ctx = mp.get_context(ctx)
        self._worker_ids = itertools.cycle(range(self._num_workers))
        self._data_queue = ctx.Queue()
        self._done_event = ctx.Event()
        self._index_queues = []
        self._workers = []
        try:
            for i in range(self._num_workers):
                iq = ctx.Queue()
                iq.cancel_join_thread()  # never block our exit on tasks a dead worker will not read
                w = ctx.Process(
                    target=_worker.worker_loop,
                    args=(
                        self._is_iterable,
                        self._dataset,
                        iq,
                        self._data_queue,
                        self._done_event,
                        self._auto_collation,
                        self._collate_fn,
                        self._drop_last,
                        self._base_seed,
                        loader.worker_init_fn,
                        i,
                        self._num_workers,
                        self._persistent,
                    ),
                    daemon=True,
                )
                w.start()
                self._index_queues.append(iq)
                self._workers.append(w)
            self._start_epoch(first=True)  # draws the first indices: a failing sampler stops the workers
        except BaseException:
            self._shutdown_workers()
            raise

    def _reset(self, loader):
        super()._reset(loader)
        self._start_epoch(first=False)

    def _start_epoch(self, first):
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info = {}
        self._workers_status = [True] * self._num_workers
        if not first:
            # persistent workers: start their streams afresh and drop what the last epoch left
            for iq in self._index_queues:
                iq.put(ResumeIteration())
            resumed = 0
            while resumed < self._num_workers:
                ok, (idx, _) = self._try_get(self._timeout or None)
                if isinstance(idx, ResumeIteration):
                    resumed += 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_ids)
            if self._workers_status[worker_id]:
                break
        else:
            return  # every worker's stream has ended
        self._index_queues[worker_id].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_id,)
        self._send_idx += 1

    def _try_get(self, timeout):
        """One message from the workers; raise when a worker died or `timeout` passed."""
        waited = 0.0
        step = (
            _worker.STATUS_CHECK_INTERVAL if timeout is None else min(timeout, _worker.STATUS_CHECK_INTERVAL)
        )
        while True:
            try:
                payload = self._data_queue.get(timeout=step)
                return True, pickle.loads(payload)
            except queue.Empty:
                waited += step
                failed = [w for w, up in zip(self._workers, self._workers_status) if up and not w.is_alive()]
                if failed:
                    pids = ", ".join(str(w.pid) for w in failed)
                    codes = ", ".join(str(w.exitcode) for w in failed)
                    self._shutdown_workers()
                    raise RuntimeError(
                        f"DataLoader worker (pid(s) {pids}) exited unexpectedly (exit code(s) {codes})"
                    ) from None
                if timeout is not None and waited >= timeout:
                    self._shutdown_workers()
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds") from None

    def _next_data(self):
        while True:
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info is not None and (len(info) == 2 or self._workers_status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)  # its worker's stream ended before it
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
                return self._process(info[1])
            if self._shutdown:
                raise StopIteration
            _, (idx, data) = self._try_get(self._timeout or None)
            if isinstance(idx, ResumeIteration):
                continue
            if isinstance(data, IterableDatasetStopIteration):
                self._workers_status[data.worker_id] = False
                if not self._persistent:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)  # early: keep it until its turn
            else:
                del self._task_info[idx]
                self._rcvd_idx += 1
                return self._process(data)

    def _process(self, data):
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self):
        if getattr(self, "_shutdown", True):
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for iq in self._index_queues:
                with contextlib.suppress(Exception):  # a closed queue: the worker is gone already
                    iq.put(None)
            for w in self._workers:
                w.join(timeout=_worker.STATUS_CHECK_INTERVAL)
            for iq in self._index_queues:
                iq.close()
            self._data_queue.cancel_join_thread()
            self._data_queue.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)

    def __del__(self):
        with contextlib.suppress(Exception):  # at interpreter exit modules may be gone
            self._shutdown_workers()
