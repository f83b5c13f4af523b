"""nn.utils.rnn vs torch: packing, unpacking, padding (values, gradients, errors)."""
import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as T

import ember
from ember.nn.utils import rnn as E


def _np(t):
    return t.detach().numpy()


def _pair(a, requires_grad=False):
    e = ember.tensor(a, requires_grad=requires_grad)
    t = torch.tensor(a, requires_grad=requires_grad)
    return e, t


def _same_packed(pe, pt):
    np.testing.assert_array_equal(_np(pe.data), _np(pt.data))
    assert pe.batch_sizes.tolist() == pt.batch_sizes.tolist()
    assert pe.batch_sizes.dtype == ember.int64
    for a, b in ((pe.sorted_indices, pt.sorted_indices),
                 (pe.unsorted_indices, pt.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [
    ([5, 3, 3, 1], True), ([3, 5, 1, 3], False), ([2, 2, 5, 2], False), ([5, 5, 5, 5], True)])
def test_pack_pad_roundtrip_and_grads(batch_first, lengths, enforce_sorted):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5, 3) if batch_first else (5, 4, 3))
    xe, xt = _pair(x, requires_grad=True)
    pe = E.pack_padded_sequence(xe, lengths, batch_first, enforce_sorted)
    pt = T.pack_padded_sequence(xt, lengths, batch_first, enforce_sorted)
    _same_packed(pe, pt)
    for total in (None, 7):
        oe, le = E.pad_packed_sequence(pe, batch_first, padding_value=-2.0, total_length=total)
        ot, lt = T.pad_packed_sequence(pt, batch_first, padding_value=-2.0, total_length=total)
        np.testing.assert_array_equal(_np(oe), _np(ot))
        assert le.tolist() == lt.tolist() and le.dtype == ember.int64
    w = rng.standard_normal(tuple(oe.shape))
    (oe * ember.tensor(w)).sum().backward()
    (ot * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(xe.grad), _np(xt.grad))


def test_lengths_as_tensor_and_packed_sequence_api():
    x = np.arange(12.0).reshape(3, 2, 2)
    pe = E.pack_padded_sequence(ember.tensor(x), ember.tensor([3, 2]))
    pt = T.pack_padded_sequence(torch.tensor(x), torch.tensor([3, 2]))
    _same_packed(pe, pt)
    data, batch_sizes, sorted_indices, unsorted_indices = pe  # a namedtuple
    assert sorted_indices is None and unsorted_indices is None
    assert pe.float().data.dtype == ember.float32 and pe.double() is pe
    assert not pe.is_cuda
    assert E.invert_permutation(ember.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert E.invert_permutation(None) is None
    rebuilt = E.PackedSequence(data, batch_sizes)
    assert rebuilt.unsorted_indices is None


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence(batch_first, padding_side):
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 3)]
    es = [ember.tensor(s, requires_grad=True) for s in seqs]
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    oe = E.pad_sequence(es, batch_first, 1.5, padding_side)
    ot = T.pad_sequence(ts, batch_first, 1.5, padding_side)
    np.testing.assert_array_equal(_np(oe), _np(ot))
    w = rng.standard_normal(tuple(ot.shape))
    (oe * ember.tensor(w)).sum().backward()
    (ot * torch.tensor(w)).sum().backward()
    for a, b in zip(es, ts):
        np.testing.assert_allclose(_np(a.grad), _np(b.grad))


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_unpack_sequence(enforce_sorted):
    rng = np.random.default_rng(2)
    lens = (4, 3, 1) if enforce_sorted else (1, 4, 3)
    seqs = [rng.standard_normal((n, 3)) for n in lens]
    pe = E.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted)
    pt = T.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted)
    _same_packed(pe, pt)
    for a, s in zip(E.unpack_sequence(pe), seqs):
        np.testing.assert_array_equal(_np(a), s)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence(batch_first):
    x = np.random.default_rng(3).standard_normal((3, 5, 2) if batch_first else (5, 3, 2))
    lengths = [5, 2, 3]
    got = E.unpad_sequence(ember.tensor(x), ember.tensor(lengths), batch_first)
    want = T.unpad_sequence(torch.tensor(x), torch.tensor(lengths), batch_first)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(_np(a), _np(b))


def _raises_like(fe, ft):
    with pytest.raises(Exception) as want:
        ft()
    with pytest.raises(type(want.value)) as got:
        fe()
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("lengths", [[2, 3, 1], [3, 2], [3, 2, 0]])
def test_pack_errors(lengths):
    x = np.zeros((3, 3, 1))
    _raises_like(lambda: E.pack_padded_sequence(ember.tensor(x), lengths),
                 lambda: T.pack_padded_sequence(torch.tensor(x), lengths))


def test_pad_errors():
    seq = [np.ones((2, 3)), np.ones((4, 2))]
    _raises_like(lambda: E.pad_sequence([ember.tensor(s) for s in seq]),
                 lambda: T.pad_sequence([torch.tensor(s) for s in seq]))
    _raises_like(lambda: E.pad_sequence([]), lambda: T.pad_sequence([]))
    one = [np.ones((2, 3))]
    _raises_like(lambda: E.pad_sequence([ember.tensor(s) for s in one], padding_side="up"),
                 lambda: T.pad_sequence([torch.tensor(s) for s in one], padding_side="up"))
    pe = E.pack_sequence([ember.ones(3, 1)])
    pt = T.pack_sequence([torch.ones(3, 1)])
    _raises_like(lambda: E.pad_packed_sequence(pe, total_length=2),
                 lambda: T.pad_packed_sequence(pt, total_length=2))
    with pytest.raises(RuntimeError, match="exceeds"):  # PyTorch reads out of bounds here
        E.pack_padded_sequence(ember.zeros(2, 1, 1), [3])
