"""What runs inside a DataLoader worker process: seeding, WorkerInfo/get_worker_info, and
the loop that reads index batches, fetches and collates them, and sends the results back
(through shared memory, see sharing.py). Also ExceptionWrapper, which carries a worker's
exception and formatted traceback to the main process."""
from __future__ import annotations

import os
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

import ember

from . import sharing
from .fetch import _DatasetKind

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper", "MP_STATUS_CHECK_INTERVAL"]

# seconds between a worker's checks that its main process is alive
MP_STATUS_CHECK_INTERVAL = 5.0


class KeyErrorMessage(str):
    """A str whose repr is itself: KeyError(msg) prints repr(msg), which would show the
    traceback as one line full of escaped newlines."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception plus its formatted traceback, picklable, re-raisable elsewhere."""

    def __init__(self, exc_info=None, where="in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        # the text only: keeping the traceback object would pin every frame
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            # an exception type that cannot be built from one message string
            raise RuntimeError(msg) from None
        raise exception


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker."""
    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None
    worker_method: str | None = "multiprocessing"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The current worker's WorkerInfo (id, num_workers, seed, dataset: this process's copy);
    None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's IterableDataset copy is exhausted."""
    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Start a new epoch (persistent workers); echoed back as an acknowledgement."""
    seed: int | None = None


@dataclass(frozen=True)
class _WorkerConfig:
    """Everything a worker needs that is the same for all workers of one iterator."""
    dataset_kind: int
    dataset: object
    auto_collation: bool
    collate_fn: object
    drop_last: bool
    base_seed: int
    init_fn: object
    num_workers: int


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """PyTorch's 128-bit NumPy seed for a worker (NumPy's SeedSequence hashing of
    [worker_id, base_seed low 32 bits, base_seed high bits, 0]), so that workers' NumPy
    streams differ from each other and from the ember/random seeds."""
    init_a, mult_a = 0x43B0D7E5, 0x931E8875
    init_b, mult_b = 0x8B51F9DD, 0x58F38DED
    mix_mult_l, mix_mult_r = 0xCA01F9DD, 0x4973F715
    xshift, mask32 = 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask32, base_seed >> 32, 0]
    hash_const_a = init_a

    def hash_(value):
        nonlocal hash_const_a
        value = (value ^ hash_const_a) & mask32
        hash_const_a = (hash_const_a * mult_a) & mask32
        value = (value * hash_const_a) & mask32
        return (value ^ (value >> xshift)) & mask32

    def mix(x, y):
        r = ((mix_mult_l * x) & mask32) - ((mix_mult_r * y) & mask32)
        r &= mask32
        return (r ^ (r >> xshift)) & mask32

    pool = [hash_(e) for e in entropy]
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hash_(pool[i_src]))
    hash_const_b, state = init_b, []
    for value in pool:
        value = (value ^ hash_const_b) & mask32
        hash_const_b = (hash_const_b * mult_b) & mask32
        value = (value * hash_const_b) & mask32
        state.append((value ^ (value >> xshift)) & mask32)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed python's `random`, ember's global RNG and NumPy's legacy global RNG, as PyTorch
    seeds `random`, torch and NumPy in its workers."""
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


class _ParentWatchdog:
    """Notices that the main process died (the worker was re-parented)."""

    def __init__(self):
        self.parent_pid = os.getppid()

    def is_alive(self) -> bool:
        return os.getppid() == self.parent_pid


def _send_result(channel, idx, data, where) -> None:
    try:
        try:
            packed = channel.pack((idx, data))
        except Exception:
            # e.g. unpicklable data: report it instead of leaving the main process waiting
            packed = channel.pack((idx, ExceptionWrapper(where=where)))
        channel.write(packed)   # OSError here: the main process closed the channel
    finally:
        channel.pool.release()


def _worker_loop(cfg: _WorkerConfig, worker_id, sock) -> None:
    """Fetch the tasks that arrive on `sock` until told to stop (None), the main process
    closes the channel, or the main process dies; results go back on `sock` in task
    order."""
    global _worker_info
    try:
        seed = _seed_worker(cfg.base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=cfg.num_workers, seed=seed,
                                  dataset=cfg.dataset)
        pool = sharing.SegmentPool()
        sharing.install_pool(pool)
        channel = sharing.WorkerEnd(sock, pool)
        where = f"in DataLoader worker process {worker_id}"

        def new_fetcher():
            return _DatasetKind.create_fetcher(cfg.dataset_kind, cfg.dataset,
                                               cfg.auto_collation, cfg.collate_fn,
                                               cfg.drop_last)

        init_exception, fetcher = None, None
        try:
            if cfg.init_fn is not None:
                cfg.init_fn(worker_id)
            fetcher = new_fetcher()
        except Exception:
            # reported with the first task, as PyTorch does
            init_exception = ExceptionWrapper(where=where)

        iteration_end = False
        watchdog = _ParentWatchdog()
        while watchdog.is_alive():
            r = channel.recv(timeout=MP_STATUS_CHECK_INTERVAL)
            if r is sharing.NOTHING:
                continue
            if isinstance(r, _ResumeIteration):
                channel.send((r, None))
                iteration_end = False
                fetcher = new_fetcher()
                continue
            if r is None:
                break
            if iteration_end:
                continue   # this copy of the dataset is exhausted until the next epoch
            idx, index = r
            if init_exception is not None:
                data, init_exception = init_exception, None
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if cfg.dataset_kind != _DatasetKind.Iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                except Exception:
                    data = ExceptionWrapper(where=where)
            _send_result(channel, idx, data, where)
            del data, idx, index, r   # let the batch's memory go before blocking again
    except KeyboardInterrupt:
        pass   # the main process sees the same Ctrl-C and shuts us down
    except (OSError, EOFError):
        pass   # the main process closed the channel: it is shutting down
    finally:
        sharing.install_pool(None)
