"""Binary and multi-label losses against torch: binary_cross_entropy (weights, the -100 log
clamp, target gradients), binary_cross_entropy_with_logits (pos_weight broadcasting, extreme
logits), soft_margin, multilabel_soft_margin, multi_margin, multilabel_margin."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from test_loss_oracle import classes, compare, rand, same_error, signs, uniform

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = ["float64", "float32"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (3, 4), (4,), (3, 1)])
def test_bce(weight_shape, reduction, dtype):
    kw = dict(reduction=reduction)
    if weight_shape:
        kw["weight"] = uniform(*weight_shape, lo=0.2, hi=2)
    compare("binary_cross_entropy", [uniform(3, 4, lo=0.02, hi=0.98), uniform(3, 4)], kw,
            grad=(0, 1), dtype=dtype)


def test_bce_saturated_probabilities():
    # log(0) is clamped at -100: finite loss; torch's gradients, not the clamp's zeros
    x = np.array([0.0, 1.0, 1e-30, 0.5])
    compare("binary_cross_entropy", [x, np.array([1.0, 0.0, 0.3, 0.5])], grad=(0,),
            tol=dict(rtol=1e-7, atol=0))
    e, _ = compare("binary_cross_entropy", [np.array([0.0, 1.0]), np.array([1.0, 0.0])],
                   grad=())
    assert float(e) == 100.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight_shape", [None, (4,), (3, 4), (3, 1)])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits(pos_weight_shape, weighted, reduction, dtype):
    kw = dict(reduction=reduction)
    if pos_weight_shape:
        kw["pos_weight"] = uniform(*pos_weight_shape, lo=0.5, hi=3)
    if weighted:
        kw["weight"] = uniform(4, lo=0.2, hi=2)
    compare("binary_cross_entropy_with_logits", [rand(3, 4) * 3, uniform(3, 4)], kw,
            grad=(0, 1), dtype=dtype)


def test_bce_with_logits_is_stable_for_extreme_logits():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    for dtype in DTYPES:
        compare("binary_cross_entropy_with_logits", [x, np.array([1.0, 0.0, 0.5, 1.0, 0.0])],
                dict(pos_weight=np.array([2.0])), grad=(0, 1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_soft_margin(reduction, dtype):
    compare("soft_margin_loss", [rand(4, 5) * 3, signs(4, 5)], dict(reduction=reduction),
            dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 4)])
@pytest.mark.parametrize("weighted", [False, True])
def test_multilabel_soft_margin(shape, weighted, reduction, dtype):
    kw = dict(reduction=reduction)
    if weighted:
        kw["weight"] = uniform(shape[-1], lo=0.2, hi=2)
    compare("multilabel_soft_margin_loss", [rand(*shape), (uniform(*shape) > 0.5) * 1.0], kw,
            grad=(0, 1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p,margin", [(1, 1.0), (2, 0.5)])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin(p, margin, weighted, reduction, dtype):
    kw = dict(p=p, margin=margin, reduction=reduction)
    if weighted:
        kw["weight"] = uniform(5, lo=0.2, hi=2)
    compare("multi_margin_loss", [rand(6, 5), classes(5, 6)], kw, dtype=dtype)


def test_multi_margin_vector_shapes():
    compare("multi_margin_loss", [rand(5), np.array([2])], dict(reduction="none"))
    compare("multi_margin_loss", [rand(5), np.array(2)], dict(reduction="none"))
    compare("multi_margin_loss", [np.array(0.5), np.array(0)], dict(reduction="none"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin(reduction, dtype):
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 0, 0, 0], [2, 2, -1, -1]])
    compare("multilabel_margin_loss", [rand(4, 4), t], dict(reduction=reduction), dtype=dtype)
    compare("multilabel_margin_loss", [rand(4), t[0]], dict(reduction=reduction), dtype=dtype)


@pytest.mark.parametrize("module,ctor,args", [
    ("BCELoss", dict(weight=np.full(4, 0.5)), lambda: [uniform(3, 4, lo=0.1, hi=0.9),
                                                        uniform(3, 4)]),
    ("BCEWithLogitsLoss", dict(pos_weight=np.arange(1.0, 5.0), reduction="sum"),
     lambda: [rand(3, 4), uniform(3, 4)]),
    ("SoftMarginLoss", {}, lambda: [rand(3, 4), signs(3, 4)]),
    ("MultiLabelSoftMarginLoss", dict(weight=np.arange(1.0, 5.0)),
     lambda: [rand(3, 4), (uniform(3, 4) > 0.5) * 1.0]),
    ("MultiMarginLoss", dict(p=2, margin=0.7), lambda: [rand(3, 4), classes(4, 3)]),
    ("MultiLabelMarginLoss", dict(reduction="none"),
     lambda: [rand(2, 3), np.array([[2, -1, 0], [1, 0, 2]])]),
])
def test_modules(module, ctor, args):
    compare(None, args(), module=module, ctor=ctor)


def test_module_buffers():
    m = ember.nn.BCEWithLogitsLoss(pos_weight=ember.ones(3))
    assert [n for n, _ in m.named_buffers()] == ["pos_weight"]
    assert list(m.state_dict()) == ["pos_weight"]
    with pytest.raises(ValueError, match="expected weight to be None or 1D tensor, got 2D"):
        ember.nn.MultiMarginLoss(weight=ember.ones(2, 2))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        ember.nn.MultiMarginLoss(p=3)


ERRORS = {
    "bce size": lambda lib, f: f.binary_cross_entropy(lib.rand(3, 4), lib.rand(3, 1)),
    "bce input range": lambda lib, f: f.binary_cross_entropy(lib.tensor([0.5, 1.5]),
                                                             lib.rand(2)),
    "bce input nan": lambda lib, f: f.binary_cross_entropy(lib.tensor([float("nan")]),
                                                           lib.rand(1)),
    "bce target range": lambda lib, f: f.binary_cross_entropy(lib.rand(3), lib.rand(3) + 2),
    "bce dtype": lambda lib, f: f.binary_cross_entropy(lib.rand(3), lib.rand(3).double()),
    "bce reduction": lambda lib, f: f.binary_cross_entropy(lib.rand(3), lib.rand(3),
                                                           reduction="bogus"),
    "pos_weight widens": lambda lib, f: f.binary_cross_entropy_with_logits(
        lib.rand(3, 4), lib.rand(3, 4), pos_weight=lib.rand(2, 1, 4)),
    "weight widens": lambda lib, f: f.binary_cross_entropy_with_logits(
        lib.rand(3, 4), lib.rand(3, 4), weight=lib.rand(2, 3, 4)),
    "logits size": lambda lib, f: f.binary_cross_entropy_with_logits(lib.rand(3, 4),
                                                                     lib.rand(3, 1)),
    "multilabel soft reduction": lambda lib, f: f.multilabel_soft_margin_loss(
        lib.randn(3, 4), lib.rand(3, 4), reduction="bogus"),
    "margin p": lambda lib, f: f.multi_margin_loss(lib.randn(3, 4), lib.tensor([0, 1, 2]),
                                                   p=3),
    "margin weight dim": lambda lib, f: f.multi_margin_loss(
        lib.randn(3, 4), lib.tensor([0, 1, 2]), weight=lib.ones(3, 4)),
    "margin weight size": lambda lib, f: f.multi_margin_loss(
        lib.randn(3, 4), lib.tensor([0, 1, 2]), weight=lib.ones(3)),
    "margin target size": lambda lib, f: f.multi_margin_loss(lib.randn(3, 4),
                                                             lib.tensor([0, 1])),
    "margin target range": lambda lib, f: f.multi_margin_loss(lib.randn(3, 4),
                                                              lib.tensor([0, 1, 4])),
    "margin target dtype": lambda lib, f: f.multi_margin_loss(lib.randn(3, 4),
                                                              lib.tensor([0, 1, 2]).int()),
    "margin input dims": lambda lib, f: f.multi_margin_loss(lib.randn(2, 3, 4),
                                                            lib.tensor([0, 1])),
    "margin empty": lambda lib, f: f.multi_margin_loss(lib.randn(3, 0), lib.tensor([0, 1, 1])),
    "multilabel target size": lambda lib, f: f.multilabel_margin_loss(
        lib.randn(3, 4), lib.zeros(2, 4).long()),
    "multilabel target range": lambda lib, f: f.multilabel_margin_loss(
        lib.randn(3, 4), lib.full((3, 4), 5)),
    "multilabel target low": lambda lib, f: f.multilabel_margin_loss(
        lib.randn(3, 4), lib.full((3, 4), -2)),
    "multilabel dtype": lambda lib, f: f.multilabel_margin_loss(
        lib.randn(3, 4), lib.zeros(3, 4).int()),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    same_error(ERRORS[case])


def test_bce_gradcheck():
    x = ember.rand(3, 4, dtype=ember.float64).mul(0.8).add(0.1).requires_grad_()
    t = ember.rand(3, 4, dtype=ember.float64).requires_grad_()
    w = ember.rand(4, dtype=ember.float64).requires_grad_()
    assert ember.autograd.gradcheck(lambda x, t, w: F.binary_cross_entropy(x, t, weight=w),
                                    (x, t, w))
    assert ember.autograd.gradcheck(
        lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, pos_weight=w), (x, t, w))
