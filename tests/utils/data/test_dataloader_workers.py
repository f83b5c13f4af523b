"""DataLoader with worker processes: results, ordering, seeding, IterableDataset sharding
(against torch), persistent workers, shared-memory transport, and robustness (worker
exceptions, crashes, timeouts, early exit, interrupts). Every test runs under `no_leaks`:
no worker process, descriptor or shared-memory mapping may outlive it."""
import gc
import math
import multiprocessing
import os
import random
import signal
import threading
import time
from multiprocessing import resource_tracker

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata

_HAS_PROC = os.path.isdir("/proc/self/fd")


def _open_fds():
    """Open descriptors, less the pipe to multiprocessing's resource tracker: a process-wide
    helper that the spawn start method starts once and keeps."""
    if not _HAS_PROC:
        return set()
    fds = set(os.listdir("/proc/self/fd"))
    tracker_fd = getattr(resource_tracker._resource_tracker, "_fd", None)
    return fds - {str(tracker_fd)}


def _shared_mappings() -> int:
    """How many batch segments this process has mapped (Linux; 0 elsewhere)."""
    if not _HAS_PROC:
        return 0
    with open("/proc/self/maps") as f:
        return sum("ember-batch" in line for line in f)


def _assert_no_children():
    children = multiprocessing.active_children()   # also reaps finished ones
    assert children == [], f"worker processes outlived their loader: {children}"


@pytest.fixture
def no_leaks():
    """The test leaves no worker process, descriptor or shared-memory mapping behind."""
    _assert_no_children()
    fds_before = _open_fds()
    yield
    gc.collect()   # iterators kept alive by exception tracebacks (reference cycles)
    _assert_no_children()
    assert _shared_mappings() == 0, "shared-memory segments still mapped after the test"
    leaked = _open_fds() - fds_before
    assert not leaked, f"descriptors left open: {sorted(leaked)}"


pytestmark = pytest.mark.usefixtures("no_leaks")


def _reaped(pid) -> bool:
    """The process has exited and been waited for."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


class Squares(edata.Dataset):
    """Item i: a float32 array and python ints; small and quick."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2, 3), i, np.float32), "i": i, "sq": ember.tensor([i * i])}


def _values(batch):
    return batch["x"].numpy()[:, 0, 0].tolist(), batch["i"].tolist()


def test_workers_match_single_process_with_seeded_shuffle():
    def run(nw):
        g = ember.Generator().manual_seed(7)
        loader = edata.DataLoader(Squares(10), batch_size=3, shuffle=True, generator=g,
                                  num_workers=nw)
        return [_values(b) for b in loader]
    single, multi = run(0), run(2)
    assert multi == single                                  # same batches, same order
    assert sorted(sum((i for _, i in multi), [])) == list(range(10))
    assert [len(i) for _, i in multi] == [3, 3, 3, 1]
    it = iter(edata.DataLoader(Squares(2), batch_size=2, num_workers=2))
    assert len(list(it)) == 1
    with pytest.raises(StopIteration):                      # stays exhausted
        next(it)


def test_batches_arrive_through_shared_memory_and_are_freed():
    loader = edata.DataLoader(Squares(8), batch_size=4, num_workers=2)
    batches = list(loader)
    assert _shared_mappings() > 0        # the batch tensors are views of shared segments
    b = batches[1]
    assert b["x"].dtype == ember.float32 and tuple(b["x"].shape) == (4, 2, 3)
    assert b["sq"].dtype == ember.int64 and b["sq"].tolist() == [[16], [25], [36], [49]]
    b["x"].add_(1)                      # writable, like torch's
    del batches, b                      # no_leaks then checks every mapping is gone


class SeedReport(edata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = edata.get_worker_info()
        return (info.id, info.num_workers, info.seed, random.random(), ember.rand(1).item(),
                float(np.random.rand()), getattr(info.dataset, "tag", None))


def _mark_copy(worker_id):
    edata.get_worker_info().dataset.tag = 100 + worker_id


def test_worker_info_seeds_and_init_fn():
    def run(seed):
        ds = SeedReport()
        ds.tag = -1
        loader = edata.DataLoader(ds, batch_size=None, num_workers=2, worker_init_fn=_mark_copy,
                                  generator=ember.Generator().manual_seed(seed))
        return list(loader)
    rows = run(3)
    assert edata.get_worker_info() is None                  # main process
    assert [r[0] for r in rows] == [0, 1, 0, 1]             # round-robin, in order
    assert all(r[1] == 2 for r in rows)
    assert [r[6] for r in rows] == [100, 101, 100, 101]     # init_fn saw this worker's copy
    base = rows[0][2]
    assert rows[1][2] == base + 1                           # seed = base_seed + worker id
    assert rows[0][3:6] != rows[1][3:6]                     # per-worker RNG streams differ
    assert run(3) == rows                                   # reproducible from the generator
    assert run(4)[0][2] != base

    def unseeded():
        ember.manual_seed(9)    # without a generator the base seed comes from the global RNG
        return list(edata.DataLoader(SeedReport(), batch_size=None, num_workers=1))
    assert unseeded() == unseeded()


class Shards(edata.IterableDataset):
    """range(start, end), split between workers by get_worker_info (the torch docs' way)."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = edata.get_worker_info() or tdata.get_worker_info()
        lo, hi = self.start, self.end
        if info is not None:
            per = int(math.ceil((hi - lo) / info.num_workers))
            lo = lo + info.id * per
            hi = min(lo + per, self.end)
        return iter(range(lo, hi))

    def __len__(self):
        return self.end - self.start


class TorchShards(tdata.IterableDataset):
    __init__ = Shards.__init__
    __iter__ = Shards.__iter__
    __len__ = Shards.__len__


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                dict(batch_size=None)])
def test_sharded_iterable_matches_torch(kw):
    ours = [b.tolist() if isinstance(b, ember.Tensor) else b
            for b in edata.DataLoader(Shards(3, 10), num_workers=2, **kw)]
    theirs = [b.tolist() if isinstance(b, torch.Tensor) else b
              for b in tdata.DataLoader(TorchShards(3, 10), num_workers=2, **kw)]
    assert ours == theirs
    assert len(edata.DataLoader(Shards(3, 10), num_workers=2, **kw)) == \
        len(tdata.DataLoader(TorchShards(3, 10), num_workers=2, **kw))


class Pids(edata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return i, os.getpid()


def test_persistent_workers_are_reused_across_epochs():
    loader = edata.DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True,
                              prefetch_factor=1)
    epochs = [[(b[0].tolist(), b[1].tolist()) for b in loader] for _ in range(2)]
    assert [i for i, _ in epochs[0]] == [[0, 1], [2, 3], [4, 5]] == [i for i, _ in epochs[1]]
    pids = {p for e in epochs for _, ps in e for p in ps}
    assert len(pids) == 2 and os.getpid() not in pids
    it = iter(loader)            # leave an epoch early: the next one starts clean
    next(it)
    assert [b[0].tolist() for b in loader] == [[0, 1], [2, 3], [4, 5]]
    del loader, it               # dropping the loader ends its workers


def test_out_of_order_delivery_keeps_every_batch():
    loader = edata.DataLoader(Pids(), batch_size=1, num_workers=2, in_order=False)
    assert sorted(b[0].item() for b in loader) == list(range(6))


class Failing(edata.Dataset):
    def __init__(self, exc):
        self.exc = exc

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise self.exc("item three is bad")   # the worker-side line
        return i


@pytest.mark.parametrize("exc", [ValueError, KeyError])
def test_worker_exception_is_reraised_with_its_traceback(exc):
    loader = edata.DataLoader(Failing(exc), batch_size=2, num_workers=2)
    with pytest.raises(exc) as info:
        list(loader)
    msg = str(info.value)
    assert f"Caught {exc.__name__} in DataLoader worker process 1." in msg
    assert "Original Traceback (most recent call last):" in msg
    assert 'raise self.exc("item three is bad")' in msg
    del info


class Crashing(edata.Dataset):
    def __init__(self, how):
        self.how = how

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            if self.how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return i


@pytest.mark.parametrize("how, expected", [
    ("exit", r"DataLoader worker 0 \(pid \d+\) exited unexpectedly with exit code 3"),
    ("kill", r"DataLoader worker 0 \(pid \d+\) is killed by signal: Killed \(exit code -9\)"),
], ids=["exit", "kill"])
def test_worker_crash_raises_instead_of_hanging(how, expected):
    t0 = time.monotonic()
    it = iter(edata.DataLoader(Crashing(how), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=expected):
        for _ in it:
            pass
    assert time.monotonic() - t0 < 5
    with pytest.raises(RuntimeError, match="workers were shut down"):
        next(it)
    del it


def _failing_init(worker_id):
    raise ValueError(f"init of worker {worker_id} failed")


class Unpicklable(edata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i   # a local function: cannot be pickled back to the main process


def test_init_fn_and_pickling_errors_are_reported():
    loader = edata.DataLoader(Squares(4), num_workers=1, worker_init_fn=_failing_init)
    with pytest.raises(ValueError, match="Caught ValueError in DataLoader worker process 0"
                                         "(.|\n)*init of worker 0 failed"):
        list(loader)
    loader = edata.DataLoader(Unpicklable(), batch_size=None, num_workers=1)
    with pytest.raises(Exception, match="in DataLoader worker process 0(.|\n)*pickle"):
        list(loader)


class Slow(edata.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            time.sleep(0.5)
        return i


def test_timeout():
    it = iter(edata.DataLoader(Slow(), batch_size=None, num_workers=1, timeout=0.1))
    assert next(it) == 0
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.1 seconds"):
        next(it)
    del it


def test_early_break_and_del_shut_workers_down():
    loader = edata.DataLoader(Squares(40), batch_size=2, num_workers=2)
    for first in loader:
        break
    it = iter(loader)
    second = next(it)
    pids = [w.pid for w in it._workers]
    del it
    assert all(_reaped(pid) for pid in pids)
    assert first["i"].tolist() == second["i"].tolist() == [0, 1]
    del first, second


def test_keyboard_interrupt_in_loop_body_and_while_waiting():
    loader = edata.DataLoader(Squares(40), batch_size=2, num_workers=2)
    with pytest.raises(KeyboardInterrupt):
        for _ in loader:
            raise KeyboardInterrupt

    # Ctrl-C arriving while the main process waits on a slow worker
    it = iter(edata.DataLoader(Slow(), batch_size=None, num_workers=1))
    pids = [w.pid for w in it._workers]
    next(it)
    timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        next(it)
    timer.join()
    assert it._shutdown and all(_reaped(pid) for pid in pids)
    del it


def test_spawn_context():
    # a dataset class importable without this module, so the spawned worker starts quickly
    loader = edata.DataLoader(edata.TensorDataset(ember.arange(4) * 10), batch_size=2,
                              num_workers=1, multiprocessing_context="spawn")
    assert [b[0].tolist() for b in loader] == [[0, 10], [20, 30]]
