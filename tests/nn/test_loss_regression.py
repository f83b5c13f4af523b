"""Regression and distribution losses against torch: mse, l1, smooth_l1, huber (with the
optional per-element weight), kl_div, poisson_nll, gaussian_nll; values, input and target
gradients, reductions, legacy arguments, warnings and errors."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from test_loss_oracle import compare, rand, same_error, uniform

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = ["float64", "float32"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn,kw", [("mse_loss", {}), ("l1_loss", {}),
                                   ("smooth_l1_loss", {}), ("smooth_l1_loss", dict(beta=0.5)),
                                   ("smooth_l1_loss", dict(beta=0.0)),
                                   ("huber_loss", {}), ("huber_loss", dict(delta=0.3))])
def test_pointwise_regression(fn, kw, reduction, dtype):
    compare(fn, [rand(4, 5) * 2, rand(4, 5)], dict(reduction=reduction, **kw), grad=(0, 1),
            dtype=dtype)


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_broadcast_target_warns(fn):
    compare(fn, [rand(3, 4), rand(4)], grad=(0, 1))
    with pytest.warns(UserWarning, match="different to the input size"):
        getattr(F, fn)(ember.randn(3, 4), ember.randn(4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "huber_loss"])
def test_elementwise_weight(fn, reduction):
    compare(fn, [rand(3, 4), rand(3, 4)], dict(reduction=reduction, weight=uniform(3, 4)),
            grad=(0, 1, "weight"))


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "smooth_l1_loss", "kl_div",
                                "poisson_nll_loss"])
@pytest.mark.parametrize("legacy", [(False, None), (None, False), (True, None)])
def test_legacy_arguments(fn, legacy):
    compare(fn, [rand(3, 4), uniform(3, 4)], dict(size_average=legacy[0], reduce=legacy[1]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, dtype):
    p = uniform(4, 5, lo=0.05)
    target = np.log(p) if log_target else p
    compare("kl_div", [np.log(uniform(4, 5, lo=0.05)), target],
            dict(reduction=reduction, log_target=log_target), grad=(0, 1), dtype=dtype)


def test_kl_div_warnings_and_scalar_batchmean():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(ember.randn(2, 3), ember.rand(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(ember.randn(2, 3), ember.rand(2, 3), reduction="batchmean")
    compare("kl_div", [np.array(0.3), np.array(0.4)], dict(reduction="batchmean"), grad=(0, 1))
    compare("kl_div", [rand(3, 4), uniform(3, 1)], dict(reduction="sum"), grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input,full", [(True, False), (False, False), (True, True),
                                            (False, True)])
def test_poisson_nll(log_input, full, reduction, dtype):
    x = rand(4, 5) if log_input else uniform(4, 5, lo=0.1, hi=3)
    target = np.random.default_rng(5).poisson(2.0, (4, 5)).astype(np.float64) + 0.5
    compare("poisson_nll_loss", [x, target],
            dict(log_input=log_input, full=full, reduction=reduction, eps=1e-6),
            grad=(0, 1), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape", [(4, 3), (4,), (4, 1), (1, 3)])
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll(var_shape, full, reduction, dtype):
    var = uniform(*var_shape, lo=0.1, hi=2.0)
    var.reshape(-1)[0] = 1e-8  # below eps: clamped, yet its gradient flows as in torch
    compare("gaussian_nll_loss", [rand(4, 3), rand(4, 3), var],
            dict(full=full, reduction=reduction), grad=(0, 1, 2), dtype=dtype)


def test_gaussian_nll_float_var_and_module():
    compare("gaussian_nll_loss", [rand(4, 3), rand(4, 3), 0.7], grad=(0, 1))
    compare(None, [rand(2, 3, 4), rand(2, 3, 4), uniform(2, 3, lo=0.5)],
            module="GaussianNLLLoss", ctor=dict(full=True, eps=1e-3, reduction="sum"),
            grad=(0, 1, 2))


@pytest.mark.parametrize("module,ctor", [("MSELoss", {}), ("L1Loss", dict(reduction="sum")),
                                         ("SmoothL1Loss", dict(beta=0.4)),
                                         ("HuberLoss", dict(delta=0.5, reduction="none")),
                                         ("KLDivLoss", dict(reduction="batchmean")),
                                         ("KLDivLoss", dict(log_target=True)),
                                         ("PoissonNLLLoss", dict(full=True))])
def test_modules(module, ctor):
    compare(None, [rand(3, 4), uniform(3, 4, lo=1.5, hi=3)], module=module, ctor=ctor,
            grad=(0, 1))


def test_module_attributes():
    with pytest.warns(UserWarning, match="reduction='sum'"):
        m = ember.nn.SmoothL1Loss(size_average=False)
    assert m.reduction == "sum" and m.beta == 1.0
    assert ember.nn.PoissonNLLLoss().eps == 1e-8 and ember.nn.HuberLoss().delta == 1.0
    with pytest.raises(TypeError, match="delta must be a float or int"):
        ember.nn.HuberLoss(delta="1")


def test_elementwise_mean_is_deprecated_mean():
    with pytest.warns(UserWarning, match="elementwise_mean"):
        out = F.mse_loss(ember.ones(2), ember.zeros(2), reduction="elementwise_mean")
    assert float(out) == 1.0


ERRORS = {
    "reduction": lambda lib, f: f.mse_loss(lib.randn(3), lib.randn(3), reduction="bogus"),
    "weight size": lambda lib, f: f.mse_loss(lib.randn(3, 4), lib.randn(3, 4),
                                             weight=lib.rand(4)),
    "weighted reduction": lambda lib, f: f.l1_loss(lib.randn(3), lib.randn(3),
                                                   weight=lib.rand(3), reduction="bogus"),
    "huber weighted reduction": lambda lib, f: f.huber_loss(lib.randn(3), lib.randn(3),
                                                            weight=lib.rand(3), reduction="x"),
    "beta": lambda lib, f: f.smooth_l1_loss(lib.randn(3), lib.randn(3), beta=-1),
    "delta": lambda lib, f: f.huber_loss(lib.randn(3), lib.randn(3), delta=0),
    "huber reduction": lambda lib, f: f.huber_loss(lib.randn(3), lib.randn(3), reduction="x"),
    "kl reduction": lambda lib, f: f.kl_div(lib.randn(3), lib.rand(3), reduction="bogus"),
    "poisson reduction": lambda lib, f: f.poisson_nll_loss(lib.randn(3), lib.rand(3),
                                                           reduction="elementwise_mean"),
    "gaussian negative": lambda lib, f: f.gaussian_nll_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                            -lib.rand(3, 4)),
    "gaussian negative float": lambda lib, f: f.gaussian_nll_loss(lib.randn(3), lib.randn(3),
                                                                  -1.0),
    "gaussian var size": lambda lib, f: f.gaussian_nll_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                            lib.rand(3, 2)),
    "gaussian var two dims": lambda lib, f: f.gaussian_nll_loss(lib.randn(3, 4),
                                                                lib.randn(3, 4), lib.rand(1, 1)),
    "gaussian var 0d": lambda lib, f: f.gaussian_nll_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                          lib.tensor(2.0)),
    "gaussian reduction": lambda lib, f: f.gaussian_nll_loss(lib.randn(3), lib.randn(3), 1.0,
                                                             reduction="bogus"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    same_error(ERRORS[case])


def test_unbroadcastable_shapes_raise_runtime_error():
    # the message is the core's broadcasting message, which names the op and both shapes
    same_error(lambda lib, f: f.mse_loss(lib.randn(3, 4), lib.randn(2, 4)), message=False)
