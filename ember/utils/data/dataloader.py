"""DataLoader (torch.utils.data.dataloader): iterate a dataset in (collated) batches, in the
main process or with worker processes.

With num_workers > 0 each iterator starts that many processes (the default start method of
`multiprocessing`, as PyTorch: fork on Linux), each with its own Unix socket pair
(_utils/sharing.py). The main process hands out index batches round-robin, keeping at most
prefetch_factor per worker outstanding; every worker fetches and collates its batches and
sends them back with the tensor data in shared memory. Polling the sockets together with
the workers' process sentinels means a worker that dies is noticed at once, not after a
poll interval. Batches are returned in sampler order (unless in_order=False); workers are
shut down when the iterator is exhausted, dropped, interrupted, or at interpreter exit.
"""
from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import select
import signal
import socket
import time
import warnings
import weakref
from typing import Generic, TypeVar

import ember

from ._utils.collate import default_collate, default_convert
from ._utils.fetch import _DatasetKind
from ._utils.sharing import MainEnd
from ._utils.worker import (MP_STATUS_CHECK_INTERVAL, ExceptionWrapper,
                            _IterableDatasetStopIteration, _ResumeIteration, _worker_loop,
                            _WorkerConfig, get_worker_info)
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

_T_co = TypeVar("_T_co", covariant=True)

# attributes that fix the iteration plan; changing them after __init__ is an error
_FROZEN_ATTRS = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                 "persistent_workers")
_WORKER_LOST_HINT = ("Details are lost due to multiprocessing. Rerunning with num_workers=0 "
                     "may give better error trace.")

class _InfiniteConstantSampler(Sampler):
    """The index sampler of an IterableDataset: None forever (the dataset decides the end)."""

    def __iter__(self):
        while True:
            yield None


def _cpu_count() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


class DataLoader(Generic[_T_co]):
    """Iterate `dataset` in batches: samplers pick indices (or batches of indices),
    collate_fn merges samples, and num_workers > 0 loads in worker processes. Arguments,
    defaults and errors as torch.utils.data.DataLoader; pin_memory is accepted and does
    nothing (no pinned memory on the CPU)."""

    __initialized = False

    def __init__(self, dataset: Dataset[_T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
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

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
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
        self.__initialized = True
        self._IterableDataset_len_called = None   # len(dataset) as reported by len(loader)
        self._iterator = None
        self.check_worker_number_rationality()

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context) -> None:
        if multiprocessing_context is not None:
            if self.num_workers <= 0:
                raise ValueError("multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got num_workers="
                                 f"{self.num_workers}")
            if isinstance(multiprocessing_context, str):
                valid = multiprocessing.get_all_start_methods()
                if multiprocessing_context not in valid:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {valid!r}, but got "
                                     f"multiprocessing_context={multiprocessing_context!r}")
                multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
            if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                raise TypeError("multiprocessing_context option should be a valid context "
                                "object or a string specifying the start method, but got "
                                f"multiprocessing_context={multiprocessing_context}")
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val) -> None:
        if self.__initialized and attr in _FROZEN_ATTRS:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def __iter__(self) -> _BaseDataLoaderIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            # an estimate from len(dataset); workers that each end with a partial batch make
            # it wrong, which iteration then warns about (as PyTorch)
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                length = length // self.batch_size if self.drop_last else \
                    math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self) -> None:
        """Warn when more workers are asked for than this process may use CPUs."""
        if not self.num_workers:
            return
        suggest = _cpu_count()
        if suggest is not None and self.num_workers <= suggest:
            return
        cpuset = "" if hasattr(os, "sched_getaffinity") else " (`cpuset` is not taken into account)"
        detail = (f"Our suggested max number of worker in current system is {suggest}{cpuset}, "
                  "which is smaller than what this DataLoader is going to create."
                  if suggest is not None else
                  "DataLoader is not able to compute a suggested max number of worker in "
                  "current system.")
        warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                      f"total. {detail} Please be aware that excessive worker creation might "
                      "get DataLoader running slow or even freeze, lower the worker number to "
                      "avoid potential slowness/freeze if necessary.", stacklevel=2)


class _BaseDataLoaderIter:
    """What single- and multi-process iteration share; subclasses provide _next_data()."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn("pin_memory_device is deprecated, the current accelerator will be "
                          f"used as the device,ignore pin_memory_device="
                          f"'{loader.pin_memory_device}'.", stacklevel=3)
        if loader.pin_memory and not ember.cuda.is_available():
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        # drawn for every iterator, workers or not, so the global RNG advances as PyTorch's
        self._base_seed = int(ember.empty((), dtype=ember.int64)
                              .random_(generator=loader.generator).item())
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)   # may raise StopIteration

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable
                and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data."
                        "IterableDataset for examples.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            # PyTorch's assertion: a timeout only means something with workers
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._dataset_fetcher = _DatasetKind.create_fetcher(
            self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn,
            self._drop_last)

    def _next_data(self):
        index = self._next_index()                    # may raise StopIteration
        return self._dataset_fetcher.fetch(index)     # may raise StopIteration


def _describe_exit(process) -> str:
    code = process.exitcode
    if code is None:
        return "closed its channel unexpectedly"
    if code < 0:
        try:
            name = signal.strsignal(-code)
        except ValueError:
            name = f"signal {-code}"
        return f"is killed by signal: {name} (exit code {code})"
    return f"exited unexpectedly with exit code {code}"


class _WorkerGroup:
    """The worker processes of one iterator and their channels (a socket pair each).

    It is shut down through a weakref.finalize on the iterator rather than the iterator's
    __del__: when an iterator dies in a reference cycle (an exception traceback holding its
    frames, say) the collector finalizes the cycle's objects in no set order, and the
    channels could be gone before __del__ ran. The finalizer registry keeps this group
    reachable until it has run, and runs it at interpreter exit too."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.owner_pid = os.getpid()
        self.workers, self.channels = [], []
        self.shut = False

    def start_worker(self, cfg, worker_id) -> None:
        main_end, worker_end = socket.socketpair()
        self.channels.append(MainEnd(main_end))
        try:
            w = self.ctx.Process(target=_worker_loop, args=(cfg, worker_id, worker_end),
                                 daemon=True)
            w.start()
        finally:
            worker_end.close()   # the worker has its own copy
        self.workers.append(w)

    def shutdown(self) -> None:
        """Stop and reap every worker; idempotent; a no-op in a forked child."""
        if self.shut or os.getpid() != self.owner_pid:
            return
        self.shut = True
        try:
            for ch in self.channels:
                ch.close()   # the worker reads EOF, or its next send fails: it exits
            deadline = time.monotonic() + MP_STATUS_CHECK_INTERVAL
            for w in self.workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for w in self.workers:
                if w.is_alive():   # stuck in user code: its data is not wanted any more
                    w.terminate()
                    w.join(timeout=1.0)
                if w.is_alive():
                    w.kill()
                    w.join()
                w.close()          # releases the sentinel descriptor now


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Task bookkeeping: task i (the i-th index batch) goes to worker _task_worker[i];
    results are consumed in task order (in_order) or as they come."""

    def __init__(self, loader) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for "
                                 "MultiProcessingDataLoaderIter")
        group = _WorkerGroup(loader.multiprocessing_context or multiprocessing.get_context())
        self._group = group
        self._finalizer = weakref.finalize(self, group.shutdown)
        self._workers, self._channels = group.workers, group.channels
        cfg = _WorkerConfig(self._dataset_kind, self._dataset, self._auto_collation,
                            self._collate_fn, self._drop_last, self._base_seed,
                            loader.worker_init_fn, self._num_workers)
        try:
            for i in range(self._num_workers):
                group.start_worker(cfg, i)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    @property
    def _shutdown(self) -> bool:
        return self._group.shut

    def _shutdown_workers(self) -> None:
        self._finalizer()   # runs _WorkerGroup.shutdown once

    def _reset(self, loader, first_iter=False) -> None:
        super()._reset(loader, first_iter)
        n = self._num_workers
        self._send_idx = 0        # next task to send
        self._rcvd_idx = 0        # next task to return (in_order)
        self._task_worker = {}    # task -> worker, for tasks sent and not yet returned
        self._workers_status = [True] * n
        self._workers_num_tasks = [0] * n
        self._worker_queue_idx_cycle = itertools.cycle(range(n))
        self._exhausted = False
        if not first_iter:
            # persistent workers, new epoch: results of tasks left over from an unfinished
            # epoch arrive before each worker's acknowledgement and are dropped
            for ch in self._channels:
                ch.post(_ResumeIteration())
            for w in range(n):
                while not isinstance(self._get_data([w])[1], _ResumeIteration):
                    pass
        for _ in range(self._prefetch_factor * n):
            self._try_put_index()

    def __next__(self):
        try:
            return super().__next__()
        except KeyboardInterrupt:
            self._shutdown_workers()
            raise

    # ---------------------------------------------------------------- receiving
    def _get_data(self, wids):
        """The next message from one of workers `wids`: (worker, task, data). Meanwhile
        flushes task outboxes. Raises RuntimeError when an active worker died or after
        `timeout` seconds without data."""
        wanted = {self._channels[w].fileno(): w for w in wids}
        sentinels = {self._workers[w].sentinel: w
                     for w in range(self._num_workers) if self._workers_status[w]}
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            poller, writers = select.poll(), {}
            for fd in wanted:
                poller.register(fd, select.POLLIN)
            for fd in sentinels:
                poller.register(fd, select.POLLIN)
            for ch in self._channels:
                if ch.pending:
                    writers[ch.fileno()] = ch
                    poller.register(ch.fileno(), select.POLLOUT
                                    | (select.POLLIN if ch.fileno() in wanted else 0))
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = dict(poller.poll(None if remaining is None else remaining * 1000))
            for fd, ev in events.items():
                if fd in writers and ev & select.POLLOUT:
                    writers[fd].flush()
            for fd, ev in events.items():
                w = wanted.get(fd)
                if w is not None and ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    try:
                        idx, data = self._channels[w].recv()
                    except (EOFError, ConnectionError):
                        self._raise_worker_lost([w])
                    return w, idx, data
            dead = [sentinels[fd] for fd in events if fd in sentinels]
            if dead:
                self._raise_worker_lost(dead)
            if deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _raise_worker_lost(self, wids):
        details = []
        for w in wids:
            process = self._workers[w]
            process.join(timeout=1.0)   # the sentinel fires just before the exit code is in
            details.append(f"DataLoader worker {w} (pid {process.pid}) "
                           f"{_describe_exit(process)}")
        self._shutdown_workers()
        raise RuntimeError("; ".join(details) + ". " + _WORKER_LOST_HINT)

    def _wanted_workers(self):
        """Workers whose next message we wait for, or None when the epoch is over."""
        if self._in_order:
            while self._rcvd_idx < self._send_idx:
                w = self._task_worker.get(self._rcvd_idx)
                if w is not None and self._workers_status[w]:
                    return [w]
                # the task of a worker whose dataset copy ended: it will not answer
                self._task_worker.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            return None
        wids = sorted({w for w in self._task_worker.values() if self._workers_status[w]})
        return wids or None

    def _next_data(self):
        if self._shutdown:
            if self._exhausted:
                raise StopIteration
            raise RuntimeError("DataLoader iterator: its workers were shut down (a worker "
                               "failed or the loop was interrupted); call iter(loader) to "
                               "start a new epoch")
        while True:
            wids = self._wanted_workers()
            if wids is None:
                self._exhausted = True
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            w, idx, data = self._get_data(wids)
            self._task_worker.pop(idx, None)
            if isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if self._in_order:
                self._rcvd_idx += 1
            return self._process_data(data, w)

    def _process_data(self, data, worker_idx):
        self._workers_num_tasks[worker_idx] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    # ---------------------------------------------------------------- sending
    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):   # the next active worker, round robin
            w = next(self._worker_queue_idx_cycle)
            if self._workers_status[w] and (
                    self._in_order
                    or self._workers_num_tasks[w] < max_tasks // sum(self._workers_status)):
                break
        else:
            return
        self._channels[w].post((self._send_idx, index))
        self._task_worker[self._send_idx] = w
        self._workers_num_tasks[w] += 1
        self._send_idx += 1

    def _mark_worker_as_unavailable(self, worker_id) -> None:
        self._channels[worker_id].post(None)   # the worker exits after its earlier tasks
        self._workers_status[worker_id] = False
