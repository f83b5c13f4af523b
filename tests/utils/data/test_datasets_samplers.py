"""Datasets, random_split and samplers against torch.utils.data: indexing, lengths, errors,
and the behaviour of the random ones (permutations, reproducibility, statistics)."""
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import ember
import ember.utils.data as edata


def _raises_like_torch(ours, theirs):
    """Both calls raise the same exception type with the same message."""
    with pytest.raises(Exception) as e:
        ours()
    with pytest.raises(Exception) as t:
        theirs()
    assert type(e.value) is type(t.value)
    assert str(e.value) == str(t.value)


# ------------------------------------------------------------------ datasets

def test_tensor_dataset():
    x, y = ember.arange(12).reshape(6, 2), ember.arange(6) * 10
    ds = edata.TensorDataset(x, y)
    assert len(ds) == 6
    a, b = ds[4]
    assert a.tolist() == [8, 9] and b.item() == 40
    assert [t.tolist() for t in ds[1:3]] == [[[2, 3], [4, 5]], [10, 20]]
    _raises_like_torch(lambda: edata.TensorDataset(ember.zeros(3), ember.zeros(4)),
                       lambda: tdata.TensorDataset(torch.zeros(3), torch.zeros(4)))


def test_concat_dataset_and_add():
    parts = [list(range(3)), list(range(10, 12)), list(range(20, 24))]
    ours, theirs = edata.ConcatDataset(parts), tdata.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-9, 9):
        assert ours[i] == theirs[i]
    _raises_like_torch(lambda: ours[-10], lambda: theirs[-10])
    _raises_like_torch(lambda: edata.ConcatDataset([]), lambda: tdata.ConcatDataset([]))

    class Items(edata.Dataset):
        def __init__(self, items):
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]
    both = Items([1, 2]) + Items([3])
    assert isinstance(both, edata.ConcatDataset) and [both[i] for i in range(3)] == [1, 2, 3]


class Stream(edata.IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_chain_dataset_and_iterable_add():
    chain = Stream([1, 2]) + Stream([3])
    assert isinstance(chain, edata.ChainDataset)
    assert list(chain) == [1, 2, 3] and len(chain) == 3
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(edata.ChainDataset([Stream([1]), [2]]))
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        edata.ConcatDataset([Stream([1])])


def test_subset_and_getitems():
    base = list(range(100, 110))
    sub = edata.Subset(base, [3, 1, 7])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [103, 101, 107]
    assert sub.__getitems__([2, 0]) == [107, 103]

    class Bad(edata.Subset):
        def __getitem__(self, i):
            return 0
    _raises_like_torch(lambda: Bad(base, [0]), lambda: type("Bad", (tdata.Subset,), {
        "__getitem__": lambda self, i: 0})(base, [0]))


def test_stack_dataset():
    a, b = list(range(5)), [x * x for x in range(5)]
    tup, dct = edata.StackDataset(a, b), edata.StackDataset(x=a, y=b)
    assert len(tup) == 5 and tup[3] == (3, 9) and dct[2] == {"x": 2, "y": 4}
    assert tup.__getitems__([1, 4]) == tdata.StackDataset(a, b).__getitems__([1, 4])
    assert dct.__getitems__([1, 4]) == tdata.StackDataset(x=a, y=b).__getitems__([1, 4])
    nested = edata.StackDataset(edata.Subset(a, [4, 3, 2, 1, 0]), b)
    assert nested.__getitems__([0, 1]) == [(4, 0), (3, 1)]
    for args, kwargs in [((a,), {"y": b}), ((), {}), ((a, b[:2]), {})]:
        _raises_like_torch(lambda: edata.StackDataset(*args, **kwargs),
                           lambda: tdata.StackDataset(*args, **kwargs))


def test_dataset_base_is_abstract():
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        edata.Dataset()[0]


# ------------------------------------------------------------------ random_split

@pytest.mark.parametrize("n, lengths", [
    (10, [3, 7]), (30, [0.3, 0.3, 0.4]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]),
    (5, [0.25, 0.25, 0.25, 0.25]), (10, [1.0]),
])
def test_random_split_lengths_match_torch(n, lengths):
    ours = edata.random_split(range(n), lengths, generator=ember.Generator().manual_seed(0))
    theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    flat = [i for s in ours for i in (s[j] for j in range(len(s)))]
    assert sorted(flat) == list(range(n))        # a partition of the dataset


def test_random_split_randomness_and_errors():
    def split(seed):
        g = ember.Generator().manual_seed(seed)
        return [list(s.indices) for s in edata.random_split(range(20), [5, 15], generator=g)]
    assert split(1) == split(1) and split(1) != split(2)
    ember.manual_seed(5)
    first = [list(s.indices) for s in edata.random_split(range(20), [10, 10])]
    ember.manual_seed(5)
    assert first == [list(s.indices) for s in edata.random_split(range(20), [10, 10])]
    _raises_like_torch(lambda: edata.random_split(range(5), [2, 2]),
                       lambda: tdata.random_split(range(5), [2, 2]))
    _raises_like_torch(lambda: edata.random_split(range(5), [1.5, -0.5]),
                       lambda: tdata.random_split(range(5), [1.5, -0.5]))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        edata.random_split(range(2), [0.9, 0.05, 0.05])
    assert any("Length of split at index" in str(x.message) for x in w)


# ------------------------------------------------------------------ samplers

def test_sequential_sampler():
    s = edata.SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5


def test_random_sampler_permutation_and_reproducibility():
    def draw(seed, **kw):
        return list(edata.RandomSampler(range(50), generator=ember.Generator().manual_seed(seed),
                                        **kw))
    a = draw(0)
    assert sorted(a) == list(range(50)) and a != list(range(50))
    assert draw(0) == a and draw(1) != a
    longer = draw(0, num_samples=120)
    assert len(longer) == 120 and sorted(longer[:50]) == sorted(longer[50:100]) == list(range(50))
    assert len(set(longer[100:])) == 20
    s = edata.RandomSampler(range(50))
    ember.manual_seed(3)
    x = list(s)
    ember.manual_seed(3)
    assert list(s) == x                      # unseeded: drawn from the global RNG


def test_random_sampler_with_replacement_statistics():
    g = ember.Generator().manual_seed(0)
    draws = list(edata.RandomSampler(range(10), replacement=True, num_samples=20000, generator=g))
    assert len(draws) == 20000 and min(draws) == 0 and max(draws) == 9
    counts = np.bincount(draws, minlength=10)
    assert np.all(np.abs(counts - 2000) < 6 * np.sqrt(2000 * 0.9))


@pytest.mark.parametrize("kw", [dict(replacement=1), dict(num_samples=0),
                                dict(num_samples=2.5)])
def test_random_sampler_errors_match_torch(kw):
    _raises_like_torch(lambda: edata.RandomSampler(range(3), **kw),
                       lambda: tdata.RandomSampler(range(3), **kw))


def test_subset_random_sampler():
    s = edata.SubsetRandomSampler([10, 20, 30, 40], generator=ember.Generator().manual_seed(0))
    a = list(s)
    assert sorted(a) == [10, 20, 30, 40] and len(s) == 4
    b = list(edata.SubsetRandomSampler([10, 20, 30, 40],
                                       generator=ember.Generator().manual_seed(0)))
    assert a == b


def test_weighted_random_sampler_statistics():
    w = [0.1, 0.0, 0.6, 0.3]
    g = ember.Generator().manual_seed(0)
    draws = list(edata.WeightedRandomSampler(w, 20000, generator=g))
    freq = np.bincount(draws, minlength=4) / 20000
    np.testing.assert_allclose(freq, w, atol=0.02)
    assert freq[1] == 0
    no_repl = list(edata.WeightedRandomSampler([1, 2, 3, 4, 5], 5, replacement=False,
                                               generator=g))
    assert sorted(no_repl) == [0, 1, 2, 3, 4]
    s = edata.WeightedRandomSampler(w, 7)
    assert len(s) == 7 and s.weights.dtype == ember.float64


@pytest.mark.parametrize("args", [([1.0, 2.0], 0), ([1.0, 2.0], True), ([1.0, 2.0], 2, 1),
                                  ([[1.0, 2.0]], 2)])
def test_weighted_random_sampler_errors_match_torch(args):
    _raises_like_torch(lambda: edata.WeightedRandomSampler(*args),
                       lambda: tdata.WeightedRandomSampler(*args))


@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                              (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(n, bs, drop_last):
    ours = edata.BatchSampler(edata.SequentialSampler(range(n)), bs, drop_last)
    theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("args", [(0, False), (True, False), (2, 1)])
def test_batch_sampler_errors_match_torch(args):
    _raises_like_torch(lambda: edata.BatchSampler(range(4), *args),
                       lambda: tdata.BatchSampler(range(4), *args))
