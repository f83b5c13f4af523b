"""Reductions and scans vs torch: values, dtypes, shapes, gradients (float64), errors."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import ember

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool", "float16", "bfloat16"]
FLOATS = ["float32", "float64", "float16", "bfloat16"]
TOL = {"float16": 2e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-10}


def make(shape, dtype, seed=0, low=-3, high=3):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        a = rng.random(shape) > 0.5
    elif dtype in ("uint8",):
        a = rng.integers(0, 5, shape)
    elif dtype.startswith(("int", "uint")):
        a = rng.integers(low, high, shape)
    else:
        a = rng.standard_normal(shape)
    e = ember.tensor(a.tolist() if a.ndim else a.item(), dtype=getattr(ember, dtype))
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    return e, t


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    a = x.detach()._data
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def same(e, t, tol=None, dtype=True):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    if dtype:
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    a, b = to_np(e), to_np(t)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64),
                                   rtol=tol or 1e-5, atol=tol or 1e-5, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


def grad_pair(shape, seed=0, data=None):
    a = np.random.default_rng(seed).standard_normal(shape) if data is None else np.asarray(data, float)
    e = ember.tensor(a, dtype=ember.float64, requires_grad=True)
    t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    return e, t


def check_grad(fe, ft, shape=(3, 4), seed=0, data=None):
    e, t = grad_pair(shape, seed, data)
    re, rt = fe(e), ft(t)
    if isinstance(rt, tuple):
        re, rt = re[0], rt[0]
    g = np.random.default_rng(seed + 1).standard_normal(tuple(rt.shape))
    re.backward(ember.tensor(g, dtype=ember.float64))
    rt.backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(e.grad), to_np(t.grad), rtol=1e-8, atol=1e-10)


DIMS = [None, 0, 1, -1, (0, 1), (1,), (-1, 0)]


# ------------------------------------------------------------------ sum / mean / prod

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum(dtype, dim, keepdim):
    e, t = make((3, 4), dtype)
    if dim is None:
        if keepdim:
            pytest.skip("torch.sum(x, keepdim=True) without dim is not an overload")
        same(e.sum(), t.sum(), TOL.get(dtype))
        same(ember.sum(e), torch.sum(t), TOL.get(dtype))
    else:
        same(e.sum(dim, keepdim), t.sum(dim, keepdim), TOL.get(dtype))
        same(ember.sum(e, dim=dim, keepdim=keepdim), torch.sum(t, dim=dim, keepdim=keepdim),
             TOL.get(dtype))


def test_sum_half_accumulates_in_float32():
    a = np.full(4096, 0.1, np.float16)
    e, t = ember.tensor(a), torch.tensor(a)
    same(e.sum(), t.sum(), 1e-3)
    eb = ember.tensor(a.astype(np.float32)).bfloat16()
    same(eb.sum(), torch.tensor(a.astype(np.float32)).bfloat16().sum(), 1e-3)


@pytest.mark.parametrize("dtype", ["int64", "bool", "float32"])
def test_sum_dtype_arg(dtype):
    e, t = make((3, 4), dtype)
    same(e.sum(dtype=ember.float64), t.sum(dtype=torch.float64))
    same(ember.sum(e, 1, dtype=ember.int32), torch.sum(t, 1, dtype=torch.int32), 1e-5)


def test_sum_zero_dim_and_empty():
    e, t = ember.tensor(3.5), torch.tensor(3.5)
    same(e.sum(0), t.sum(0))
    same(e.sum(-1, keepdim=True), t.sum(-1, keepdim=True))
    e, t = ember.zeros(0, 3), torch.zeros(0, 3)
    same(e.sum(0), t.sum(0))
    same(e.sum(), t.sum())
    same(e.prod(1), t.prod(1))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", [None, 0, (0, 1), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_mean(dtype, dim, keepdim):
    e, t = make((3, 5), dtype)
    if dim is None and keepdim:
        return
    args = () if dim is None else (dim, keepdim)
    same(e.mean(*args), t.mean(*args), TOL[dtype])


@pytest.mark.parametrize("dtype", ["int64", "bool", "uint8"])
def test_mean_int_errors(dtype):
    e, t = make((3,), dtype)
    with pytest.raises(RuntimeError):
        t.mean()
    with pytest.raises(RuntimeError, match="mean"):
        e.mean()
    same(e.mean(dtype=ember.float64), t.mean(dtype=torch.float64))


def test_nansum_nanmean():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan]])
    e, t = ember.tensor(a), torch.tensor(a)
    same(e.nansum(), t.nansum())
    same(ember.nansum(e, 1), torch.nansum(t, 1))
    same(e.nanmean(), t.nanmean())
    same(ember.nanmean(e, 1, keepdim=True), torch.nanmean(t, 1, keepdim=True))
    ei, ti = make((4,), "int64")
    same(ei.nansum(), ti.nansum())
    check_grad(lambda x: ember.nansum(x, 1), lambda x: torch.nansum(x, 1),
               data=[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
def test_prod(dtype, dim):
    e, t = make((3, 4), dtype)
    if dim is None:
        same(e.prod(), t.prod(), TOL.get(dtype))
    else:
        same(e.prod(dim), t.prod(dim), TOL.get(dtype))
        same(ember.prod(e, dim, keepdim=True), torch.prod(t, dim, keepdim=True), TOL.get(dtype))


def test_prod_rejects_tuple_dim():
    e, t = make((3, 4), "float32")
    with pytest.raises(TypeError):
        t.prod(dim=(0,))
    with pytest.raises(TypeError):
        e.prod(dim=(0,))


def test_count_nonzero():
    a = np.array([[0, 1, 2], [0, 0, 3]])
    e, t = ember.tensor(a), torch.tensor(a)
    same(ember.count_nonzero(e), torch.count_nonzero(t))
    same(e.count_nonzero(1), t.count_nonzero(1))
    same(ember.count_nonzero(e, (0, 1)), torch.count_nonzero(t, (0, 1)))


# ------------------------------------------------------------------ extremes

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 1)])
def test_amax_amin(dtype, op, dim):
    e, t = make((3, 4), dtype)
    if dim is None:
        same(getattr(e, op)(), getattr(t, op)())
    else:
        same(getattr(ember, op)(e, dim), getattr(torch, op)(t, dim))
        same(getattr(e, op)(dim, keepdim=True), getattr(t, op)(dim, keepdim=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min(dtype, op):
    e, t = make((3, 4), dtype)
    same(getattr(e, op)(), getattr(t, op)())
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            re = getattr(ember, op)(e, dim, keepdim)
            rt = getattr(torch, op)(t, dim, keepdim)
            same(re.values, rt.values)
            same(re.indices, rt.indices)
            v, i = re
            same(v, rt[0])
            same(i, rt[1])
    e2, t2 = make((3, 4), dtype, seed=5)
    same(getattr(ember, op)(e, e2), getattr(torch, op)(t, t2))


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(dtype, op):
    e, t = make((3, 4), dtype, seed=3)
    if dtype == "bool":
        with pytest.raises(RuntimeError):
            getattr(t, op)()
        with pytest.raises(RuntimeError, match=op):
            getattr(e, op)(1)
        return
    same(getattr(e, op)(), getattr(t, op)())
    same(getattr(ember, op)(e, keepdim=True), getattr(torch, op)(t, keepdim=True))
    for dim in (0, 1, -1):
        same(getattr(e, op)(dim), getattr(t, op)(dim))
        same(getattr(e, op)(dim, keepdim=True), getattr(t, op)(dim, keepdim=True))


def test_extremes_nan():
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    e, t = ember.tensor(a), torch.tensor(a)
    same(e.max(), t.max())
    same(e.amin(1), t.amin(1))
    r, rt = e.max(1), t.max(1)
    same(r.values, rt.values)
    same(r.indices, rt.indices)
    same(e.argmax(1), t.argmax(1))


def test_extreme_errors():
    e, t = ember.zeros(0, 3), torch.zeros(0, 3)
    for f in (lambda m, x: x.max(), lambda m, x: x.argmax(), lambda m, x: x.max(0),
              lambda m, x: x.amax(0), lambda m, x: x.argmin(0)):
        with pytest.raises(Exception) as te:
            f(torch, t)
        with pytest.raises(te.type):
            f(ember, e)
    same(e.amax(1), t.amax(1))
    with pytest.raises(IndexError):
        ember.ones(2, 3).sum(2)
    with pytest.raises(IndexError):
        ember.ones(2, 3).max(-3)


def test_aminmax():
    e, t = make((3, 4), "float32")
    re, rt = ember.aminmax(e), torch.aminmax(t)
    same(re.min, rt.min)
    same(re.max, rt.max)
    re, rt = e.aminmax(dim=1, keepdim=True), t.aminmax(dim=1, keepdim=True)
    same(re[0], rt[0])
    same(re[1], rt[1])


def test_max_grad_goes_to_chosen_index():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    check_grad(lambda x: x.max(1)[0], lambda x: x.max(1)[0], data=data)
    check_grad(lambda x: x.min(0, keepdim=True).values, lambda x: x.min(0, keepdim=True).values,
               data=data)


def test_amax_grad_splits_ties():
    data = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    check_grad(lambda x: x.amax(1), lambda x: x.amax(1), data=data)
    check_grad(lambda x: x.amin(), lambda x: x.amin(), data=[[1.0, 0.0], [0.0, 5.0]])
    check_grad(lambda x: x.max(), lambda x: x.max(), data=data)
    check_grad(lambda x: x.amax((0, 1), keepdim=True), lambda x: x.amax((0, 1), keepdim=True),
               data=data)


# ------------------------------------------------------------------ median

@pytest.mark.parametrize("n", [4, 5])
def test_median(n):
    e, t = make((3, n), "float64", seed=n)
    same(e.median(), t.median())
    for dim in (0, 1):
        re, rt = e.median(dim), t.median(dim)
        same(re.values, rt.values)
        same(re.indices, rt.indices)
    ei, ti = make((3, n), "int64", seed=n)
    same(ei.median(), ti.median())
    same(ei.median(1, keepdim=True).values, ti.median(1, keepdim=True).values)
    check_grad(lambda x: x.median(1).values, lambda x: x.median(1).values, shape=(3, n))
    check_grad(lambda x: x.median(), lambda x: x.median(), shape=(3, n))


def test_median_nan():
    a = np.array([[1.0, np.nan, 3.0, 0.0], [4.0, 5.0, 6.0, 7.0]])
    e, t = ember.tensor(a), torch.tensor(a)
    same(e.median(), t.median())
    same(e.median(1).values, t.median(1).values)
    same(e.nanmedian(), t.nanmedian())
    same(ember.nanmedian(e, 1).values, torch.nanmedian(t, 1).values)


# ------------------------------------------------------------------ var / std

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("correction", [0, 1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_var_std(dtype, dim, correction, keepdim):
    e, t = make((4, 5), dtype)
    for op in ("var", "std"):
        same(getattr(e, op)(dim, correction=correction, keepdim=keepdim),
             getattr(t, op)(dim, correction=correction, keepdim=keepdim), TOL[dtype] * 5)
    for op in ("var_mean", "std_mean"):
        re = getattr(ember, op)(e, dim, correction=correction, keepdim=keepdim)
        rt = getattr(torch, op)(t, dim, correction=correction, keepdim=keepdim)
        same(re[0], rt[0], TOL[dtype] * 5)
        same(re[1], rt[1], TOL[dtype] * 5)


def test_var_legacy_overloads():
    e, t = make((4, 5), "float64")
    same(e.var(False), t.var(False))
    same(e.std(1, False), t.std(1, False))
    same(ember.var(e, 0, True, True), torch.var(t, 0, True, True))
    same(e.var(unbiased=False), t.var(unbiased=False))
    with pytest.raises(RuntimeError):
        ember.var(ember.tensor([1, 2, 3]))


@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_grad(op):
    check_grad(lambda x: getattr(x, op)(), lambda x: getattr(x, op)())
    check_grad(lambda x: getattr(x, op)(1, correction=0), lambda x: getattr(x, op)(1, correction=0))
    check_grad(lambda x: getattr(ember, op + "_mean")(x, 0)[0],
               lambda x: getattr(torch, op + "_mean")(x, 0)[0])


# ------------------------------------------------------------------ norm / logsumexp

PS = [2, "fro", 1, 3, 0.5, 0, math.inf, -math.inf]


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dim", [None, 1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm(p, dim, keepdim):
    e, t = make((3, 4), "float64")
    if p == "fro" and dim == 1:
        dim = (0, 1)
    same(ember.norm(e, p, dim, keepdim), torch.norm(t, p, dim, keepdim), 1e-8)
    same(e.float().norm(p, dim, keepdim), t.float().norm(p, dim, keepdim), 1e-5)
    if p not in (0,):
        check_grad(lambda x: x.norm(p, dim, keepdim), lambda x: x.norm(p, dim, keepdim))


def test_norm_zero_grad_and_errors():
    check_grad(lambda x: x.norm(), lambda x: x.norm(), data=[[0.0, 0.0], [0.0, 0.0]])
    check_grad(lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), data=[[0.0, 0.0], [1.0, 2.0]])
    check_grad(lambda x: x.norm(3, dim=1), lambda x: x.norm(3, dim=1), data=[[0.0, 0.0], [1.0, 2.0]])
    with pytest.raises(RuntimeError):
        ember.tensor([1, 2]).norm()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).norm(dtype=torch.float64)
    with pytest.raises(RuntimeError):
        ember.tensor([1, 2]).norm(dtype=ember.float64)
    same(ember.tensor([1.0, 2.0]).norm(dtype=ember.float64),
         torch.tensor([1.0, 2.0]).norm(dtype=torch.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64"])
@pytest.mark.parametrize("dim", [0, 1, (0, 1), -1])
def test_logsumexp(dtype, dim):
    e, t = make((3, 4), dtype)
    same(e.logsumexp(dim), t.logsumexp(dim), TOL.get(dtype, 1e-5))
    same(ember.logsumexp(e, dim, keepdim=True), torch.logsumexp(t, dim, keepdim=True),
         TOL.get(dtype, 1e-5))


def test_logsumexp_stable_and_grad():
    a = np.array([[1000.0, 1000.0], [-math.inf, -math.inf], [-1000.0, 0.0]])
    e, t = ember.tensor(a), torch.tensor(a)
    same(e.logsumexp(1), t.logsumexp(1))
    check_grad(lambda x: x.logsumexp(1), lambda x: x.logsumexp(1))
    check_grad(lambda x: x.logsumexp((0, 1)), lambda x: x.logsumexp((0, 1)), data=[[1000.0, 999.0]])


# ------------------------------------------------------------------ scans

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans(dtype, op, dim):
    e, t = make((3, 4), dtype)
    same(getattr(e, op)(dim), getattr(t, op)(dim), TOL.get(dtype))
    same(getattr(ember, op)(e, dim, dtype=ember.float64), getattr(torch, op)(t, dim, dtype=torch.float64),
         TOL.get(dtype))


def test_scans_zero_dim_and_inplace():
    same(ember.tensor(2.0).cumsum(0), torch.tensor(2.0).cumsum(0))
    same(ember.tensor(2).cumprod(-1), torch.tensor(2).cumprod(-1))
    e, t = make((3, 4), "float32")
    e.cumsum_(1)
    t.cumsum_(1)
    same(e, t)


@pytest.mark.parametrize("dim", [0, 1])
def test_cumsum_grad(dim):
    check_grad(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim))


@pytest.mark.parametrize("data", [
    [[1.0, 2.0, 3.0, 4.0], [0.5, -1.0, 2.0, 3.0]],
    [[1.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 3.0]],
    [[0.0, 0.0, 0.0, 1.0], [2.0, 3.0, 4.0, 0.0]],
])
@pytest.mark.parametrize("dim", [0, 1])
def test_cumprod_grad_with_zeros(data, dim):
    check_grad(lambda x: x.cumprod(dim), lambda x: x.cumprod(dim), data=data)


@pytest.mark.parametrize("data", [
    [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]],
    [[1.0, 0.0, 3.0], [0.0, 2.0, 0.0]],
    [[0.0, 0.0, 2.0], [0.0, 3.0, 4.0]],
])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_prod_grad_with_zeros(data, dim):
    f = (lambda x: x.prod()) if dim is None else (lambda x: x.prod(dim))
    check_grad(f, f, data=data)


def test_sum_mean_grads():
    check_grad(lambda x: x.sum(), lambda x: x.sum())
    check_grad(lambda x: x.sum((0, 1), keepdim=True), lambda x: x.sum((0, 1), keepdim=True))
    check_grad(lambda x: x.mean(1), lambda x: x.mean(1))
    check_grad(lambda x: x.mean(), lambda x: x.mean())


def test_double_backward_prod_and_cumprod():
    for data in ([1.0, 2.0, 3.0], [1.0, 0.0, 3.0]):
        for name in ("prod", "cumprod"):
            e, t = grad_pair((3,), data=data)
            fe = (lambda x: x.prod()) if name == "prod" else (lambda x: x.cumprod(0).sum())
            ge, = ember.autograd.grad(fe(e), e, create_graph=True)
            gt, = torch.autograd.grad(fe(t), t, create_graph=True)
            same(ge, gt, 1e-10)
            (ge * ge).sum().backward()
            (gt * gt).sum().backward()
            same(e.grad, t.grad, 1e-10)


# ------------------------------------------------------------------ any / all

@pytest.mark.parametrize("dtype", ["bool", "uint8", "int64", "float32"])
@pytest.mark.parametrize("op", ["any", "all"])
def test_any_all(dtype, op):
    e, t = make((3, 4), dtype, seed=2)
    same(getattr(e, op)(), getattr(t, op)())
    for dim in (0, 1, -1):
        same(getattr(e, op)(dim), getattr(t, op)(dim))
        same(getattr(ember, op)(e, dim, keepdim=True), getattr(torch, op)(t, dim, keepdim=True))
    same(getattr(e, op)((0, 1)), getattr(t, op)((0, 1)))


# ------------------------------------------------------------------ random shapes

@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_random_shapes(shape, data):
    nd = len(shape)
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda d: d % nd))
    keepdim = data.draw(st.booleans())
    e, t = make(tuple(shape), "float64")
    same(e.sum(dims, keepdim), t.sum(dims, keepdim), 1e-10)
    same(e.amax(dims, keepdim), t.amax(dims, keepdim), 1e-10)
    same(e.mean(dims, keepdim), t.mean(dims, keepdim), 1e-10)
    same(e.var(dims, keepdim=keepdim), t.var(dims, keepdim=keepdim), 1e-10)
    same(e.logsumexp(dims, keepdim), t.logsumexp(dims, keepdim), 1e-10)
    d = dims[0]
    same(e.cumsum(d), t.cumsum(d), 1e-10)
    r, rt = e.max(d, keepdim), t.max(d, keepdim)
    same(r.values, rt.values)
    same(r.indices, rt.indices)


def test_out_argument_is_written_like_torch():
    import torch
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    for name, args in (("sum", (1,)), ("mean", (0,)), ("amax", (1,)), ("logsumexp", (1,)),
                       ("cumsum", (1,))):
        eo, to = ember.empty(0), torch.empty(0)
        er = getattr(ember, name)(ember.tensor(x), *args, out=eo)
        tr = getattr(torch, name)(torch.tensor(x), *args, out=to)
        assert er is eo and tr is to
        np.testing.assert_allclose(eo.numpy(), to.numpy(), rtol=1e-6)
    v, i = ember.empty(0), ember.empty(0, dtype=ember.int64)
    ember.max(ember.tensor(x), 1, out=(v, i))
    assert v.tolist() == [2.0, 5.0] and i.tolist() == [2, 2]
