"""Shared helpers for the spatial-layer tests (conv, pooling, padding, upsampling, fold):
run the same computation in ember and torch on the same data, compare values, gradients
of every floating input, and errors."""
import numpy as np
import pytest
import torch

import ember


def arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def _tensors(arrs, dtype, requires_grad):
    es, ts = [], []
    for a in arrs:
        if a is None:
            es.append(None)
            ts.append(None)
            continue
        e = ember.tensor(a, dtype=getattr(ember, dtype))
        t = torch.tensor(a, dtype=getattr(torch, dtype))
        if requires_grad and e.dtype.is_floating_point:
            e.requires_grad_()
            t.requires_grad_()
        es.append(e)
        ts.append(t)
    return es, ts


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    a = x.detach().numpy() if x.dtype != ember.bfloat16 else x.detach().float().numpy()
    return a


def assert_same(e, t, tol):
    if isinstance(t, (tuple, list)):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            assert_same(a, b, tol)
        return
    assert tuple(e.shape) == tuple(t.shape), (tuple(e.shape), tuple(t.shape))
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    np.testing.assert_allclose(to_np(e).astype(np.float64), to_np(t).astype(np.float64),
                               rtol=tol, atol=tol, equal_nan=True)


def check(fe, ft, arrs, *, dtype="float64", tol=1e-10, grad=True, seed=1):
    """fe/ft take the tensors made from `arrs` (None stays None); outputs must match, and
    with grad=True so must the gradients of a random cotangent on the first output."""
    es, ts = _tensors(arrs, dtype, grad)
    ye, yt = fe(*es), ft(*ts)
    assert_same(ye, yt, tol)
    if not grad:
        return ye, yt
    oe = ye[0] if isinstance(ye, tuple) else ye
    ot = yt[0] if isinstance(yt, tuple) else yt
    g = np.random.default_rng(seed).standard_normal(tuple(ot.shape))
    oe.backward(ember.tensor(g, dtype=oe.dtype))
    ot.backward(torch.tensor(g, dtype=ot.dtype))
    for e, t in zip(es, ts):
        if t is not None and t.requires_grad:
            assert e.grad is not None
            assert_same(e.grad, t.grad, tol)
    return ye, yt


def same_error(fe, ft):
    """Both raise; same exception type and message."""
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(Exception) as ee:
        fe()
    assert type(ee.value).__name__ == type(te.value).__name__, (ee.value, te.value)
    assert str(ee.value) == str(te.value)
