"""cross_entropy / nll_loss (and their modules) against torch: class indices of any rank,
class probabilities, weights, ignore_index, label smoothing, reductions, errors."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from test_loss_oracle import classes, compare, rand, same_error, uniform

REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(5, 4), (3, 4, 2), (2, 3, 2, 3), (2, 3, 2, 1, 2), (4,)]


def _target_shape(shape):
    return () if len(shape) == 1 else (shape[0], *shape[2:])


def _index_target(shape, ignore=None):
    t = classes(shape[1] if len(shape) > 1 else shape[0], *_target_shape(shape))
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return t


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_index_targets(fn, shape, reduction):
    compare(fn, [rand(*shape), _index_target(shape)], dict(reduction=reduction))


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 2)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_weight_and_ignore_index(fn, shape, reduction, ignore_index):
    c = shape[1]
    compare(fn, [rand(*shape), _index_target(shape, ignore_index)],
            dict(reduction=reduction, weight=uniform(c, lo=0.2, hi=2.0),
                 ignore_index=ignore_index))


@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 2, 2), (5,)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_label_smoothing_index_targets(shape, reduction, weighted):
    c = shape[1] if len(shape) > 1 else shape[0]
    kw = dict(reduction=reduction, label_smoothing=0.2, ignore_index=1)
    if weighted:
        kw["weight"] = uniform(c, lo=0.2, hi=2.0)
    compare("cross_entropy", [rand(*shape), _index_target(shape, 1)], kw)


@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4), (4,)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_probability_targets(shape, reduction, smoothing, weighted):
    c = shape[1] if len(shape) > 1 else shape[0]
    p = uniform(*shape)
    p = p / p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if weighted:
        kw["weight"] = uniform(c, lo=0.2, hi=2.0)
    compare("cross_entropy", [rand(*shape), p], kw, grad=(0, 1))


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32(fn, reduction):
    compare(fn, [rand(8, 7), _index_target((8, 7), -100)],
            dict(reduction=reduction, weight=uniform(7, lo=0.5)), dtype="float32")
    compare("cross_entropy", [rand(8, 7), classes(7, 8)],
            dict(reduction=reduction, label_smoothing=0.1), dtype="float32")


def test_byte_targets_and_1d_target_of_size_one():
    compare("cross_entropy", [rand(4, 3), classes(3, 4).astype(np.uint8)])
    # torch's own backward fails for this shape pair, so only the value is compared
    compare("nll_loss", [rand(5), np.array([2])], dict(reduction="none"), grad=())


def test_all_targets_ignored_gives_nan_loss_and_zero_grad():
    e, t = compare("cross_entropy", [rand(3, 4), np.full(3, -100)])
    assert np.isnan(float(e))
    compare("cross_entropy", [rand(3, 4), np.full(3, -100)], dict(label_smoothing=0.1))
    compare("nll_loss", [rand(3, 4), np.full(3, 1)], dict(ignore_index=1, reduction="sum"))


def test_empty_batch():
    compare("cross_entropy", [rand(0, 4), classes(4, 0)], grad=())
    compare("cross_entropy", [rand(0, 4), classes(4, 0)], dict(reduction="sum"), grad=())
    compare("cross_entropy", [rand(0, 4), uniform(0, 4)], grad=())


def test_weight_requiring_grad_gets_a_gradient():
    # torch refuses (nll_loss is not differentiable in weight); ember gives the true gradient
    x = ember.randn(5, 4, dtype=ember.float64)
    w = ember.rand(4, dtype=ember.float64, requires_grad=True)
    t = ember.tensor([0, 1, 2, 3, 1])
    assert ember.autograd.gradcheck(lambda w: F.cross_entropy(x, t, weight=w,
                                                              label_smoothing=0.1), (w,))


def _gradcheck(fn, *args):
    assert ember.autograd.gradcheck(fn, args)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_fused_backward(reduction):
    x = ember.randn(4, 3, 2, dtype=ember.float64, requires_grad=True)
    t = ember.tensor([[0, 2], [1, -100], [2, 2], [0, 1]])
    w = ember.tensor([0.5, 1.0, 2.0], dtype=ember.float64)
    _gradcheck(lambda x: F.cross_entropy(x, t, weight=w, reduction=reduction,
                                         label_smoothing=0.25), x)
    _gradcheck(lambda x: F.nll_loss(x, t, weight=w, reduction=reduction), x)


def test_double_backward_matches_torch():
    x_np, t_np = rand(4, 5), classes(5, 4)
    grads = []
    for lib, fn in ((ember, F.cross_entropy), (torch, torch.nn.functional.cross_entropy)):
        x = lib.tensor(x_np, requires_grad=True)
        loss = fn(x, lib.tensor(t_np), label_smoothing=0.1)
        (g,) = lib.autograd.grad(loss, x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append(gg.detach().numpy())
    np.testing.assert_allclose(*grads, rtol=1e-7, atol=1e-10)


def test_module_forms():
    w = uniform(4, lo=0.5)
    compare(None, [rand(6, 4), _index_target((6, 4), 3)], module="CrossEntropyLoss",
            ctor=dict(weight=w, ignore_index=3, reduction="sum", label_smoothing=0.1))
    compare(None, [rand(6, 4), _index_target((6, 4), -100)], module="NLLLoss",
            ctor=dict(weight=w, reduction="none"))
    m = ember.nn.CrossEntropyLoss(weight=ember.ones(3))
    assert list(m.state_dict()) == ["weight"] and m.ignore_index == -100
    assert repr(m) == "CrossEntropyLoss()" and m.label_smoothing == 0.0
    with pytest.warns(FutureWarning):
        ember.nn.NLLLoss2d()


def test_legacy_size_average_and_reduce():
    x, t = rand(5, 3), classes(3, 5)
    for sa, red in [(False, None), (None, False), (True, True)]:
        compare("cross_entropy", [x, t], dict(size_average=sa, reduce=red))
        compare("nll_loss", [x, t], dict(size_average=sa, reduce=red))
    with pytest.warns(UserWarning, match="reduction='sum'"):
        F.cross_entropy(ember.randn(2, 3), ember.tensor([0, 1]), size_average=False)
    with pytest.warns(UserWarning, match="reduction='none'"):
        assert ember.nn.CrossEntropyLoss(reduce=False).reduction == "none"


def test_out_of_range_targets_raise_index_error():
    for t in ([5, 0, 1], [-1, 0, 1]):
        same_error(lambda lib, f, t=t: f.cross_entropy(lib.randn(3, 4), lib.tensor(t)))
    same_error(lambda lib, f: f.nll_loss(lib.randn(2, 3, 4), lib.full((2, 4), 7)))


ERRORS = {
    "0d nll input": lambda lib, f: f.nll_loss(lib.tensor(1.0), lib.tensor(0)),
    "0d input": lambda lib, f: f.cross_entropy(lib.tensor(1.0), lib.tensor([0])),
    "0d input and target": lambda lib, f: f.cross_entropy(lib.tensor(1.0), lib.tensor(0.5)),
    "batch": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.tensor([1, 0])),
    "1d target size": lambda lib, f: f.nll_loss(lib.randn(4), lib.tensor([0, 1])),
    "multi-target": lambda lib, f: f.nll_loss(lib.randn(3, 4), lib.zeros(3, 1).long()),
    "3d target": lambda lib, f: f.nll_loss(lib.randn(2, 3, 4), lib.zeros(2, 3).long()),
    "4d target dim": lambda lib, f: f.nll_loss(lib.randn(2, 3, 4, 5), lib.zeros(2, 4).long()),
    "4d target size": lambda lib, f: f.nll_loss(lib.randn(2, 3, 4, 5), lib.zeros(2, 4, 4).long()),
    "5d target": lambda lib, f: f.nll_loss(lib.randn(2, 3, 4, 5, 6), lib.zeros(2, 4, 6, 5).long()),
    "int target": lambda lib, f: f.nll_loss(lib.randn(3, 4), lib.tensor([0, 1, 2]).int()),
    "float target": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.tensor([0.0, 1, 2])),
    "long prob": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.zeros(3, 4).long()),
    "ignore prob": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.rand(3, 4),
                                                  ignore_index=1),
    "smoothing": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]),
                                                label_smoothing=1.5),
    "weight prob": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.rand(3, 4),
                                                  weight=lib.ones(3)),
    "weight index": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]),
                                                   weight=lib.ones(3)),
    "weight 3d": lambda lib, f: f.nll_loss(lib.randn(2, 3, 4), lib.zeros(2, 4).long(),
                                           weight=lib.ones(2)),
    "weight dtype": lambda lib, f: f.nll_loss(lib.randn(3, 4), lib.tensor([0, 1, 2]),
                                              weight=lib.ones(4).double()),
    "reduction": lambda lib, f: f.cross_entropy(lib.randn(3, 4), lib.tensor([0, 1, 2]),
                                                reduction="batchmean"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    same_error(ERRORS[case])
