"""Helpers for the layer tests (activations, normalization, dropout, linear, embedding...):
run the same function or module in ember and torch on the same data and weights, compare
outputs, input gradients, parameter gradients, buffers, reprs and errors."""
import re

import numpy as np
import pytest
import torch

import ember

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-6)}


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.to_dense() if x.is_sparse else x  # ember's gradients are always dense
        return x.detach().double().numpy()
    return np.asarray(x.detach().to(ember.float64).numpy() if x.is_floating_point()
                      else x.detach().numpy())


def assert_close(e, t, dtype="float64", **tol):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    np.testing.assert_allclose(to_np(e), to_np(t), equal_nan=True, **(tol or TOL[dtype]))


def tensors(arrays, dtype="float64", requires_grad=True):
    """ember and torch tensors holding the same data (integer arrays keep their dtype)."""
    es, ts = [], []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind in "iub":
            es.append(ember.tensor(a))
            ts.append(torch.tensor(a))
            continue
        e = ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=requires_grad)
        t = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=requires_grad)
        es.append(e)
        ts.append(t)
    return es, ts


def check_fn(ef, tf, arrays, dtype="float64", seed=0, **tol):
    """Same outputs and same gradients of every floating input (random cotangent)."""
    es, ts = tensors(arrays, dtype)
    eo, to = ef(*es), tf(*ts)
    assert_close(eo, to, dtype, **tol)
    if not to.requires_grad:
        return eo, to
    g = np.random.default_rng(seed).standard_normal(tuple(to.shape))
    eo.backward(ember.tensor(g, dtype=eo.dtype))
    to.backward(torch.tensor(g, dtype=to.dtype))
    for e, t in zip(es, ts):
        if t.grad is not None:
            assert e.grad is not None
            assert_close(e.grad, t.grad, dtype, **tol)
    return eo, to


def module_pair(build, dtype="float64"):
    """build(nn) in both libraries; ember gets torch's parameters and buffers."""
    tm = build(torch.nn).to(getattr(torch, dtype))
    em = build(ember.nn).to(getattr(ember, dtype))
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return em, tm


def check_module(em, tm, arrays, dtype="float64", seed=0, **tol):
    """Forward, input gradients and parameter gradients of two modules with equal state."""
    eo, to = check_fn(em, tm, arrays, dtype, seed, **tol)
    tparams = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        tp = tparams[name]
        if tp.grad is None:
            assert p.grad is None, name
        else:
            assert_close(p.grad, tp.grad, dtype, **tol)
    return eo, to


def check_buffers(em, tm, dtype="float64", **tol):
    tb = dict(tm.named_buffers())
    eb = dict(em.named_buffers())
    assert eb.keys() == tb.keys()
    for k, b in eb.items():
        if b.is_floating_point():
            assert_close(b, tb[k], dtype, **tol)
        else:
            assert b.tolist() == tb[k].tolist(), k


def same_repr(em, tm):
    assert repr(em) == repr(tm).replace("torch", "ember")


def same_state_keys(em, tm):
    assert list(em.state_dict()) == list(tm.state_dict())


def same_error(ef, tf, exc=None):
    """Both raise the same exception type with the same message ('torch' read as 'ember')."""
    with pytest.raises(Exception) as te:
        tf()
    with pytest.raises(Exception) as ee:
        ef()
    if exc is not None:
        assert isinstance(te.value, exc)
    assert isinstance(ee.value, type(te.value)), (type(ee.value), type(te.value))
    tmsg = str(te.value).replace("torch", "ember")
    assert _squash(str(ee.value)) == _squash(tmsg), (str(ee.value), tmsg)


def _squash(msg):
    return re.sub(r"\s+", " ", msg).strip()
