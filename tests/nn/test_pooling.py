"""Pooling against torch: max (with indices, ties routed like torch), avg (ceil_mode,
count_include_pad, divisor_override), lp, adaptive avg/max, max_unpool; modules and errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _spatial import arrays, assert_same, check, same_error

X1, X2, X3 = arrays((2, 3, 9), (2, 3, 7, 8), (1, 2, 5, 6, 4))
X = {1: X1, 2: X2, 3: X3}

MAX = [
    (2, dict(kernel_size=2)),
    (2, dict(kernel_size=3, stride=2, padding=1)),
    (2, dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), dilation=(2, 1), ceil_mode=True)),
    (2, dict(kernel_size=3, stride=2, ceil_mode=True)),
    (2, dict(kernel_size=2, stride=1, dilation=2)),
    (1, dict(kernel_size=3, stride=2, padding=1)),
    (1, dict(kernel_size=2, ceil_mode=True, dilation=2)),
    (3, dict(kernel_size=2, stride=2, padding=1)),
    (3, dict(kernel_size=(2, 3, 2), stride=1, ceil_mode=True)),
]


@pytest.mark.parametrize("n,kw", MAX)
def test_max_pool_with_indices(n, kw):
    fe, ft = getattr(F, f"max_pool{n}d"), getattr(TF, f"max_pool{n}d")
    check(lambda x: fe(x, **kw, return_indices=True), lambda x: ft(x, **kw, return_indices=True),
          [X[n]])


def test_max_pool_ties_and_unbatched():
    x = np.maximum(X2, 0.5)   # many equal maxima: the gradient goes to one of them, as torch
    check(lambda x: F.max_pool2d(x, 3, 1), lambda x: TF.max_pool2d(x, 3, 1), [x])
    check(lambda x: F.max_pool2d(x, 2, return_indices=True),
          lambda x: TF.max_pool2d(x, 2, return_indices=True), [X2[0]])
    check(lambda x: F.max_pool1d(x, 2), lambda x: TF.max_pool1d(x, 2), [X1[0]])


@pytest.mark.parametrize("n,kw", [m for m in MAX if "dilation" not in m[1]] + [
    (2, dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    (2, dict(kernel_size=2, padding=1, ceil_mode=True)),
    (3, dict(kernel_size=2, stride=1, padding=1, ceil_mode=True, divisor_override=3)),
])
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool(n, kw, count_include_pad):
    fe, ft = getattr(F, f"avg_pool{n}d"), getattr(TF, f"avg_pool{n}d")
    check(lambda x: fe(x, **kw, count_include_pad=count_include_pad),
          lambda x: ft(x, **kw, count_include_pad=count_include_pad), [X[n]])


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("dtype,tol", [("float32", 1e-6), ("float16", 1e-3), ("int64", 0)])
def test_pool_dtypes(pool, dtype, tol):
    x = np.random.default_rng(0).integers(-5, 5, (2, 3, 7, 8)) if dtype == "int64" else X2
    check(lambda x: getattr(F, pool)(x, 3, 2, 1), lambda x: getattr(TF, pool)(x, 3, 2, 1),
          [x], dtype=dtype, tol=tol, grad=dtype == "float32")


@pytest.mark.parametrize("n,kw", [(1, dict(kernel_size=3, stride=2)), (2, dict(kernel_size=3)),
                                  (2, dict(kernel_size=(2, 3), stride=2, ceil_mode=True)),
                                  (3, dict(kernel_size=2))])
def test_lp_pool(n, kw):
    fe, ft = getattr(F, f"lp_pool{n}d"), getattr(TF, f"lp_pool{n}d")
    for p in (2, 3.0):
        check(lambda x: fe(x, p, **kw), lambda x: ft(x, p, **kw), [np.abs(X[n]) + 0.1])


@pytest.mark.parametrize("n,size", [(1, 4), (1, 9), (1, 1), (2, (3, 5)), (2, 1), (2, (None, 3)),
                                    (2, (7, 8)), (2, 4), (3, (2, 3, 3)), (3, (5, 4, None))])
def test_adaptive(n, size):
    avg_e, avg_t = getattr(F, f"adaptive_avg_pool{n}d"), getattr(TF, f"adaptive_avg_pool{n}d")
    max_e, max_t = getattr(F, f"adaptive_max_pool{n}d"), getattr(TF, f"adaptive_max_pool{n}d")
    check(lambda x: avg_e(x, size), lambda x: avg_t(x, size), [X[n]])
    check(lambda x: max_e(x, size, True), lambda x: max_t(x, size, True), [X[n]])


def test_adaptive_ties_unbatched_and_float32():
    x = np.maximum(X2, 0.3)
    check(lambda x: F.adaptive_max_pool2d(x, 3), lambda x: TF.adaptive_max_pool2d(x, 3), [x])
    check(lambda x: F.adaptive_avg_pool2d(x, (3, 5)), lambda x: TF.adaptive_avg_pool2d(x, (3, 5)),
          [X2[0]], dtype="float32", tol=1e-6)


@pytest.mark.parametrize("n,kw,out", [(2, dict(kernel_size=2), None),
                                      (2, dict(kernel_size=3, stride=2, padding=1), (7, 8)),
                                      (1, dict(kernel_size=2, stride=2), [1, 3, 9]),
                                      (3, dict(kernel_size=2), None)])
def test_max_unpool(n, kw, out):
    pool_t, unpool_t = getattr(TF, f"max_pool{n}d"), getattr(TF, f"max_unpool{n}d")
    unpool_e = getattr(F, f"max_unpool{n}d")
    vals, idx = pool_t(torch.tensor(X[n]), **kw, return_indices=True)
    idx_e = ember.tensor(idx.numpy())
    check(lambda v: unpool_e(v, idx_e, **kw, output_size=out),
          lambda v: unpool_t(v, idx, **kw, output_size=out), [vals.numpy()])


def test_modules_match_torch():
    cases = [("MaxPool2d", (3, 2, 1), dict(return_indices=True, ceil_mode=True), X2),
             ("MaxPool1d", (2,), {}, X1), ("MaxPool3d", (2,), dict(dilation=1), X3),
             ("AvgPool1d", (3, 2, 1), dict(count_include_pad=False), X1),
             ("AvgPool2d", (3,), dict(stride=2, padding=1, divisor_override=2), X2),
             ("AvgPool3d", (2,), dict(ceil_mode=True), X3),
             ("AdaptiveAvgPool2d", ((None, 3),), {}, X2), ("AdaptiveMaxPool1d", (4, True), {}, X1),
             ("AdaptiveMaxPool3d", (2,), {}, X3), ("AdaptiveAvgPool1d", (5,), {}, X1),
             ("LPPool2d", (2, 3), dict(stride=2), np.abs(X2))]
    for name, args, kw, x in cases:
        em, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(em) == repr(tm)
        check(em, tm, [x])
    em, tm = nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(em) == repr(tm)
    vals, idx = TF.max_pool2d(torch.tensor(X2), 2, return_indices=True)
    assert_same(em(ember.tensor(vals.numpy()), ember.tensor(idx.numpy()), (7, 8)),
                tm(vals, idx, (7, 8)), 0)


@pytest.mark.parametrize("call", [
    lambda F, x: F.max_pool2d(x[0, 0], 2),
    lambda F, x: F.max_pool2d(x, 2, padding=2),
    lambda F, x: F.max_pool2d(x, 3, padding=2, dilation=2),
    lambda F, x: F.max_pool2d(x, 9),
    lambda F, x: F.max_pool2d(x, 0),
    lambda F, x: F.max_pool2d(x, 2, stride=0),
    lambda F, x: F.max_pool2d(x, 2, dilation=0),
    lambda F, x: F.max_pool2d(x, (2, 2, 2)),
    lambda F, x: F.max_pool2d(x.bool(), 2),
    lambda F, x: F.max_pool1d(x, 2),
    lambda F, x: F.avg_pool2d(x, 2, padding=2),
    lambda F, x: F.avg_pool2d(x, 9),
    lambda F, x: F.avg_pool2d(x, 2, divisor_override=0),
    lambda F, x: F.avg_pool1d(x, 2),
    lambda F, x: F.adaptive_avg_pool2d(x[0, 0], 2),
    lambda F, x: F.adaptive_avg_pool2d(x, (2, 2, 2)),
    lambda F, x: F.adaptive_avg_pool2d(x, -1),
    lambda F, x: F.adaptive_avg_pool2d(x.long(), 2),
    lambda F, x: F.adaptive_max_pool2d(x.long(), 2),
    lambda F, x: F.adaptive_max_pool2d(x[0, 0], 2),
    lambda F, x: F.adaptive_avg_pool1d(x, 2),
    lambda F, x: F.adaptive_avg_pool2d(x[:, :, :0], 2),
])
def test_errors_match_torch(call):
    same_error(lambda: call(F, ember.ones(1, 2, 5, 5)), lambda: call(TF, torch.ones(1, 2, 5, 5)))


@pytest.mark.parametrize("n,kw", MAX)
def test_max_pool_nan_windows(n, kw):
    """A window with NaNs: the value is NaN and the last NaN wins (index and gradient), as
    torch's kernels replace the running maximum by any NaN; eager and traced."""
    x = np.round(X[n] * 2) / 2          # ties too
    x[np.random.default_rng(9).random(x.shape) < 0.2] = np.nan
    fe, ft = getattr(F, f"max_pool{n}d"), getattr(TF, f"max_pool{n}d")
    check(lambda x: fe(x, **kw, return_indices=True), lambda x: ft(x, **kw, return_indices=True),
          [x])
    e = ember.tensor(x, requires_grad=True)
    traced = ember.jit.trace(lambda t: fe(t, **kw), (e,))
    traced(e).sum().backward()
    t = torch.tensor(x, requires_grad=True)
    ft(t, **kw).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("size", [3, (2, 4)])
def test_adaptive_max_pool_nan_windows(size):
    x = np.round(X2 * 2) / 2
    x[np.random.default_rng(10).random(x.shape) < 0.2] = np.nan
    check(lambda x: F.adaptive_max_pool2d(x, size, return_indices=True),
          lambda x: TF.adaptive_max_pool2d(x, size, return_indices=True), [x])
