"""DataLoader in the main process against torch's: batching, drop_last, shuffling, custom
samplers and collate functions, IterableDataset batching and len(), argument errors."""
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata


def make_map_dataset(base, lib):
    class Items(base):
        def __init__(self, n):
            self.n = n

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            return lib.tensor([i, -i]), i, np.float32(i / 2)
    return Items


EItems, TItems = make_map_dataset(edata.Dataset, ember), make_map_dataset(tdata.Dataset, torch)


def plain(x):
    """Batches as nested python lists (tensors of either library -> lists)."""
    if isinstance(x, (ember.Tensor, torch.Tensor)):
        return (str(x.dtype).split(".")[1], x.tolist())
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    return x


@pytest.mark.parametrize("n, kw", [
    (10, dict(batch_size=3)), (10, dict(batch_size=3, drop_last=True)), (9, dict(batch_size=3)),
    (4, dict(batch_size=8)), (4, dict(batch_size=8, drop_last=True)), (5, dict(batch_size=None)),
    (5, dict()),
])
def test_batching_matches_torch(n, kw):
    ours, theirs = edata.DataLoader(EItems(n), **kw), tdata.DataLoader(TItems(n), **kw)
    assert plain(list(ours)) == plain(list(theirs))
    assert len(ours) == len(theirs)


def test_seeded_shuffle_behaviour():
    def epoch(seed=None, loader=None):
        loader = loader or edata.DataLoader(EItems(20), batch_size=4, shuffle=True,
                                            generator=ember.Generator().manual_seed(seed))
        return [i for b in loader for i in b[1].tolist()]
    a = epoch(0)
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert epoch(0) == a and epoch(1) != a
    loader = edata.DataLoader(EItems(20), batch_size=4, shuffle=True,
                              generator=ember.Generator().manual_seed(0))
    assert epoch(loader=loader) != epoch(loader=loader)     # reshuffled every epoch
    unseeded = edata.DataLoader(EItems(20), batch_size=4, shuffle=True)
    ember.manual_seed(11)
    first = epoch(loader=unseeded)
    ember.manual_seed(11)
    assert epoch(loader=unseeded) == first                  # the global RNG decides


def test_sampler_batch_sampler_and_collate_fn():
    loader = edata.DataLoader(EItems(6), sampler=[5, 0, 3], batch_size=2)
    assert [b[1].tolist() for b in loader] == [[5, 0], [3]]
    loader = edata.DataLoader(EItems(6), batch_sampler=[[1, 2, 3], [0]])
    assert [b[1].tolist() for b in loader] == [[1, 2, 3], [0]] and len(loader) == 2
    loader = edata.DataLoader(EItems(4), batch_size=2, collate_fn=lambda b: [s[1] for s in b])
    assert list(loader) == [[0, 1], [2, 3]]


def test_getitems_is_used_for_batches():
    class Batched(edata.Dataset):
        calls = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("the loader should call __getitems__")

        def __getitems__(self, indices):
            self.calls.append(list(indices))
            return [i * 10 for i in indices]
    assert [b.tolist() for b in edata.DataLoader(Batched(), batch_size=2)] == [[0, 10], [20, 30],
                                                                               [40]]
    assert Batched.calls == [[0, 1], [2, 3], [4]]


def make_stream(base):
    class Stream(base):
        def __init__(self, n, length=None):
            self.n, self.length = n, length

        def __iter__(self):
            return iter([{"v": i, "a": np.array([i, i], np.int32)} for i in range(self.n)])

        def __len__(self):
            return self.n if self.length is None else self.length
    return Stream


EStream, TStream = make_stream(edata.IterableDataset), make_stream(tdata.IterableDataset)


@pytest.mark.parametrize("kw", [dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                dict(batch_size=None), dict(batch_size=7)])
def test_iterable_dataset_matches_torch(kw):
    ours, theirs = edata.DataLoader(EStream(5), **kw), tdata.DataLoader(TStream(5), **kw)
    assert len(ours) == len(theirs)
    assert plain(list(ours)) == plain(list(theirs))


def test_iterable_len_warning_when_stream_is_longer():
    loader = edata.DataLoader(EStream(4, length=2), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(loader)


def _raises_like_torch(make_ours, make_theirs):
    with pytest.raises(Exception) as e:
        make_ours()
    with pytest.raises(Exception) as t:
        make_theirs()
    assert type(e.value) is type(t.value)
    assert str(e.value).replace("ember", "torch") == str(t.value)


BAD_ARGS = [
    dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
    dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
    dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
    dict(batch_sampler=[[0]], drop_last=True), dict(batch_size=None, drop_last=True),
    dict(multiprocessing_context="fork"), dict(num_workers=1, multiprocessing_context="nope"),
    dict(num_workers=1, multiprocessing_context=3),
]


@pytest.mark.parametrize("kw", BAD_ARGS)
def test_argument_errors_match_torch(kw):
    _raises_like_torch(lambda: edata.DataLoader(EItems(4), **kw),
                       lambda: tdata.DataLoader(TItems(4), **kw))


@pytest.mark.parametrize("kw", [dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])])
def test_iterable_dataset_argument_errors_match_torch(kw):
    _raises_like_torch(lambda: edata.DataLoader(EStream(3), **kw),
                       lambda: tdata.DataLoader(TStream(3), **kw))


def test_frozen_attributes_and_defaults():
    loader = edata.DataLoader(EItems(4), num_workers=2)
    assert loader.prefetch_factor == 2 and loader.batch_size == 1 and not loader.drop_last
    assert edata.DataLoader(EItems(4)).prefetch_factor is None
    _raises_like_torch(lambda: setattr(loader, "batch_size", 3),
                       lambda: setattr(tdata.DataLoader(TItems(4)), "batch_size", 3))
    loader.num_workers = 0      # not frozen (as in torch)
    assert isinstance(edata.DataLoader(EItems(1)).sampler, edata.SequentialSampler)
    assert isinstance(edata.DataLoader(EItems(1), shuffle=True).sampler, edata.RandomSampler)


def test_timeout_needs_workers_and_pin_memory_is_a_noop():
    with pytest.raises(AssertionError, match="requires timeout == 0"):
        iter(edata.DataLoader(EItems(2), timeout=1))
    with pytest.warns(UserWarning, match="no accelerator is found"):
        batches = list(edata.DataLoader(EItems(2), batch_size=2, pin_memory=True))
    assert batches[0][1].tolist() == [0, 1]


def test_iterator_len_and_multiple_epochs():
    loader = edata.DataLoader(EItems(7), batch_size=3)
    it = iter(loader)
    assert len(it) == 3 and iter(it) is it
    assert [len(list(loader)) for _ in range(3)] == [3, 3, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no worker-count warning on a sane setting
        edata.DataLoader(EItems(7), num_workers=1)


def test_worker_numpy_seed_matches_torch():
    from ember.utils.data._utils.worker import _generate_state
    from torch.utils.data._utils.worker import _generate_state as torch_generate_state
    rng = np.random.default_rng(0)
    for base_seed in rng.integers(0, 2 ** 63, size=20, dtype=np.int64).tolist():
        for worker_id in (0, 1, 7):
            assert _generate_state(base_seed, worker_id) == \
                torch_generate_state(base_seed, worker_id)
