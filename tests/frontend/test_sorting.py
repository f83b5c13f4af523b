import numpy as np
import pytest
import torch

import ember
from _oracle import close, pair

rng = np.random.default_rng(0)




DTYPES = ["float32", "float64", "int64", "int32", "bool", "float16", "bfloat16", "uint8"]


def data(shape, dtype):
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype in ("int64", "int32", "uint8"):
        return rng.integers(0, 6, shape)   # many ties
    return rng.integers(-4, 4, shape) / 2.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_vs_torch(dtype, dim, descending):
    e, t = pair(data((5, 7), dtype), dtype)
    ev, ei = ember.sort(e, dim=dim, descending=descending, stable=True)
    tv, ti = torch.sort(t, dim=dim, descending=descending, stable=True)
    close(ev, tv)
    close(ei, ti)
    close(ember.argsort(e, dim, descending, stable=True), torch.argsort(t, dim=dim, descending=descending, stable=True))
    r = e.sort(dim, descending)
    assert r.values.shape == (5, 7) and r.indices.dtype is ember.int64


def test_sort_nan_and_scalar():
    e, t = pair([1.0, float("nan"), -1.0, 3.0, float("nan")])
    for desc in (False, True):
        close(ember.sort(e, descending=desc, stable=True).values, torch.sort(t, descending=desc, stable=True).values)
        close(ember.sort(e, descending=desc, stable=True).indices, torch.sort(t, descending=desc, stable=True).indices)
    e0, t0 = pair(3.0)
    close(ember.sort(e0).values, torch.sort(t0).values)
    close(ember.sort(e0).indices, torch.sort(t0).indices)
    with pytest.raises(IndexError):
        ember.sort(ember.ones(3), dim=1)


def test_msort():
    e, t = pair(data((4, 3), "float64"))
    close(ember.msort(e), torch.msort(t))


@pytest.mark.parametrize("dim,descending", [(0, False), (1, True), (-1, False)])
def test_sort_grad(dim, descending):
    a = rng.standard_normal((4, 5))
    e, t = pair(a, requires_grad=True)
    g = rng.standard_normal((4, 5))
    ember.sort(e, dim, descending).values.backward(ember.tensor(g))
    torch.sort(t, dim=dim, descending=descending).values.backward(torch.tensor(g))
    close(e.grad, t.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "float16"])
@pytest.mark.parametrize("k,dim,largest", [(1, -1, True), (3, 1, True), (2, 0, False), (0, 1, True), (7, 1, False)])
def test_topk(dtype, k, dim, largest):
    a = rng.permutation(35).reshape(5, 7)   # distinct values: indices are unambiguous
    e, t = pair(a, dtype)
    ev, ei = ember.topk(e, k, dim, largest)
    tv, ti = torch.topk(t, k, dim, largest)
    close(ev, tv)
    close(ei, ti)
    assert e.topk(k, dim=dim, largest=largest).values.shape == tuple(tv.shape)


def test_topk_ties_and_errors():
    e, t = pair(data((6, 8), "float64"))
    ev, ei = ember.topk(e, 3)
    tv, _ = torch.topk(t, 3)
    close(ev, tv)
    np.testing.assert_array_equal(np.take_along_axis(e._data, ei._data, -1), ev._data)
    with pytest.raises(RuntimeError):
        ember.topk(ember.ones(3), 4)
    with pytest.raises(RuntimeError):
        torch.topk(torch.ones(3), 4)


def test_topk_grad():
    a = rng.standard_normal((3, 6))
    e, t = pair(a, requires_grad=True)
    g = rng.standard_normal((3, 2))
    ember.topk(e, 2, largest=False).values.backward(ember.tensor(g))
    torch.topk(t, 2, largest=False).values.backward(torch.tensor(g))
    close(e.grad, t.grad)


@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(keepdim):
    a = rng.permutation(20).reshape(4, 5).astype(float)
    e, t = pair(a, requires_grad=True)
    ev, ei = ember.kthvalue(e, 2, 1, keepdim)
    tv, ti = torch.kthvalue(t, 2, 1, keepdim)
    close(ev, tv)
    close(ei, ti)
    ev.sum().backward()
    tv.sum().backward()
    close(e.grad, t.grad)
    with pytest.raises(RuntimeError):
        ember.kthvalue(ember.ones(3), 4)


@pytest.mark.parametrize("dtype", ["int64", "float32", "bool", "float16"])
@pytest.mark.parametrize("ri,rc", [(False, False), (True, False), (False, True), (True, True)])
def test_unique(dtype, ri, rc):
    e, t = pair(data((4, 5), dtype), dtype)
    er = ember.unique(e, return_inverse=ri, return_counts=rc)
    tr = torch.unique(t, return_inverse=ri, return_counts=rc)
    er = er if isinstance(er, tuple) else (er,)
    tr = tr if isinstance(tr, tuple) else (tr,)
    assert len(er) == len(tr)
    for x, y in zip(er, tr):
        close(x, y)


@pytest.mark.parametrize("dim", [0, 1])
def test_unique_dim(dim):
    a = np.array([[1, 2, 1, 2], [3, 4, 3, 4], [1, 2, 1, 2]])
    e, t = pair(a, "int64")
    for x, y in zip(ember.unique(e, dim=dim, return_inverse=True, return_counts=True),
                    torch.unique(t, dim=dim, return_inverse=True, return_counts=True)):
        close(x, y)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_unique_consecutive(dim):
    a = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 1, 1]])
    e, t = pair(a, "int64")
    for x, y in zip(ember.unique_consecutive(e, True, True, dim),
                    torch.unique_consecutive(t, True, True, dim)):
        close(x, y)
    close(e.unique_consecutive(), t.unique_consecutive())


def test_nonzero_kernel():
    from ember.runtime.registry import KERNELS
    a = np.array([[0, 1], [2, 0]])
    np.testing.assert_array_equal(KERNELS["cpu"]["nonzero"](a), torch.nonzero(torch.tensor(a)).numpy())
    assert KERNELS["cpu"]["nonzero"](np.array(5)).shape == (1, 0)
