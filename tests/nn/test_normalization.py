"""Normalization against torch: BatchNorm1d/2d/3d (train/eval, running statistics over
several steps, momentum None, without running stats or affine), InstanceNorm, LayerNorm,
GroupNorm, RMSNorm, LocalResponseNorm and their functional forms; gradients of inputs
and parameters, buffers, state_dict keys, reprs, default init and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _nn_compare import (check_buffers, check_fn, check_module, module_pair, same_error,
                         same_repr, same_state_keys)

RNG = np.random.default_rng(0)


def _data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape) * 2 + 0.5


BATCHNORMS = [
    ("BatchNorm1d", (6, 3), {}), ("BatchNorm1d", (4, 3, 5), {}), ("BatchNorm2d", (3, 3, 4, 2), {}),
    ("BatchNorm3d", (2, 3, 2, 3, 2), {}), ("BatchNorm1d", (6, 3), dict(momentum=None)),
    ("BatchNorm2d", (3, 3, 2, 2), dict(affine=False)),
    ("BatchNorm1d", (4, 3, 2), dict(track_running_stats=False)),
    ("BatchNorm1d", (5, 3), dict(momentum=0.5, eps=1e-3, bias=False)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls,shape,kw", BATCHNORMS, ids=[f"{c}{s}{k}" for c, s, k in BATCHNORMS])
def test_batchnorm_train_steps_then_eval(cls, shape, kw, dtype):
    em, tm = module_pair(lambda nn: getattr(nn, cls)(3, **kw), dtype)
    if em.weight is not None:  # non-trivial affine parameters
        w = RNG.standard_normal(3)
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(w))
        em.weight.data = ember.tensor(w, dtype=getattr(ember, dtype))
    same_repr(em, tm)
    same_state_keys(em, tm)
    for step in range(3):
        em.zero_grad()
        tm.zero_grad()
        check_module(em, tm, [_data(shape, step)], dtype, seed=step)
        check_buffers(em, tm, dtype)
    em.eval()
    tm.eval()
    check_module(em, tm, [_data(shape, 9)], dtype)


def test_batchnorm_running_var_is_unbiased_and_counts_batches():
    m = nn.BatchNorm1d(2, momentum=1.0)
    x = ember.tensor([[1.0, 2.0], [3.0, 6.0]])
    m(x)
    assert m.running_mean.tolist() == [2.0, 4.0]
    assert m.running_var.tolist() == [2.0, 8.0]
    assert m.num_batches_tracked.item() == 1 and m.num_batches_tracked.dtype == ember.int64


def test_batchnorm_eval_without_running_stats_uses_batch_stats():
    em, tm = module_pair(lambda nn: nn.BatchNorm2d(3, track_running_stats=False))
    em.eval()
    tm.eval()
    check_module(em, tm, [_data((2, 3, 2, 2), 1)])


def test_batchnorm_functional_forms():
    x = _data((4, 3, 5), 2)
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    check_fn(lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
             lambda x, w, b: TF.batch_norm(x, None, None, w, b, True), [x, w, b])
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    check_fn(lambda x, w, b: F.batch_norm(x, ember.tensor(rm), ember.tensor(rv), w, b),
             lambda x, w, b: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b), [x, w, b])


def test_batchnorm_gradcheck_and_double_backward():
    x = ember.randn(4, 3, 2, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3, dtype=ember.float64, requires_grad=True)
    b = ember.randn(3, dtype=ember.float64, requires_grad=True)
    f = lambda x, w, b: F.batch_norm(x, None, None, w, b, True)  # noqa: E731
    assert ember.autograd.gradcheck(f, (x, w, b))
    assert ember.autograd.gradgradcheck(f, (x, w, b))


def test_batchnorm_errors():
    same_error(lambda: nn.BatchNorm1d(3)(ember.randn(1, 3)),
               lambda: torch.nn.BatchNorm1d(3)(torch.randn(1, 3)))
    same_error(lambda: nn.BatchNorm2d(3)(ember.randn(2, 3)),
               lambda: torch.nn.BatchNorm2d(3)(torch.randn(2, 3)))
    same_error(lambda: F.batch_norm(ember.randn(4, 3), None, None, training=False),
               lambda: TF.batch_norm(torch.randn(4, 3), None, None, training=False))
    same_error(lambda: F.batch_norm(ember.randn(4, 3), ember.zeros(4), ember.ones(4), None, None,
                                    True),
               lambda: TF.batch_norm(torch.randn(4, 3), torch.zeros(4), torch.ones(4), None, None,
                                     True))
    same_error(lambda: F.batch_norm(ember.randn(4, 3), None, None, ember.ones(2), training=True),
               lambda: TF.batch_norm(torch.randn(4, 3), None, None, torch.ones(2), training=True))
    same_error(lambda: F.batch_norm(ember.randn(4, 3), None, None, training=True, eps=0.0),
               lambda: TF.batch_norm(torch.randn(4, 3), None, None, training=True, eps=0.0))


def test_batchnorm_load_state_dict_without_num_batches_tracked():
    m = nn.BatchNorm1d(2)
    sd = {k: v for k, v in m.state_dict().items() if k != "num_batches_tracked"}
    m.load_state_dict(sd)  # older checkpoints have no counter


INSTANCENORMS = [
    ("InstanceNorm1d", (2, 3, 5), {}), ("InstanceNorm1d", (3, 5), dict(affine=True)),
    ("InstanceNorm2d", (2, 3, 3, 2), dict(affine=True, track_running_stats=True)),
    ("InstanceNorm3d", (2, 3, 2, 2, 3), dict(track_running_stats=True, momentum=0.3)),
]


@pytest.mark.parametrize("cls,shape,kw", INSTANCENORMS,
                         ids=[c + str(s) for c, s, _ in INSTANCENORMS])
def test_instancenorm(cls, shape, kw):
    em, tm = module_pair(lambda nn: getattr(nn, cls)(3, **kw))
    same_repr(em, tm)
    same_state_keys(em, tm)
    for step in range(2):
        check_module(em, tm, [_data(shape, step)], seed=step)
        check_buffers(em, tm)
    em.eval()
    tm.eval()
    check_module(em, tm, [_data(shape, 5)])


def test_instancenorm_errors():
    same_error(lambda: nn.InstanceNorm1d(3, affine=True)(ember.randn(2, 4, 5)),
               lambda: torch.nn.InstanceNorm1d(3, affine=True)(torch.randn(2, 4, 5)))
    same_error(lambda: F.instance_norm(ember.randn(2, 3, 1)),
               lambda: TF.instance_norm(torch.randn(2, 3, 1)))
    same_error(lambda: nn.InstanceNorm2d(3)(ember.randn(3, 4)),
               lambda: torch.nn.InstanceNorm2d(3)(torch.randn(3, 4)))


LAYERNORMS = [
    (lambda nn: nn.LayerNorm(5), (3, 5)), (lambda nn: nn.LayerNorm([4, 5]), (2, 3, 4, 5)),
    (lambda nn: nn.LayerNorm(5, elementwise_affine=False), (2, 5)),
    (lambda nn: nn.LayerNorm(5, bias=False, eps=1e-3), (5,)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("build,shape", LAYERNORMS, ids=range(len(LAYERNORMS)))
def test_layernorm(build, shape, dtype):
    em, tm = module_pair(build, dtype)
    with torch.no_grad():  # non-trivial affine parameters
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    same_repr(em, tm)
    same_state_keys(em, tm)
    check_module(em, tm, [_data(shape, 3)], dtype)


GROUPNORMS = [(lambda nn: nn.GroupNorm(3, 6), (2, 6, 4)), (lambda nn: nn.GroupNorm(2, 4), (3, 4)),
              (lambda nn: nn.GroupNorm(1, 4, affine=False), (2, 4, 2, 3)),
              (lambda nn: nn.GroupNorm(4, 4, bias=False, eps=1e-3), (2, 4, 3))]


@pytest.mark.parametrize("build,shape", GROUPNORMS, ids=range(len(GROUPNORMS)))
def test_groupnorm(build, shape):
    em, tm = module_pair(build)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype))
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    same_repr(em, tm)
    same_state_keys(em, tm)
    check_module(em, tm, [_data(shape, 4)])


RMSNORMS = [(lambda nn: nn.RMSNorm(5), (3, 5)),
            (lambda nn: nn.RMSNorm([2, 5], eps=1e-4), (3, 2, 5)),
            (lambda nn: nn.RMSNorm(4, elementwise_affine=False), (2, 4))]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("build,shape", RMSNORMS, ids=range(len(RMSNORMS)))
def test_rmsnorm(build, shape, dtype):
    em, tm = module_pair(build, dtype)
    same_repr(em, tm)
    same_state_keys(em, tm)
    check_module(em, tm, [_data(shape, 6) * 0.01], dtype)


@pytest.mark.parametrize("size,shape", [(3, (2, 5, 4)), (2, (2, 4, 3, 3)), (4, (1, 6, 2, 2, 2))])
def test_local_response_norm(size, shape):
    em, tm = module_pair(lambda nn: nn.LocalResponseNorm(size, alpha=0.1, beta=0.6, k=2.0))
    same_repr(em, tm)
    check_module(em, tm, [_data(shape, 7)])


def test_normalization_gradchecks():
    x = ember.randn(2, 4, 3, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, dtype=ember.float64, requires_grad=True)
    b = ember.randn(4, dtype=ember.float64, requires_grad=True)
    for f in (lambda x, w, b: F.group_norm(x, 2, w, b),
              lambda x, w, b: F.instance_norm(x, None, None, w, b),
              lambda x, w, b: F.layer_norm(x.transpose(1, 2), (4,), w, b)):
        assert ember.autograd.gradcheck(f, (x, w, b))
        assert ember.autograd.gradgradcheck(f, (x, w, b))


def test_default_init():
    for m in (nn.LayerNorm(4), nn.GroupNorm(2, 4), nn.BatchNorm1d(4), nn.RMSNorm(4)):
        assert m.weight.tolist() == [1.0] * 4
        if getattr(m, "bias", None) is not None:
            assert m.bias.tolist() == [0.0] * 4
    bn = nn.BatchNorm2d(3, dtype=ember.float64)
    assert bn.running_mean.dtype == ember.float64 and bn.running_var.tolist() == [1.0] * 3


def test_norm_errors():
    same_error(lambda: F.layer_norm(ember.randn(2, 3, 4), (3,)),
               lambda: TF.layer_norm(torch.randn(2, 3, 4), (3,)))
    same_error(lambda: F.layer_norm(ember.randn(2, 3), (3,), ember.ones(2)),
               lambda: TF.layer_norm(torch.randn(2, 3), (3,), torch.ones(2)))
    same_error(lambda: F.rms_norm(ember.randn(2, 3, 4), (3,)),
               lambda: TF.rms_norm(torch.randn(2, 3, 4), (3,)))
    same_error(lambda: F.group_norm(ember.randn(2, 6, 3), 4),
               lambda: TF.group_norm(torch.randn(2, 6, 3), 4))
    same_error(lambda: F.group_norm(ember.randn(2, 6, 3), 3, ember.ones(5)),
               lambda: TF.group_norm(torch.randn(2, 6, 3), 3, torch.ones(5)))
    same_error(lambda: nn.GroupNorm(4, 6), lambda: torch.nn.GroupNorm(4, 6))
    same_error(lambda: F.local_response_norm(ember.randn(4, 3), 2),
               lambda: TF.local_response_norm(torch.randn(4, 3), 2))


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize(p, dim):
    a = _data((3, 4), 8)
    a[0] = 0.0  # a zero row stays zero, with a finite gradient
    check_fn(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim), [a])
