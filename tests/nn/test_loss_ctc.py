"""ctc_loss / CTCLoss against torch: random input and target lengths, padded and concatenated
targets, tensor and tuple lengths, every reduction, blank index, zero_infinity with impossible
alignments, unbatched input; values and log_probs gradients; PyTorch's gradient under
create_graph too (leaf log-probabilities, -inf entries, impossible alignments) and a second
derivative; errors."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from test_loss_oracle import compare, same_error

REDUCTIONS = ["mean", "sum", "none"]


def _case(seed, T=10, N=4, C=5, S=4, blank=0, short=False):
    rng = np.random.default_rng(seed)
    log_probs = np.log(rng.dirichlet(np.ones(C), size=(T, N)))
    labels = [c for c in range(C) if c != blank]
    targets = rng.choice(labels, (N, S))
    target_lengths = rng.integers(0, S + 1, N)
    target_lengths[0] = S
    targets[0, :2] = targets[0, 0]  # a repeated label needs a blank between its copies
    lo = 1 if short else np.minimum(2 * target_lengths + 1, T)
    input_lengths = rng.integers(lo, T + 1, N)
    input_lengths[-1] = T
    return log_probs, targets, input_lengths, target_lengths


def _concatenated(targets, target_lengths):
    return np.concatenate([targets[n, :k] for n, k in enumerate(target_lengths)])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
@pytest.mark.parametrize("seed", [0, 1])
def test_against_torch(seed, layout, reduction, dtype):
    lp, tg, il, tl = _case(seed)
    if layout == "concatenated":
        tg = _concatenated(tg, tl)
    compare("ctc_loss", [lp, tg, il, tl], dict(reduction=reduction), dtype=dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_tuple_lengths_and_blank(reduction):
    lp, tg, il, tl = _case(2, C=6, blank=3)
    compare("ctc_loss", [lp, tg, tuple(int(v) for v in il), tuple(int(v) for v in tl)],
            dict(reduction=reduction, blank=3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_zero_infinity_with_impossible_alignments(reduction):
    lp, tg, il, tl = _case(3, T=8, S=4, short=True)
    il[0] = 2  # 4 labels, two of them repeated: cannot fit in 2 frames
    e, t = compare("ctc_loss", [lp, tg, il, tl], dict(reduction="none", zero_infinity=True))
    assert float(e[0]) == 0.0
    compare("ctc_loss", [lp, tg, il, tl], dict(reduction=reduction, zero_infinity=True))
    e, _ = compare("ctc_loss", [lp, tg, il, tl], dict(reduction="none"), grad=())
    assert np.isinf(e.numpy()[0])


def test_unbatched_and_empty_targets():
    lp, tg, il, tl = _case(4, N=1)
    for reduction in REDUCTIONS:
        compare("ctc_loss", [lp[:, 0], tg[0], np.array(il[0]), np.array(tl[0])],
                dict(reduction=reduction))
    compare("ctc_loss", [lp, np.zeros((1, 0), np.int64), il, np.zeros(1, np.int64)],
            dict(reduction="none"))
    compare("ctc_loss", [lp, np.zeros(0, np.int64), il, np.zeros(1, np.int64)])


def test_module_and_int32_targets():
    lp, tg, il, tl = _case(5)
    compare(None, [lp, tg.astype(np.int32), il, tl], module="CTCLoss",
            ctor=dict(reduction="sum", zero_infinity=True))


def test_gradient_through_log_softmax_is_exact():
    # torch's ctc gradient assumes log_softmax inputs; through it the gradient is exact
    lp, tg, il, tl = _case(6, T=6, N=2, C=4, S=2)
    z = ember.tensor(lp, requires_grad=True)
    args = (ember.tensor(tg), ember.tensor(il), ember.tensor(tl))
    assert ember.autograd.gradcheck(
        lambda z: F.ctc_loss(F.log_softmax(z, 2), *args, reduction="mean"), (z,))


# leaf log-probabilities (no log_softmax to cancel PyTorch's exp(log_probs) term), -inf
# entries (nan in PyTorch's gradient), impossible alignments with and without zero_infinity
SPECIAL = {
    "leaf": (dict(), {}),
    "no frames": (dict(il=[0, 5, 3], tl=[0, 2, 1]), {}),
    "impossible": (dict(il=[2, 5, 3]), {}),
    "impossible zero_infinity": (dict(il=[2, 5, 3]), dict(zero_infinity=True)),
    "-inf": (dict(dead_class=3), {}),
    "-inf zero_infinity": (dict(dead_class=3), dict(zero_infinity=True)),
}


def special_case(il=(5, 4, 3), tl=(3, 2, 1), dead_class=None):
    """(log_probs (5, 3, 4), padded targets, input_lengths, target_lengths)."""
    rng = np.random.default_rng(11)
    lp = np.log(rng.dirichlet(np.ones(4), size=(5, 3)))
    if dead_class is not None:
        lp[:, :, dead_class] = -np.inf
    return lp, np.array([[1, 1, 2], [2, 3, 0], [3, 0, 0]]), np.array(il), np.array(tl)


def torch_ctc_grad(lp, tg, il, tl, up, **kw):
    t = torch.tensor(lp, requires_grad=True)
    out = torch.nn.functional.ctc_loss(t, *(torch.tensor(a) for a in (tg, il, tl)),
                                       reduction="none", **kw)
    out.backward(torch.tensor(up))
    return out.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name", list(SPECIAL))
def test_create_graph_gradient_is_torchs(name):
    # under create_graph the gradient is taken through the composite, which must give
    # PyTorch's gradient (not the recursion's own derivative), nan pattern included
    case, kw = SPECIAL[name]
    lp, tg, il, tl = special_case(**case)
    up = np.array([0.5, -1.0, 2.0])
    want_out, want = torch_ctc_grad(lp, tg, il, tl, up, **kw)
    x = ember.tensor(lp, requires_grad=True)
    out = F.ctc_loss(x, *(ember.tensor(a) for a in (tg, il, tl)), reduction="none", **kw)
    (g,) = ember.autograd.grad(out, x, ember.tensor(up), create_graph=True)
    np.testing.assert_allclose(out.detach().numpy(), want_out, rtol=1e-12)
    np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-10, atol=1e-12)
    assert g.requires_grad


def test_second_derivative_through_the_composite():
    lp, tg, il, tl = _case(8, T=4, N=2, C=3, S=1)
    args = tuple(ember.tensor(a) for a in (tg, il, tl))
    x = ember.tensor(lp, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x: F.ctc_loss(x, *args), (x,))


def test_matches_torch_on_longer_sequences():
    lp, tg, il, tl = _case(7, T=40, N=3, C=8, S=12)
    compare("ctc_loss", [lp, tg, il, tl], dict(reduction="mean"), dtype="float32",
            tol=dict(rtol=1e-4, atol=1e-5))


ERRORS = {
    "input too long": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                lib.ones(3, 4).long(), (7, 1, 6), (4, 2, 0)),
    "negative input": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                lib.ones(3, 4).long(), (-1, 1, 6), (4, 2, 0)),
    "negative target": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                 lib.ones(3, 4).long(), (6, 6, 6), (-1, 1, 1)),
    "target too short": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                  lib.ones(3, 4).long(), (6, 6, 6), (5, 1, 1)),
    "batch of targets": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                  lib.ones(2, 4).long(), (6, 6, 6), (4, 1, 1)),
    "concatenated size": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                   lib.ones(7).long(), (6, 6, 6), (4, 2, 0)),
    "input lengths size": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                    lib.ones(3, 4).long(), (6, 6), (4, 2, 0)),
    "target lengths size": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                                     lib.ones(3, 4).long(), (6, 6, 6), (4, 2)),
    "blank": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                       lib.ones(3, 4).long(), (6, 6, 6), (4, 2, 0), blank=5),
    "target dims": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                             lib.ones(3, 4, 1).long(), (6, 6, 6), (4, 2, 0)),
    "float lengths": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                               lib.ones(3, 4).long(), lib.full((3,), 6.0),
                                               lib.tensor([4, 2, 0])),
    "empty": lambda lib, f: f.ctc_loss(lib.randn(0, 2, 4), lib.ones(2, 1).long(), (0, 0),
                                       (1, 0)),
    "reduction": lambda lib, f: f.ctc_loss(lib.randn(6, 3, 5).log_softmax(2),
                                           lib.ones(3, 4).long(), (6, 6, 6), (4, 2, 0),
                                           reduction="bogus"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    same_error(ERRORS[case])


def test_lists_are_accepted_as_lengths():
    # torch only takes tuples or tensors; ember also takes lists
    lp = torch.randn(6, 2, 4).log_softmax(2)
    want = torch.nn.functional.ctc_loss(lp, torch.ones(2, 2).long(), (6, 5), (2, 1))
    got = F.ctc_loss(ember.tensor(lp.numpy()), ember.ones(2, 2).long(), [6, 5], [2, 1])
    np.testing.assert_allclose(float(got), float(want), rtol=1e-6)
