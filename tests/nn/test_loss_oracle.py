"""Shared helpers for the loss tests: run a loss in ember and in torch on the same data and
compare outputs, gradients and errors. (No tests here; the test_loss_*.py files import it.)"""
import re
import warnings
import zlib

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F

RNG = np.random.default_rng(1234)


def reseed(nodeid):
    """Each test draws from its own stream, seeded by its id (tests/nn/conftest.py calls
    this): its data then does not depend on which tests ran before it in the worker."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(nodeid.encode()))


TOL = {"float64": dict(rtol=1e-7, atol=1e-10), "float32": dict(rtol=2e-5, atol=2e-6)}


def _convert(lib, v, dtype, requires_grad):
    """numpy float arrays -> dtype tensors, numpy int/bool arrays -> tensors of their kind,
    anything else unchanged."""
    if not isinstance(v, np.ndarray):
        return v
    if v.dtype.kind == "f":
        t = lib.tensor(v, dtype=getattr(lib, dtype))
        return t.requires_grad_() if requires_grad else t
    return lib.tensor(v)


def _call(lib, fn, args, kwargs, dtype, grad):
    targs = [_convert(lib, a, dtype, i in grad) for i, a in enumerate(args)]
    tkw = {k: _convert(lib, v, dtype, k in grad) for k, v in kwargs.items()}
    return fn(*targs, **tkw), targs, tkw


def _close(e, t, tol):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    assert str(e.dtype)[6:] == str(t.dtype)[6:], (e.dtype, t.dtype)
    np.testing.assert_allclose(np.asarray(e.detach().numpy(), np.float64),
                               t.detach().double().numpy(), equal_nan=True, **tol)


def compare(name, args, kwargs=None, grad=(0,), dtype="float64", tol=None, module=None,
            ctor=None):
    """Run F.<name>(*args, **kwargs) (or nn.<module>(**ctor)(*args)) in both libraries and
    compare the loss and the gradients of the inputs listed in `grad` (positions or kwarg
    names), with a random upstream gradient so that reduction='none' is checked too."""
    kwargs = kwargs or {}
    tol = tol or TOL[dtype]
    outs, leaves = [], []
    for lib in (ember, torch):
        if module is None:
            fn = getattr(F if lib is ember else torch.nn.functional, name)
        else:
            ckw = {k: _convert(lib, v, dtype, False) for k, v in (ctor or {}).items()}
            fn = getattr(lib.nn, module)(**ckw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out, targs, tkw = _call(lib, fn, args, kwargs, dtype, grad)
        outs.append(out)
        leaves.append([targs[g] if isinstance(g, int) else tkw[g] for g in grad])
    e, t = outs
    _close(e, t, tol)
    if grad:
        up = RNG.standard_normal(tuple(t.shape))
        e.backward(ember.tensor(up, dtype=e.dtype))
        t.backward(torch.tensor(up, dtype=t.dtype))
        for le, lt in zip(*leaves):
            assert (le.grad is None) == (lt.grad is None)
            if lt.grad is not None:
                _close(le.grad, lt.grad, tol)
    return e, t


def _normalize(msg):
    return re.sub(r"(torch|ember)\.Size", "Size", str(msg))


def same_error(call, message=True):
    """call(lib, F) raises the same exception type (and the same message) in both."""
    caught = []
    for lib, fn in ((ember, F), (torch, torch.nn.functional)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(Exception) as info:
                call(lib, fn)
        caught.append(info.value)
    e, t = caught
    assert type(e) is type(t), (repr(e), repr(t))
    assert not message or _normalize(e) == _normalize(t), (str(e), str(t))


def rand(*shape):
    return RNG.standard_normal(shape)


def uniform(*shape, lo=0.0, hi=1.0):
    return RNG.uniform(lo, hi, shape)


def classes(n, *shape):
    return RNG.integers(0, n, shape)


def signs(*shape):
    return RNG.choice([-1.0, 1.0], shape)
