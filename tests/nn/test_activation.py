"""Activation functions and layers against torch: values and gradients (including the
kinks: 0 for relu, the bounds of hardtanh/hardswish, the threshold of softplus), in-place
forms, softmax family, double backward, module reprs and errors."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _nn_compare import check_fn, check_module, module_pair, same_error, same_repr, tensors

# values around every kink of the family, plus random ones
_KINKS = [0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 0.5, -0.5, 20.0, 25.0, -25.0, 2.0, -2.0]
X = np.concatenate([np.random.default_rng(1).standard_normal(24) * 4, _KINKS]).reshape(37)

POINTWISE = [
    ("relu", {}), ("relu6", {}), ("hardtanh", {}), ("hardtanh", dict(min_val=-2.0, max_val=0.5)),
    ("elu", {}), ("elu", dict(alpha=0.5)), ("selu", {}), ("celu", dict(alpha=2.0)),
    ("leaky_relu", {}), ("leaky_relu", dict(negative_slope=0.2)), ("gelu", {}),
    ("gelu", dict(approximate="tanh")), ("silu", {}), ("mish", {}), ("hardsigmoid", {}),
    ("hardswish", {}), ("sigmoid", {}), ("tanh", {}), ("logsigmoid", {}), ("softplus", {}),
    ("softplus", dict(beta=2.0, threshold=5.0)), ("softsign", {}), ("tanhshrink", {}),
    ("hardshrink", {}), ("hardshrink", dict(lambd=2.0)), ("softshrink", dict(lambd=1.0)),
    ("threshold", dict(threshold=0.5, value=-2.0)), ("rrelu", {}),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", POINTWISE, ids=[f"{n}{k}" for n, k in POINTWISE])
def test_pointwise_matches_torch(name, kw, dtype):
    check_fn(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw),
             [X.reshape(37, 1)], dtype)


@pytest.mark.parametrize("name,kw", [("relu", {}), ("gelu", {}), ("gelu", dict(approximate="tanh")),
                                     ("silu", {}), ("elu", {}), ("mish", {}), ("softplus", {}),
                                     ("hardswish", {}), ("logsigmoid", {}), ("leaky_relu", {})])
def test_double_backward(name, kw):
    x = ember.tensor(X[:12] * 0.9 + 0.013, dtype=ember.float64, requires_grad=True)
    f = lambda t: getattr(F, name)(t, **kw)  # noqa: E731
    assert ember.autograd.gradcheck(f, (x,))
    assert ember.autograd.gradgradcheck(f, (x,))


INPLACE = [("relu_", {}), ("elu_", {}), ("selu_", {}), ("celu_", dict(alpha=1.5)),
           ("leaky_relu_", dict(negative_slope=0.3)), ("hardtanh_", {}),
           ("threshold_", dict(threshold=0.1, value=2.0)), ("rrelu_", {})]


@pytest.mark.parametrize("name,kw", INPLACE)
def test_inplace_functions(name, kw):
    (e,), (t,) = tensors([X], requires_grad=False)
    re_, rt = getattr(F, name)(e, **kw), getattr(TF, name)(t, **kw)
    assert re_ is e
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)
    # on a non-leaf with history, the gradient flows through the in-place result
    check_fn(lambda x: getattr(F, name)(x * 1.0, **kw), lambda x: getattr(TF, name)(x * 1.0, **kw),
             [X])


@pytest.mark.parametrize("name", ["relu", "silu", "mish", "hardsigmoid", "hardswish", "elu",
                                  "selu", "celu", "leaky_relu", "hardtanh", "relu6"])
def test_inplace_argument(name):
    (e,), (t,) = tensors([X], requires_grad=False)
    out = getattr(F, name)(e, inplace=True)
    getattr(TF, name)(t, inplace=True)
    assert out is e
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)


def test_inplace_on_leaf_requiring_grad_fails():
    x = ember.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(x, inplace=True)


def test_relu_integer_input_and_float32_dtype():
    assert F.relu(ember.tensor([1, -2])).tolist() == [1, 0]
    assert F.gelu(ember.randn(3)).dtype == ember.float32


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape,dim", [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1), ((5,), 0)])
def test_softmax_family(fn, shape, dim):
    a = np.random.default_rng(2).standard_normal(shape) * 3
    for dtype in ("float64", "float32"):
        check_fn(lambda x: getattr(F, fn)(x, dim), lambda x: getattr(TF, fn)(x, dim), [a], dtype)


def test_softmax_dtype_argument_and_large_values():
    a = np.array([[1000.0, 1001.0, -1000.0]])
    check_fn(lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), [a])
    check_fn(lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), [a])
    check_fn(lambda x: F.softmax(x, 1, dtype=ember.float64),
             lambda x: TF.softmax(x, 1, dtype=torch.float64), [a], "float32")
    assert F.softmax(ember.tensor(3.0), 0).item() == 1.0
    assert F.softmax(ember.zeros(0, 3), 1).shape == (0, 3)


@pytest.mark.parametrize("ndim,expected", [(1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_implicit_dim_warns(ndim, expected):
    x = ember.randn(*([3] * ndim))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = F.softmax(x)
    assert "Implicit dimension choice for softmax" in str(rec[0].message)
    assert rec[0].filename == __file__
    np.testing.assert_allclose(out.numpy(), F.softmax(x, expected).numpy())


def test_softmax_errors():
    same_error(lambda: F.softmax(ember.tensor([1, 2]), 0),
               lambda: TF.softmax(torch.tensor([1, 2]), 0))
    x = ember.randn(2, 3, requires_grad=True)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.softmax(x, 2)


def test_softmax_gradgrad():
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    for f in (lambda t: F.softmax(t, 1), lambda t: F.log_softmax(t, 0)):
        assert ember.autograd.gradgradcheck(f, (x,))


def test_glu_prelu_gumbel():
    a = np.random.default_rng(3).standard_normal((3, 4, 6))
    check_fn(lambda x: F.glu(x), lambda x: TF.glu(x), [a])
    check_fn(lambda x: F.glu(x, 1), lambda x: TF.glu(x, 1), [a])
    w = np.array([0.1, -0.3, 0.25, 2.0])
    check_fn(F.prelu, TF.prelu, [a.transpose(0, 2, 1)[:, :4], w])
    check_fn(F.prelu, TF.prelu, [a, np.array([0.2])])
    same_error(lambda: F.glu(ember.randn(3, 5)), lambda: TF.glu(torch.randn(3, 5)))
    same_error(lambda: F.glu(ember.tensor(1.0)), lambda: TF.glu(torch.tensor(1.0)))
    y = F.gumbel_softmax(ember.randn(5, 4), tau=0.5, hard=True)
    assert y.sum(1).tolist() == [1.0] * 5 and set(y.flatten().tolist()) <= {0.0, 1.0}
    s = F.gumbel_softmax(ember.randn(5, 4))
    np.testing.assert_allclose(s.sum(1).numpy(), 1.0, rtol=1e-6)


def test_rrelu_training_slopes_in_range():
    x = -ember.rand(2000) - 0.1
    y = F.rrelu(x, 0.1, 0.3, training=True)
    ratio = (y / x).numpy()
    assert ratio.min() >= 0.1 and ratio.max() <= 0.3 and ratio.std() > 0.03


def test_errors():
    same_error(lambda: F.softshrink(ember.randn(3), -1.0),
               lambda: TF.softshrink(torch.randn(3), -1.0))
    same_error(lambda: F.hardtanh(ember.randn(3), 2.0, 1.0),
               lambda: TF.hardtanh(torch.randn(3), 2.0, 1.0))
    same_error(lambda: F.gelu(ember.randn(3), approximate="x"),
               lambda: TF.gelu(torch.randn(3), approximate="x"))
    same_error(lambda: F.prelu(ember.randn(2, 3), ember.ones(4)),
               lambda: TF.prelu(torch.randn(2, 3), torch.ones(4)))
    same_error(lambda: nn.Hardtanh(1.0, 0.5), lambda: torch.nn.Hardtanh(1.0, 0.5))
    same_error(lambda: nn.Softmax2d()(ember.randn(3, 4)),
               lambda: torch.nn.Softmax2d()(torch.randn(3, 4)))


LAYERS = [
    lambda nn: nn.ReLU(), lambda nn: nn.ReLU(inplace=True), lambda nn: nn.ReLU6(),
    lambda nn: nn.LeakyReLU(0.2), lambda nn: nn.LeakyReLU(inplace=True), lambda nn: nn.PReLU(),
    lambda nn: nn.PReLU(4, init=0.1), lambda nn: nn.ELU(alpha=0.7), lambda nn: nn.SELU(),
    lambda nn: nn.CELU(1.5, inplace=True), lambda nn: nn.GELU(), lambda nn: nn.GELU("tanh"),
    lambda nn: nn.SiLU(), lambda nn: nn.Mish(), lambda nn: nn.Sigmoid(), lambda nn: nn.Tanh(),
    lambda nn: nn.Hardtanh(-2.0, 3.0), lambda nn: nn.Hardsigmoid(), lambda nn: nn.Hardswish(),
    lambda nn: nn.Softplus(2.0, 10.0), lambda nn: nn.Softsign(), lambda nn: nn.Softmax(dim=1),
    lambda nn: nn.LogSoftmax(dim=-1), lambda nn: nn.Softmin(dim=1), lambda nn: nn.Softmax2d(),
    lambda nn: nn.GLU(dim=1), lambda nn: nn.Threshold(0.1, 20.0), lambda nn: nn.Tanhshrink(),
    lambda nn: nn.Softshrink(0.3), lambda nn: nn.Hardshrink(), lambda nn: nn.LogSigmoid(),
    lambda nn: nn.RReLU(0.1, 0.2), lambda nn: nn.Identity(),
]


@pytest.mark.parametrize("build", LAYERS, ids=range(len(LAYERS)))
def test_layers(build):
    em, tm = module_pair(build)
    same_repr(em, tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    a = np.random.default_rng(4).standard_normal((2, 4, 3, 2))
    em.eval()
    tm.eval()
    check_module(_Fresh(em), _Fresh(tm), [a])


class _Fresh:
    """Calls the module on a non-leaf copy (in-place layers cannot write into a leaf)."""

    def __init__(self, m):
        self.m = m

    def __call__(self, x):
        return self.m(x * 1.0)

    def named_parameters(self):
        return self.m.named_parameters()


def test_prelu_default_init_and_repr():
    m = nn.PReLU(3)
    assert m.weight.tolist() == pytest.approx([0.25] * 3)
    assert repr(m) == "PReLU(num_parameters=3)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardshrink(0.7)) == "Hardshrink(0.7)"


def test_softmax_module_implicit_dim_warns():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        nn.Softmax()(ember.randn(2, 3))
    assert any("Implicit dimension choice for softmax" in str(w.message) for w in rec)
