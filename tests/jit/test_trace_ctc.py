"""Traced ctc_loss gives PyTorch's (and eager ember's) gradient, which is not the derivative of
its forward recursion: PyTorch adds exp(log_probs) on every frame inside the input (visible
for log-probabilities that are leaves, not outputs of a log_softmax in the same graph), is
nan where a log-probability is -inf, nan for an impossible alignment and 0 for it with
zero_infinity. The traced graph holds ctc's composite, whose derivative is all that; graph
autodiff differentiates it. Lengths are data (strict=False records them as constants)."""
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F

# name -> (input_lengths, target_lengths, class whose log-probability is -inf, kwargs)
CASES = {
    "leaf": ((5, 4, 3), (3, 2, 1), None, {}),
    "no frames": ((0, 5, 3), (0, 2, 1), None, {}),
    "impossible": ((2, 5, 3), (3, 2, 1), None, {}),
    "impossible zero_infinity": ((2, 5, 3), (3, 2, 1), None, dict(zero_infinity=True)),
    "-inf": ((5, 4, 3), (3, 2, 1), 3, {}),
    "-inf zero_infinity": ((5, 4, 3), (3, 2, 1), 3, dict(zero_infinity=True)),
    "blank 2 mean": ((5, 4, 3), (3, 2, 1), None, dict(blank=2, reduction="mean")),
    "concatenated sum": ((5, 4, 3), (3, 2, 1), None, dict(reduction="sum", concat=True)),
}
TARGETS = np.array([[1, 1, 3], [3, 1, 0], [1, 0, 0]])


def _inputs(il, tl, dead, concat):
    lp = np.log(np.random.default_rng(5).dirichlet(np.ones(4), size=(5, 3)))
    if dead is not None:
        lp[:, :, dead] = -np.inf
    tg = np.concatenate([TARGETS[n, :k] for n, k in enumerate(tl)]) if concat else TARGETS
    return lp, tg, np.array(il), np.array(tl)


def _weights(out_shape):
    return np.array([0.5, -1.0, 2.0])[:out_shape[0]] if out_shape else np.array(0.7)


@pytest.mark.parametrize("name", list(CASES))
def test_traced_ctc_gradient_is_torchs(name):
    il, tl, dead, kw = CASES[name]
    kw = dict(kw)
    lp, tg, il, tl = _inputs(il, tl, dead, kw.pop("concat", False))
    kw.setdefault("reduction", "none")
    t = torch.tensor(lp, requires_grad=True)
    want = torch.nn.functional.ctc_loss(t, *(torch.tensor(a) for a in (tg, il, tl)), **kw)
    up = _weights(tuple(want.shape))
    want.backward(torch.tensor(up))

    def fn(x, targets, input_lengths, target_lengths):
        return F.ctc_loss(x, targets, input_lengths, target_lengths, **kw)
    args = tuple(ember.tensor(a) for a in (tg, il, tl))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ember.jit.TracerWarning)
        traced = ember.jit.trace(fn, (ember.tensor(lp),) + args, strict=False)
    for run in (fn, traced, traced):   # eager, then the graph twice (its gradient plan kept)
        x = ember.tensor(lp, requires_grad=True)
        out = run(x, *args)
        out.backward(ember.tensor(up))
        np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg="eager" if run is fn else "traced")


def test_traced_ctc_through_log_softmax_matches_eager():
    # with log_softmax in the graph the exp(log_probs) term cancels: trace == eager too
    z0 = np.random.default_rng(6).standard_normal((6, 2, 5))
    args = (ember.tensor([[1, 2, 2], [4, 3, 0]]), ember.tensor([6, 5]), ember.tensor([3, 2]))

    def fn(z, *rest):
        return F.ctc_loss(z.log_softmax(2), *rest)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ember.jit.TracerWarning)
        traced = ember.jit.trace(fn, (ember.tensor(z0),) + args, strict=False)
    grads = []
    for run in (fn, traced):
        z = ember.tensor(z0, requires_grad=True)
        run(z, *args).backward()
        grads.append(z.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10, atol=1e-13)
