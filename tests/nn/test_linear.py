"""Identity, Linear, Bilinear, Flatten, Unflatten against torch: outputs, input and
parameter gradients, default initialization bounds, device/dtype arguments, reprs,
state_dict keys and errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _nn_compare import check_fn, check_module, module_pair, same_error, same_repr, same_state_keys


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 7), (7,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(shape, bias, dtype):
    em, tm = module_pair(lambda nn: nn.Linear(7, 5, bias=bias), dtype)
    same_repr(em, tm)
    same_state_keys(em, tm)
    check_module(em, tm, [np.random.default_rng(0).standard_normal(shape)], dtype)


def test_linear_functional_forms_and_double_backward():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    check_fn(F.linear, TF.linear, [x, w, b])
    check_fn(F.linear, TF.linear, [x, w[0]])  # 1-D weight: a matrix-vector product
    check_fn(lambda x, w, b: F.linear(x, w, b), lambda x, w, b: TF.linear(x, w, b),
             [x, w, rng.standard_normal(1)])
    args = tuple(ember.tensor(a, requires_grad=True) for a in (x, w, b))
    assert ember.autograd.gradcheck(F.linear, args)
    assert ember.autograd.gradgradcheck(F.linear, args)


@pytest.mark.parametrize("shape", [(2, 3), (2, 4, 3), (3,)])
def test_linear_shape_error(shape):
    same_error(lambda: F.linear(ember.randn(*shape), ember.randn(4, 5)),
               lambda: TF.linear(torch.randn(*shape), torch.randn(4, 5)))


@pytest.mark.parametrize("fan_in", [3, 100])
def test_linear_default_init_bounds(fan_in):
    m = nn.Linear(fan_in, 400)
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound


def test_factory_kwargs():
    m = nn.Linear(3, 2, dtype=ember.float64, device="cpu")
    assert m.weight.dtype == ember.float64 and m.bias.dtype == ember.float64
    b = nn.Bilinear(2, 3, 4, dtype=ember.float64)
    assert b.weight.dtype == ember.float64 and b.weight.shape == (4, 2, 3)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [(5,), (2, 3), ()])
def test_bilinear(bias, batch):
    em, tm = module_pair(lambda nn: nn.Bilinear(3, 4, 2, bias=bias))
    same_repr(em, tm)
    same_state_keys(em, tm)
    rng = np.random.default_rng(2)
    check_module(em, tm, [rng.standard_normal(batch + (3,)), rng.standard_normal(batch + (4,))])


def test_bilinear_init_and_errors():
    m = nn.Bilinear(50, 3, 200)
    bound = 1 / math.sqrt(50)
    assert m.weight.abs().max().item() <= bound and m.bias.abs().max().item() <= bound
    w = ember.randn(5, 3, 4)
    tw = torch.randn(5, 3, 4)
    for a, b in [((2, 3), (3, 4)), ((2, 2), (2, 4)), ((2, 3), (2, 5)), ((2, 3), (2, 1, 4))]:
        same_error(lambda: F.bilinear(ember.randn(*a), ember.randn(*b), w),
                   lambda: TF.bilinear(torch.randn(*a), torch.randn(*b), tw))
    same_error(lambda: F.bilinear(ember.randn(2, 3), ember.randn(2, 4), w, ember.randn(4)),
               lambda: TF.bilinear(torch.randn(2, 3), torch.randn(2, 4), tw, torch.randn(4)))


def test_identity():
    em, tm = module_pair(lambda nn: nn.Identity(54, unused="x"))
    same_repr(em, tm)
    x = ember.randn(3)
    assert em(x) is x


@pytest.mark.parametrize("build,shape", [
    (lambda nn: nn.Flatten(), (2, 3, 4)), (lambda nn: nn.Flatten(0, -2), (2, 3, 4)),
    (lambda nn: nn.Unflatten(1, (2, 3)), (4, 6, 5)), (lambda nn: nn.Unflatten(-1, [2, -1]), (3, 8)),
])
def test_flatten_unflatten(build, shape):
    em, tm = module_pair(build)
    same_repr(em, tm)
    check_module(em, tm, [np.random.default_rng(3).standard_normal(shape)])


def test_unflatten_errors():
    same_error(lambda: nn.Unflatten(1, 4), lambda: torch.nn.Unflatten(1, 4))
    same_error(lambda: nn.Unflatten(1, (2, 2.0)), lambda: torch.nn.Unflatten(1, (2, 2.0)))


def test_mlp_trains_like_torch():
    """Three SGD steps of a small MLP (Linear, ReLU, Dropout in eval, LayerNorm, GELU)."""
    def build(nn):
        return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 8),
                             nn.GELU(), nn.Dropout(0.3), nn.Linear(8, 3))
    em, tm = module_pair(build)
    em.eval()
    tm.eval()
    rng = np.random.default_rng(4)
    for _ in range(3):
        x = rng.standard_normal((5, 6))
        le = F.log_softmax(em(ember.tensor(x)), 1).sum()
        lt = TF.log_softmax(tm(torch.tensor(x)), 1).sum()
        le.backward()
        lt.backward()
        with torch.no_grad(), ember.no_grad():
            for pe, pt in zip(em.parameters(), tm.parameters()):
                pe.sub_(0.1 * pe.grad)
                pt.sub_(0.1 * pt.grad)
                pe.grad = None
                pt.grad = None
    for pe, pt in zip(em.parameters(), tm.parameters()):
        np.testing.assert_allclose(pe.detach().numpy(), pt.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bias", [None, "float64", "float32"])
def test_linear_dtype_mismatch(bias):
    eb = None if bias is None else ember.randn(4, dtype=getattr(ember, bias))
    tb = None if bias is None else torch.randn(4, dtype=getattr(torch, bias))
    same_error(lambda: F.linear(ember.randn(2, 3), ember.randn(4, 3, dtype=ember.float64), eb),
               lambda: TF.linear(torch.randn(2, 3), torch.randn(4, 3, dtype=torch.float64), tb))
