"""Helpers for the extra-ops tests: the same data in ember and torch, comparisons of
values/dtypes, of gradients against torch, and numerical gradient checks."""
import numpy as np
import torch

import ember

TOL = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-10}


def both(fn):
    """fn(module) for ember and for torch: the same expression in both libraries."""
    return fn(ember), fn(torch)


def make(shape, dtype="float64", seed=0, low=-3, high=3, data=None):
    """(ember tensor, torch tensor) with the same random data of `dtype`."""
    rng = np.random.default_rng(seed)
    if data is not None:
        a = np.asarray(data)
    elif dtype == "bool":
        a = rng.random(shape) > 0.5
    elif dtype == "uint8":
        a = rng.integers(0, 5, shape)
    elif dtype.startswith(("int", "uint")):
        a = rng.integers(low, high, shape)
    else:
        a = rng.standard_normal(shape)
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    e = ember.tensor(a.tolist() if a.ndim else a.item(), dtype=getattr(ember, dtype))
    return e, t


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    a = x.detach()._data
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def dtype_name(x):
    return str(x.dtype).split(".")[-1]


def same(e, t, tol=None, dtype=True):
    """Same shape, (same dtype), values equal or within tol (NaNs equal)."""
    if isinstance(t, (tuple, list)):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            same(a, b, tol, dtype)
        return
    if not isinstance(t, torch.Tensor):
        assert e == t, (e, t)
        return
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    if dtype:
        assert dtype_name(e) == dtype_name(t), (e.dtype, t.dtype)
    a, b = to_np(e), to_np(t)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        tol = TOL.get(dtype_name(t), 1e-6) if tol is None else tol
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=tol,
                                   atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


def grads_match(fe, ft, *arrays, seed=1, tol=1e-8):
    """Run fe on ember float64 leaves and ft on torch ones made from `arrays`, backprop
    the same random output gradient (to every float output), compare input gradients."""
    es = [ember.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    re, rt = fe(*es), ft(*ts)
    re = re if isinstance(re, (tuple, list)) else (re,)
    rt = rt if isinstance(rt, (tuple, list)) else (rt,)
    rng = np.random.default_rng(seed)
    outs_e, outs_t, gs_e, gs_t = [], [], [], []
    for oe, ot in zip(re, rt):
        if not ot.dtype.is_floating_point or not ot.requires_grad:
            continue
        same(oe, ot, tol=1e-7)
        g = rng.standard_normal(tuple(ot.shape))
        outs_e.append(oe)
        outs_t.append(ot)
        gs_e.append(ember.tensor(g))
        gs_t.append(torch.tensor(g))
    ember.autograd.backward(outs_e, gs_e)
    torch.autograd.backward(outs_t, gs_t)
    for e, t in zip(es, ts):
        if t.grad is None or e.grad is None:  # no gradient: None or zeros on either side
            assert not np.any(e.grad._data if e.grad is not None else 0)
            assert not np.any(t.grad.numpy() if t.grad is not None else 0)
            continue
        np.testing.assert_allclose(e.grad._data, t.grad.numpy(), rtol=tol, atol=tol)


def gradcheck(fn, *arrays, **kw):
    """ember.autograd.gradcheck on float64 leaves made from `arrays`."""
    es = tuple(ember.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays)
    assert ember.autograd.gradcheck(fn, es, **kw)
