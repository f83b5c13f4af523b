"""nn.init: distributions (bounds, mean, std) of every initializer against PyTorch's
formulas, gains for every nonlinearity, structured initializers (eye, dirac, orthogonal,
sparse), trunc_normal_ in both sampling regimes, generator= reproducibility, the
deprecated aliases and errors; and each layer's default initialization."""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember.nn import init
from _nn_compare import same_error


@pytest.mark.parametrize("name,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                        ("tanh", None), ("relu", None), ("leaky_relu", None),
                                        ("leaky_relu", 0.2), ("leaky_relu", 3), ("selu", None),
                                        ("conv_transpose3d", None)])
def test_calculate_gain(name, param):
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_calculate_gain_errors():
    same_error(lambda: init.calculate_gain("foo"), lambda: torch.nn.init.calculate_gain("foo"))
    same_error(lambda: init.calculate_gain("leaky_relu", True),
               lambda: torch.nn.init.calculate_gain("leaky_relu", True))


def _stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.min(), a.max(), a.mean(), a.std()


SHAPE = (300, 200)
FAN_IN, FAN_OUT = 200, 300


@pytest.mark.parametrize("fn,kw,bound,std", [
    (init.uniform_, dict(a=-2.0, b=3.0), (-2.0, 3.0), 5 / math.sqrt(12)),
    (init.xavier_uniform_, dict(gain=2.0), None, 2.0 * math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
    (init.kaiming_uniform_, dict(a=math.sqrt(5)), None, math.sqrt(2 / 6) / math.sqrt(FAN_IN)),
    (init.kaiming_uniform_, dict(mode="fan_out", nonlinearity="relu"), None,
     math.sqrt(2) / math.sqrt(FAN_OUT)),
])
def test_uniform_family(fn, kw, bound, std):
    lo, hi, mean, s = _stats(fn(ember.empty(*SHAPE), **kw))
    if bound is None:
        bound = (-math.sqrt(3) * std, math.sqrt(3) * std)
    assert bound[0] <= lo < bound[0] + 0.01 * (bound[1] - bound[0])
    assert bound[1] - 0.01 * (bound[1] - bound[0]) < hi <= bound[1]
    assert abs(s - std) < 0.02 * std


@pytest.mark.parametrize("fn,kw,mean,std", [
    (init.normal_, dict(mean=1.5, std=0.3), 1.5, 0.3),
    (init.xavier_normal_, dict(gain=0.5), 0.0, 0.5 * math.sqrt(2.0 / (FAN_IN + FAN_OUT))),
    (init.kaiming_normal_, dict(), 0.0, math.sqrt(2 / (1 + 0.01 ** 2)) / math.sqrt(FAN_IN)),
    (init.kaiming_normal_, dict(mode="fan_out", nonlinearity="tanh"), 0.0,
     5 / 3 / math.sqrt(FAN_OUT)),
])
def test_normal_family(fn, kw, mean, std):
    _, _, m, s = _stats(fn(ember.empty(*SHAPE), **kw))
    assert abs(m - mean) < 0.05 * std
    assert abs(s - std) < 0.02 * std


def _truncated_moments(mean, std, a, b):
    """Mean and standard deviation of N(mean, std) truncated to [a, b] (closed form)."""
    pdf = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    m = mean + std * (pdf(al) - pdf(be)) / z
    var = std ** 2 * (1 + (al * pdf(al) - be * pdf(be)) / z - ((pdf(al) - pdf(be)) / z) ** 2)
    return m, math.sqrt(var)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, -1.0, 0.5),
                                          (1.0, 1.0, 3.0, 4.0), (0.0, 0.02, -0.04, 0.04)])
def test_trunc_normal(mean, std, a, b):
    """Both of PyTorch's samplers (redraw when [a, b] holds > 30% of the mass, else
    uniform proposals) give the truncated distribution's moments."""
    e = init.trunc_normal_(ember.empty(40000, dtype=ember.float64), mean, std, a, b).numpy()
    assert e.min() >= a and e.max() <= b
    m, s = _truncated_moments(mean, std, a, b)
    assert abs(e.mean() - m) < 0.03 * s
    assert abs(e.std() - s) < 0.03 * s


def test_trunc_normal_warns_far_mean():
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(ember.empty(10), mean=10.0, std=1.0, a=-1.0, b=1.0)


def test_constant_ones_zeros_eye_dirac():
    assert init.constant_(ember.empty(2, 3), 0.7).tolist() == [[pytest.approx(0.7)] * 3] * 2
    assert init.ones_(ember.empty(3)).tolist() == [1.0] * 3
    assert init.zeros_(ember.empty(3)).tolist() == [0.0] * 3
    assert init.eye_(ember.empty(2, 3)).tolist() == torch.eye(2, 3).tolist()
    for shape, groups in [((4, 2, 3), 2), ((6, 3, 3, 3), 1), ((4, 2, 3, 3, 3), 2)]:
        e = init.dirac_(ember.empty(*shape), groups)
        t = torch.nn.init.dirac_(torch.empty(*shape), groups)
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_initializers_on_parameters_record_no_history():
    p = nn.Parameter(ember.empty(4, 5))
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_,
               init.orthogonal_, init.zeros_, init.eye_, init.trunc_normal_):
        assert fn(p) is p
        assert p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3, 3)])
def test_orthogonal(shape):
    e = init.orthogonal_(ember.empty(*shape, dtype=ember.float64), gain=1.5)
    flat = e.numpy().reshape(shape[0], -1)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 2.25 * np.eye(gram.shape[0]), atol=1e-10)


def test_sparse():
    e = init.sparse_(ember.empty(10, 30), 0.35, std=0.5)
    zeros = (e.numpy() == 0).sum(0)
    assert np.all(zeros >= 4)  # ceil(0.35 * 10) per column, plus chance zeros
    assert abs(e.numpy()[e.numpy() != 0].std() - 0.5) < 0.15


@pytest.mark.parametrize("fn", [init.uniform_, init.normal_, init.xavier_uniform_,
                                init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_,
                                init.orthogonal_, init.trunc_normal_])
def test_generator_makes_it_reproducible(fn):
    g = ember.Generator().manual_seed(11)
    a = fn(ember.empty(5, 4), generator=g).numpy()
    g.manual_seed(11)
    b = fn(ember.empty(5, 4), generator=g).numpy()
    np.testing.assert_array_equal(a, b)


def test_errors_and_warnings():
    same_error(lambda: init.xavier_uniform_(ember.empty(3)),
               lambda: torch.nn.init.xavier_uniform_(torch.empty(3)))
    same_error(lambda: init.kaiming_normal_(ember.empty(3, 3), mode="fan"),
               lambda: torch.nn.init.kaiming_normal_(torch.empty(3, 3), mode="fan"))
    same_error(lambda: init.eye_(ember.empty(3)), lambda: torch.nn.init.eye_(torch.empty(3)))
    same_error(lambda: init.dirac_(ember.empty(3, 3)),
               lambda: torch.nn.init.dirac_(torch.empty(3, 3)))
    same_error(lambda: init.dirac_(ember.empty(3, 3, 3), 2),
               lambda: torch.nn.init.dirac_(torch.empty(3, 3, 3), 2))
    same_error(lambda: init.orthogonal_(ember.empty(3)),
               lambda: torch.nn.init.orthogonal_(torch.empty(3)))
    same_error(lambda: init.sparse_(ember.empty(3), 0.1),
               lambda: torch.nn.init.sparse_(torch.empty(3), 0.1))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(ember.empty(0, 3))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        init.normal(ember.empty(3))
    expected = "`nn.init.normal` is now deprecated in favor of `nn.init.normal_`."
    assert expected in str(rec[0].message)
    assert rec[0].category is FutureWarning


@pytest.mark.parametrize("build,name,bound", [
    (lambda: nn.Linear(50, 200), "weight", 1 / math.sqrt(50)),
    (lambda: nn.Linear(50, 200), "bias", 1 / math.sqrt(50)),
    (lambda: nn.Bilinear(40, 3, 100), "weight", 1 / math.sqrt(40)),
    (lambda: nn.Bilinear(40, 3, 100), "bias", 1 / math.sqrt(40)),
])
def test_layer_default_uniform_bounds(build, name, bound):
    a = getattr(build(), name).detach().numpy()
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
