"""Embedding and EmbeddingBag against torch: lookups, weight gradients (padding row gets
none, scale_grad_by_freq), max_norm renormalizing looked-up rows in place, bag modes
sum/mean/max with offsets, include_last_offset, per_sample_weights and padding_idx,
from_pretrained, default init, reprs and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _nn_compare import assert_close, module_pair, same_error, same_repr, same_state_keys

W = np.random.default_rng(0).standard_normal((10, 4))
IDX = [[1, 2, 2, 0], [3, 9, 1, 1]]
FLAT = [1, 2, 4, 5, 4, 3, 2, 9]


def _run(ef, tf, kw, idx, extra=()):
    """Output, weight gradient and the weight itself (max_norm edits it) agree."""
    ew = ember.tensor(W, requires_grad=True)
    tw = torch.tensor(W, requires_grad=True)
    eo = ef(ember.tensor(idx), ew, *[None if a is None else ember.tensor(a) for a in extra], **kw)
    to = tf(torch.tensor(idx), tw, *[None if a is None else torch.tensor(a) for a in extra], **kw)
    assert_close(eo, to)
    g = np.random.default_rng(1).standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    assert_close(ew.grad, tw.grad)
    assert_close(ew.detach(), tw.detach())


@pytest.mark.parametrize("kw", [{}, dict(padding_idx=1), dict(padding_idx=-1),
                                dict(scale_grad_by_freq=True), dict(max_norm=1.0),
                                dict(max_norm=0.5, norm_type=1.0),
                                dict(padding_idx=2, scale_grad_by_freq=True), dict(sparse=True)])
def test_embedding(kw):
    _run(F.embedding, TF.embedding, kw, IDX)
    _run(F.embedding, TF.embedding, kw, 3)


BAG_CASES = [({}, IDX, None), ({}, FLAT, [0, 2, 2, 5]), (dict(padding_idx=2), FLAT, [0, 2, 2, 5]),
             (dict(include_last_offset=True), FLAT, [0, 2, 2, 5, 8]),
             (dict(include_last_offset=True), FLAT, [0, 2, 2, 5]), (dict(max_norm=1.0), IDX, None),
             (dict(padding_idx=1), IDX, None)]


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("kw,idx,offsets", BAG_CASES, ids=range(len(BAG_CASES)))
def test_embedding_bag(mode, kw, idx, offsets):
    _run(F.embedding_bag, TF.embedding_bag, dict(kw, mode=mode), idx, [offsets])


@pytest.mark.parametrize("padding_idx", [None, 4])
def test_embedding_bag_per_sample_weights(padding_idx):
    psw = np.random.default_rng(2).standard_normal(8)
    ew, tw = ember.tensor(W, requires_grad=True), torch.tensor(W, requires_grad=True)
    ep, tp = ember.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    eo = F.embedding_bag(ember.tensor(FLAT), ew, ember.tensor([0, 2, 2, 5]), mode="sum",
                         per_sample_weights=ep, padding_idx=padding_idx)
    to = TF.embedding_bag(torch.tensor(FLAT), tw, torch.tensor([0, 2, 2, 5]), mode="sum",
                          per_sample_weights=tp, padding_idx=padding_idx)
    assert_close(eo, to)
    (eo * eo).sum().backward()
    (to * to).sum().backward()
    assert_close(ew.grad, tw.grad)
    assert_close(ep.grad, tp.grad)


def test_embedding_double_backward():
    w = ember.tensor(W, requires_grad=True)
    f = lambda w: F.embedding(ember.tensor(IDX), w) ** 2  # noqa: E731
    assert ember.autograd.gradcheck(f, (w,))
    assert ember.autograd.gradgradcheck(f, (w,))


def test_embedding_errors():
    same_error(lambda: F.embedding(ember.tensor([1.0]), ember.tensor(W)),
               lambda: TF.embedding(torch.tensor([1.0]), torch.tensor(W)))
    same_error(lambda: F.embedding(ember.tensor([10]), ember.tensor(W)),
               lambda: TF.embedding(torch.tensor([10]), torch.tensor(W)))
    same_error(lambda: F.embedding(ember.tensor([1]), ember.tensor(W), padding_idx=10),
               lambda: TF.embedding(torch.tensor([1]), torch.tensor(W), padding_idx=10))
    same_error(lambda: nn.Embedding(3, 2, padding_idx=-4),
               lambda: torch.nn.Embedding(3, 2, padding_idx=-4))
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(ember.tensor(IDX), ember.tensor(W), ember.tensor([0, 1]))
    cases = [(dict(mode="foo"), IDX, None), (dict(), FLAT, None),
             (dict(mode="max", scale_grad_by_freq=True), IDX, None),
             (dict(mode="max", sparse=True), IDX, None)]
    for kw, idx, off in cases:
        same_error(lambda: F.embedding_bag(ember.tensor(idx), ember.tensor(W),
                                           None if off is None else ember.tensor(off), **kw),
                   lambda: TF.embedding_bag(torch.tensor(idx), torch.tensor(W),
                                            None if off is None else torch.tensor(off), **kw))
    same_error(lambda: F.embedding_bag(ember.tensor(IDX), ember.tensor(W), mode="mean",
                                       per_sample_weights=ember.ones(2, 4)),
               lambda: TF.embedding_bag(torch.tensor(IDX), torch.tensor(W), mode="mean",
                                        per_sample_weights=torch.ones(2, 4)))


@pytest.mark.parametrize("build", [
    lambda nn: nn.Embedding(10, 4), lambda nn: nn.Embedding(10, 4, padding_idx=3, max_norm=2.0),
    lambda nn: nn.Embedding(10, 4, norm_type=1.0, scale_grad_by_freq=True, sparse=True),
    lambda nn: nn.EmbeddingBag(10, 4), lambda nn: nn.EmbeddingBag(10, 4, mode="max", max_norm=1.0),
    lambda nn: nn.EmbeddingBag(10, 4, mode="sum", padding_idx=-2, norm_type=3.0),
])
def test_layers(build):
    em, tm = module_pair(build)
    same_repr(em, tm)
    same_state_keys(em, tm)
    assert_close(em(ember.tensor(IDX)), tm(torch.tensor(IDX)))


def test_default_init_and_padding_row():
    m = nn.Embedding(2000, 8, padding_idx=5)
    w = m.weight.detach().numpy()
    assert np.all(w[5] == 0)
    assert abs(w.std() - 1.0) < 0.03 and abs(w.mean()) < 0.03
    out = m(ember.tensor([5, 6, 5]))
    out.sum().backward()
    assert np.all(m.weight.grad.numpy()[5] == 0) and np.all(m.weight.grad.numpy()[6] == 1)
    bag = nn.EmbeddingBag(10, 3, padding_idx=0)
    assert np.all(bag.weight.detach().numpy()[0] == 0)


def test_from_pretrained():
    w = ember.tensor(W)
    e = nn.Embedding.from_pretrained(w, padding_idx=1)
    assert not e.weight.requires_grad and e.padding_idx == 1
    np.testing.assert_array_equal(e(ember.tensor([2])).numpy()[0], W[2])
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    b = nn.EmbeddingBag.from_pretrained(w, mode="sum")
    assert not b.weight.requires_grad
    np.testing.assert_allclose(b(ember.tensor([[1, 2]])).numpy()[0], W[1] + W[2])
    same_error(lambda: nn.Embedding.from_pretrained(ember.randn(3)),
               lambda: torch.nn.Embedding.from_pretrained(torch.randn(3)))
    same_error(lambda: nn.Embedding(3, 2, _weight=ember.randn(2, 2)),
               lambda: torch.nn.Embedding(3, 2, _weight=torch.randn(2, 2)))
