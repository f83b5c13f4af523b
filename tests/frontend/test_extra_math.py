"""Extra ops vs torch, part 2: special functions, logaddexp, scans (cummax, cummin,
logcumsumexp), mode, quantiles, binning, grids, diff/rot90/cross/block_diag/cdist,
scatters into views, in-place view ops: values, dtypes, float64 gradients, errors."""
import math
import warnings

import numpy as np
import pytest
import torch

import ember
from _cmp import both, gradcheck, grads_match, make, same

nan, inf = math.nan, math.inf


def raises_like(fe, ft, exc):
    with pytest.raises(exc) as te:
        ft()
    with pytest.raises(exc) as ee:
        fe()
    return str(ee.value), str(te.value)


# ------------------------------------------------------------------ special functions

SPECIAL_DATA = [0.5, -0.5, 1.0, 2.5, -2.5, 3.0, 10.0, 1e-3, 0.0]


@pytest.mark.parametrize("op", ["lgamma", "digamma", "i0"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64"])
def test_special_values(op, dtype):
    data = SPECIAL_DATA if not dtype.startswith("int") else [1, 2, 3, 7, 0, -1]
    e, t = make(None, dtype, data=data)
    tol = 1e-4 if dtype in ("float32", "int64") else None
    same(getattr(ember, op)(e), getattr(torch, op)(t), tol=tol)
    same(getattr(e, op)(), getattr(t, op)(), tol=tol)


def test_special_edges():
    e, t = make(None, "float64", data=[0.0, -0.0, -1.0, inf, -inf, nan])
    for op in ("lgamma", "digamma", "i0"):
        same(getattr(ember, op)(e), getattr(torch, op)(t))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma(n):
    e, t = make(None, "float64", data=[0.5, 1.0, 2.5, -1.5, 7.0])
    same(ember.polygamma(n, e), torch.polygamma(n, t), tol=1e-9)
    same(e.polygamma(n), t.polygamma(n), tol=1e-9)
    same(ember.polygamma(n, ember.tensor([1, 2])), torch.polygamma(n, torch.tensor([1, 2])), 1e-5)
    with pytest.raises(RuntimeError, match="does not support negative n"):
        ember.polygamma(-1, e)


@pytest.mark.parametrize("op,fe,ft", [
    ("lgamma", lambda x: x.lgamma(), lambda x: x.lgamma()),
    ("digamma", lambda x: x.digamma(), lambda x: x.digamma()),
    ("polygamma", lambda x: ember.polygamma(2, x), lambda x: torch.polygamma(2, x)),
    ("i0", lambda x: x.i0(), lambda x: x.i0())])
def test_special_grad(op, fe, ft):
    a = [0.7, 1.5, 3.2, -0.4, 2.0]
    grads_match(fe, ft, a)
    gradcheck(fe, a)


def test_special_second_order():
    for f in (lambda v: v.lgamma(), lambda v: v.i0()):
        x = ember.tensor([0.7, 1.5, 3.2, 0.3], dtype=ember.float64, requires_grad=True)
        assert ember.autograd.gradgradcheck(f, (x,))


def test_special_inplace():
    for op in ("lgamma_", "digamma_", "i0_", "sinc_"):
        e, t = make((3,), "float64", data=[0.5, 1.5, 2.5])
        getattr(e, op)()
        getattr(t, op)()
        same(e, t)
    e, t = make((3,), "float64", data=[0.5, 1.5, 2.5])
    same(e.polygamma_(1), t.polygamma_(1), tol=1e-8)  # the libraries differ in the 9th digit


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_frexp_ldexp(dtype):
    data = [0.0, 1.0, -3.0, 8.5, inf, -inf, nan, 1e-3, 6e4]
    e, t = make(None, dtype, data=data)
    (me, xe), (mt, xt) = ember.frexp(e), torch.frexp(t)
    same(me, mt, tol=0)
    same(xe[~xe.isnan() if False else slice(None)], xt)
    assert e.frexp().exponent.dtype is ember.int32
    with pytest.raises(RuntimeError, match="only supports floating-point"):
        ember.frexp(ember.tensor([1, 2]))
    ex, tx = make(None, "int64", data=[3, -1, 0, 2, 1, 0, 0, 4, -2])
    same(ember.ldexp(e, ex), torch.ldexp(t, tx))
    same(e.ldexp(ex), t.ldexp(tx))


def test_ldexp_dtypes_and_frexp_grad():
    for a, b in (("int64", "int64"), ("float32", "float64"), ("float16", "int32")):
        (ea, ta), (eb, tb) = make((3,), a), make((3,), b, seed=1)
        same(ember.ldexp(ea, eb), torch.ldexp(ta, tb))
    grads_match(lambda x: ember.frexp(x).mantissa * 3, lambda x: torch.frexp(x).mantissa * 3,
                [0.3, -5.0, 17.0])
    grads_match(lambda x, y: ember.ldexp(x, y), lambda x, y: torch.ldexp(x, y),
                [0.3, -5.0], [1.0, 2.0])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64"])
def test_sinc(dtype):
    data = [0.0, 0.5, 1.0, -2.5, 0.25, 3.0] if dtype != "int64" else [0, 1, -2, 3]
    e, t = make(None, dtype, data=data)
    same(ember.sinc(e), torch.sinc(t), tol=1e-6 if dtype in ("float32", "int64") else None)
    grads_match(ember.sinc, torch.sinc, [0.0, 0.5, 1.0, -2.5, 0.25])
    gradcheck(ember.sinc, [0.3, 0.5, 1.2])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64",
                                   "int8", "bool"])
def test_signbit(dtype):
    data = {"bool": [True, False]}.get(dtype, [-0.0, 0.0, -1.0, 2.0, nan, -inf]
                                        if not dtype.startswith("int") else [-1, 0, 2])
    e, t = make(None, dtype, data=data)
    same(ember.signbit(e), torch.signbit(t))
    same(e.signbit(), t.signbit())


def test_signbit_negative_nan():
    e = ember.tensor([nan]).neg()
    assert ember.signbit(e).tolist() == torch.signbit(-torch.tensor([nan])).tolist() == [True]


def test_heaviside():
    e, t = make(None, "float32", data=[-1.0, 0.0, 2.0, nan])
    v, tv = make(None, "float32", data=[0.5])
    same(ember.heaviside(e, v), torch.heaviside(t, tv))
    same(e.heaviside(v), t.heaviside(tv))
    ei, ti = make(None, "int64", data=[-1, 0, 3])
    same(ember.heaviside(ei, ember.tensor([7])), torch.heaviside(ti, torch.tensor([7])))
    with pytest.raises(RuntimeError, match="different dtypes"):
        ember.heaviside(e, ember.tensor([1]))


@pytest.mark.parametrize("op", ["logaddexp", "logaddexp2"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_logaddexp_values(op, dtype):
    (a, ta), (b, tb) = make((3, 4), dtype), make((4,), dtype, seed=1)
    same(getattr(ember, op)(a * 30, b), getattr(torch, op)(ta * 30, tb))
    same(getattr(a, op)(b), getattr(ta, op)(tb))
    x, tx = make(None, "float64", data=[inf, -inf, inf, nan, 1.0, -inf, 800.0])
    y, ty = make(None, "float64", data=[inf, -inf, -inf, 1.0, 1.0, 2.0, -800.0])
    same(getattr(ember, op)(x, y), getattr(torch, op)(tx, ty))


@pytest.mark.parametrize("op", ["logaddexp", "logaddexp2"])
def test_logaddexp_promotion_errors_grad(op):
    ei, ti = make((3,), "int64")
    ef, tf = make((3,), "float32")
    same(getattr(ember, op)(ef, ei), getattr(torch, op)(tf, ti))
    msgs = raises_like(lambda: getattr(ember, op)(ei, ei), lambda: getattr(torch, op)(ti, ti),
                       NotImplementedError)
    assert msgs[0] == msgs[1]
    with pytest.raises(TypeError, match="must be Tensor"):
        getattr(ember, op)(ef, 1.0)
    a, b = [0.0, 1.0, -3.0, 5.0], [0.0, 2.0, 4.0, -inf]
    grads_match(getattr(ember, op), getattr(torch, op), a, b)
    gradcheck(getattr(ember, op), [0.3, 1.0, -2.0], [0.1, 2.5, -2.0])


# ------------------------------------------------------------------ scans

@pytest.mark.parametrize("op", ["cummax", "cummin"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool", "float16", "bfloat16"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumext_values(op, dtype, dim):
    e, t = make((4, 5), dtype, low=-2, high=2)
    same(getattr(ember, op)(e, dim), getattr(torch, op)(t, dim))
    same(getattr(e, op)(dim), getattr(t, op)(dim))


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cumext_nan_ties_0d_grad(op):
    e, t = make(None, "float32", data=[1.0, 3.0, 3.0, 2.0, nan, 5.0, nan, 0.0])
    same(getattr(ember, op)(e, 0), getattr(torch, op)(t, 0))
    same(getattr(ember, op)(ember.tensor(2.0), 0), getattr(torch, op)(torch.tensor(2.0), 0))
    data = [[1.0, 3.0, 3.0, 2.0], [4.0, 1.0, 0.5, 6.0]]
    grads_match(lambda x: getattr(ember, op)(x, 1).values,
                lambda x: getattr(torch, op)(x, 1).values, data)
    gradcheck(lambda x: getattr(ember, op)(x, 0).values, [[0.3, 1.0], [-0.2, 2.0]])


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_logcumsumexp(dtype):
    e, t = make((3, 4), dtype)
    for d in (0, 1, -1):
        same(ember.logcumsumexp(e * 20, d), torch.logcumsumexp(t * 20, d))
        same(e.logcumsumexp(d), t.logcumsumexp(d))
    x, tx = make(None, "float64", data=[-inf, 0.0, 1000.0, -inf, -1000.0])
    same(ember.logcumsumexp(x, 0), torch.logcumsumexp(tx, 0))
    msgs = raises_like(lambda: ember.logcumsumexp(ember.tensor([1]), 0),
                       lambda: torch.logcumsumexp(torch.tensor([1]), 0), NotImplementedError)
    assert msgs[0] == msgs[1]


def test_logcumsumexp_grad():
    a = np.random.default_rng(0).standard_normal((3, 4)) * 5
    grads_match(lambda x: ember.logcumsumexp(x, 1), lambda x: torch.logcumsumexp(x, 1), a)
    gradcheck(lambda x: ember.logcumsumexp(x, 0), a[:2, :3])
    x = ember.tensor(a[0], requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda v: ember.logcumsumexp(v, 0), (x,))


# ------------------------------------------------------------------ mode and quantiles

@pytest.mark.parametrize("data,dim", [([[1, 2, 2, 3, 3], [5, 5, 1, 1, 0]], 1),
                                      ([[1, 2, 2, 3, 3], [5, 5, 1, 1, 0]], 0),
                                      ([1.0, 2.0, 2.0, nan, nan, nan], -1),
                                      ([2, 1, 2, 1, 3], 0), ([True, False, False], 0),
                                      ([7.5], 0)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_mode(data, dim, keepdim):
    dtype = "bool" if isinstance(data[0], bool) else "float64" if any(
        isinstance(v, float) for v in np.ravel(data)) else "int64"
    e, t = make(None, dtype, data=data)
    same(ember.mode(e, dim, keepdim), torch.mode(t, dim, keepdim))
    same(e.mode(dim, keepdim=keepdim), t.mode(dim, keepdim=keepdim))


def test_mode_edges_and_grad():
    same(ember.mode(ember.tensor(3.0)), torch.mode(torch.tensor(3.0)))
    same(ember.mode(ember.ones(0, 3), 1), torch.mode(torch.ones(0, 3), 1))
    with pytest.raises(IndexError, match="Expected reduction dim 0 to have non-zero size"):
        ember.mode(ember.ones(0, 3), 0)
    e, t = make((4, 6), "int64", low=0, high=3, seed=3)
    same(ember.mode(e.float()), torch.mode(t.float()))
    grads_match(lambda x: ember.mode(x, 1).values, lambda x: torch.mode(x, 1).values,
                [[1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 5.0, 5.0]])


QUANTILE_MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("op", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", QUANTILE_MODES)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (0, True),
                                         (-1, True)])
def test_quantile_values(op, interpolation, dim, keepdim):
    e, t = make((3, 5), "float64")
    e = ember.where(e > 1.0, nan, e) if op == "nanquantile" else e
    t = torch.where(t > 1.0, nan, t) if op == "nanquantile" else t
    for q in (0.3, 0.125, 1.0, [0.0, 0.375, 0.625, 1.0]):
        qe = ember.tensor(q, dtype=ember.float64) if isinstance(q, list) else q
        qt = torch.tensor(q, dtype=torch.float64) if isinstance(q, list) else q
        same(getattr(ember, op)(e, qe, dim, keepdim, interpolation=interpolation),
             getattr(torch, op)(t, qt, dim, keepdim, interpolation=interpolation))


def test_quantile_nan_rows_and_errors():
    e, t = make(None, "float32", data=[[1.0, nan, 3.0], [nan, nan, nan], [4.0, 2.0, 0.0]])
    for op in ("quantile", "nanquantile"):
        same(getattr(ember, op)(e, 0.5, dim=1), getattr(torch, op)(t, 0.5, dim=1))
        same(getattr(e, op)(ember.tensor(0.25), 1), getattr(t, op)(torch.tensor(0.25), 1))
    x = ember.tensor([1.0, 2.0])
    cases = [(lambda m: m.quantile(m.tensor([1, 2]), 0.5), "float or double"),
             (lambda m: m.quantile(m.tensor([1.0, 2.0]), 1.5), "in the range"),
             (lambda m: m.quantile(m.tensor([1.0, 2.0]), m.tensor([0.5], dtype=m.float64)),
              "same dtype"),
             (lambda m: m.quantile(m.ones(0), 0.5), "non-empty"),
             (lambda m: m.quantile(m.tensor([1.0, 2.0]), 0.5, interpolation="foo"),
              "interpolation must"),
             (lambda m: m.quantile(m.tensor([1.0, 2.0]), m.tensor([[0.5]])), "scalar or 1D")]
    for f, msg in cases:
        with pytest.raises(RuntimeError, match=msg):
            f(torch)
        with pytest.raises(RuntimeError, match=msg):
            f(ember)
    assert x.quantile(0.5).item() == 1.5


@pytest.mark.parametrize("interpolation", QUANTILE_MODES)
def test_quantile_grad(interpolation):
    a = np.random.default_rng(0).standard_normal((3, 5))
    q = [0.2, 0.5, 0.9]
    grads_match(lambda x: ember.quantile(x, ember.tensor(q, dtype=ember.float64), 1,
                                         interpolation=interpolation),
                lambda x: torch.quantile(x, torch.tensor(q, dtype=torch.float64), 1,
                                         interpolation=interpolation), a)
    grads_match(lambda x: ember.nanquantile(x, 0.3, interpolation=interpolation),
                lambda x: torch.nanquantile(x, 0.3, interpolation=interpolation), a)


# ------------------------------------------------------------------ binning

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_histc(dtype):
    e, t = make((50,), dtype)
    for kw in ({}, {"bins": 4, "min": 0, "max": 3}, {"bins": 7, "min": -1, "max": 1},
               {"bins": 3, "min": 1, "max": 1}):
        same(ember.histc(e, **kw), torch.histc(t, **kw))
        same(e.histc(**kw), t.histc(**kw))
    same(*both(lambda m: m.histc(m.tensor([2.0, 2.0]), bins=3)))
    same(ember.histc(ember.ones(0), bins=2), torch.histc(torch.ones(0), bins=2))
    same(ember.histc(ember.tensor([0.0, 1.0, 2.0, 3.0]), bins=3, min=0, max=3),
         torch.histc(torch.tensor([0.0, 1.0, 2.0, 3.0]), bins=3, min=0, max=3))


def test_histc_errors():
    cases = [(lambda m: m.histc(m.tensor([1, 2]), bins=3), NotImplementedError, "histogram_cpu"),
             (lambda m: m.histc(m.tensor([1.0, nan]), bins=3), RuntimeError, "not finite"),
             (lambda m: m.histc(m.tensor([1.0, inf]), bins=3), RuntimeError, "not finite"),
             (lambda m: m.histc(m.tensor([1.0]), bins=0), RuntimeError, "bins must be > 0"),
             (lambda m: m.histc(m.tensor([1.0]), bins=2, min=3, max=1), RuntimeError,
              "max must be larger")]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f(torch)
        with pytest.raises(exc, match=msg):
            f(ember)


def test_bincount():
    e, t = make(None, "int64", data=[0, 1, 1, 3, 7, 3])
    same(ember.bincount(e), torch.bincount(t))
    same(e.bincount(minlength=10), t.bincount(minlength=10))
    for wd in ("float32", "float64", "int64", "float16"):
        w, tw = make((6,), wd, seed=2)
        same(ember.bincount(e, w), torch.bincount(t, tw), tol=1e-3)
    same(*both(lambda m: m.bincount(m.tensor([1], dtype=m.uint8))))
    same(*both(lambda m: m.bincount(m.tensor([], dtype=m.int64))))
    cases = [(lambda m: m.bincount(m.tensor([-1, 1])), RuntimeError, "non-negative integral"),
             (lambda m: m.bincount(m.tensor([[1]])), RuntimeError, "1-d non-negative"),
             (lambda m: m.bincount(m.tensor([1.0])), NotImplementedError, "bincount_cpu"),
             (lambda m: m.bincount(m.tensor([True])), NotImplementedError, "Bool"),
             (lambda m: m.bincount(m.tensor([1]), minlength=-1), RuntimeError, "minlength")]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f(torch)
        with pytest.raises(exc, match=msg):
            f(ember)


SEQ = [1, 3, 5, 7, 9]


@pytest.mark.parametrize("kw", [{}, {"right": True}, {"side": "right"}, {"side": "left"},
                                {"out_int32": True}, {"right": False, "side": "right"}])
def test_searchsorted(kw):
    s, ts = make(None, "int64", data=SEQ)
    v, tv = make(None, "int64", data=[[3, 6], [9, 0], [10, 1]])
    same(ember.searchsorted(s, v, **kw), torch.searchsorted(ts, tv, **kw))
    same(ember.searchsorted(s, 4, **kw), torch.searchsorted(ts, 4, **kw))
    s2, ts2 = make(None, "float32", data=[[1, 3, 5], [2, 4, 6]])
    v2, tv2 = make(None, "float32", data=[[3, 4, 7], [5, 6, 1]])
    same(ember.searchsorted(s2, v2, **kw), torch.searchsorted(ts2, tv2, **kw))
    same(ember.searchsorted(s, ember.tensor([3.5, 9.0]), **kw),
         torch.searchsorted(ts, torch.tensor([3.5, 9.0]), **kw))
    if "side" not in kw:
        same(ember.bucketize(v, s, **kw), torch.bucketize(tv, ts, **kw))
        same(ember.bucketize(4, s, **kw), torch.bucketize(4, ts, **kw))


def test_searchsorted_sorter_and_errors():
    e, t = ember.tensor([5, 1, 3]), torch.tensor([5, 1, 3])
    srt = [1, 2, 0]
    same(ember.searchsorted(e, ember.tensor([2, 4]), sorter=ember.tensor(srt)),
         torch.searchsorted(t, torch.tensor([2, 4]), sorter=torch.tensor(srt)))
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ember.searchsorted(ember.ones(2, 3), ember.ones(1, 2))
    with pytest.raises(RuntimeError, match="can't be set to opposites"):
        ember.searchsorted(e, e, right=True, side="left")
    with pytest.raises(RuntimeError, match=r"must be 1 dimension, but got dim\(2\)"):
        ember.bucketize(ember.tensor([3]), ember.ones(2, 2))


# ------------------------------------------------------------------ grids and index sets

@pytest.mark.parametrize("indexing", ["ij", "xy", None])
def test_meshgrid(indexing):
    sizes = [(2,), (3,), ()]
    for k in (1, 2, 3):
        es, ts = zip(*(make(s, "float32", seed=i) for i, s in enumerate(sizes[:k])))
        kw = {} if indexing is None else {"indexing": indexing}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            same(ember.meshgrid(*es, **kw), torch.meshgrid(*ts, **kw))
            same(ember.meshgrid(list(es), **kw), torch.meshgrid(list(ts), **kw))
    grads_match(lambda a, b: ember.meshgrid(a, b, indexing="xy"),
                lambda a, b: torch.meshgrid(a, b, indexing="xy"), [1.0, 2.0], [3.0, 4.0, 5.0])


def test_meshgrid_errors_and_views():
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.meshgrid(ember.arange(2), ember.arange(2.0), indexing="ij")
    with pytest.raises(RuntimeError, match="indexing must be one of"):
        ember.meshgrid(ember.arange(2), indexing="foo")
    with pytest.raises(RuntimeError, match="non-empty TensorList"):
        ember.meshgrid()
    g = ember.meshgrid(ember.arange(2), ember.arange(3), indexing="ij")[0]
    assert g.stride() == (1, 0)


def test_cartesian_prod_combinations():
    a, ta = make(None, "int64", data=[0, 1])
    b, tb = make(None, "int64", data=[5, 6, 7])
    same(ember.cartesian_prod(a, b), torch.cartesian_prod(ta, tb))
    same(ember.cartesian_prod(b), torch.cartesian_prod(tb))
    same(ember.cartesian_prod(a, b, a), torch.cartesian_prod(ta, tb, ta))
    with pytest.raises(RuntimeError, match="Expect a 1D vector"):
        ember.cartesian_prod(ember.ones(2, 2))
    c, tc = make(None, "float64", data=[1.0, 2.0, 3.0, 4.0])
    for r in (0, 1, 2, 3, 4, 5):
        for wr in (False, True):
            same(ember.combinations(c, r, wr), torch.combinations(tc, r, wr))
    with pytest.raises(RuntimeError, match="non-negative number"):
        ember.combinations(c, -1)
    grads_match(lambda x: ember.combinations(x, 2), lambda x: torch.combinations(x, 2),
                [1.0, 2.0, 3.0])


@pytest.mark.parametrize("fn", ["triu_indices", "tril_indices"])
@pytest.mark.parametrize("args", [(3, 4, 1), (3, 4, -1), (3, 3), (0, 3), (3, 3, 10), (3, 3, -10),
                                  (4, 2, 0), (1, 5, 2)])
def test_tri_indices(fn, args):
    same(getattr(ember, fn)(*args), getattr(torch, fn)(*args))
    same(getattr(ember, fn)(*args, dtype=ember.int32), getattr(torch, fn)(*args, dtype=torch.int32))


def test_tri_indices_errors():
    with pytest.raises(RuntimeError, match="row must be non-negative"):
        ember.tril_indices(-1, 3)
    with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
        ember.tril_indices(3, 3, dtype=ember.float32)


# ------------------------------------------------------------------ structural composites

def test_diff():
    e, t = make(None, "int64", data=[1, 4, 9, 16])
    for n in (0, 1, 2, 5):
        same(ember.diff(e, n), torch.diff(t, n))
    b, tb = make(None, "bool", data=[True, False, False, True])
    same(ember.diff(b), torch.diff(tb))
    f, tf = make((3, 4), "float32")
    same(f.diff(dim=0), tf.diff(dim=0))
    ends = {m: dict(prepend=m.zeros(3, 1), append=m.ones(3, 2, dtype=m.int64))
            for m in (ember, torch)}
    same(ember.diff(f, 2, 1, **ends[ember]), torch.diff(tf, 2, 1, **ends[torch]))
    with pytest.raises(RuntimeError, match="at least one-dimensional"):
        ember.diff(ember.tensor(1.0))
    with pytest.raises(RuntimeError, match="order must be non-negative"):
        ember.diff(f, -1)
    grads_match(lambda x: ember.diff(x, 2, 0), lambda x: torch.diff(x, 2, 0),
                np.random.default_rng(0).standard_normal((4, 3)))


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (-1, 0), (0, 2)])
def test_rot90(k, dims):
    e, t = make((2, 3, 4), "int64")
    same(ember.rot90(e, k, dims), torch.rot90(t, k, dims))
    same(e.rot90(k, dims), t.rot90(k, dims))


def test_rot90_errors_grad():
    for args, msg in ((((0, 0),), "rotation dims to be different"),
                      (((0, 1, 2),), "total rotation dims == 2"), (((0, 3),), "out of range")):
        with pytest.raises(RuntimeError, match=msg):
            ember.rot90(ember.ones(2, 3), 1, *args)
    with pytest.raises(RuntimeError, match="total dims >= 2"):
        ember.rot90(ember.ones(3))
    grads_match(lambda x: ember.rot90(x, 1), lambda x: torch.rot90(x, 1),
                np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize("shapes,dim", [(((3,), (3,)), None), (((4, 3), (4, 3)), 1),
                                        (((3, 4), (3, 4)), 0), (((2, 3), (1, 3)), -1),
                                        (((3, 3), (3, 3)), None)])
def test_cross(shapes, dim):
    (a, ta), (b, tb) = make(shapes[0], "float64"), make(shapes[1], "float64", seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(ember.cross(a, b, dim), torch.cross(ta, tb, dim))
        same(a.cross(b, dim), ta.cross(tb, dim))
        grads_match(lambda x, y: ember.cross(x, y, dim), lambda x, y: torch.cross(x, y, dim),
                    a._data, b._data)
    ai, ti = make((2, 3), "int64")
    same(ember.cross(ai, ai.flip(0), 1), torch.cross(ti, ti.flip(0), 1))


def test_cross_errors():
    with pytest.raises(RuntimeError, match="must have length 3"):
        ember.cross(ember.ones(2, 4), ember.ones(2, 4), dim=1)
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        ember.cross(ember.ones(2, 3, dtype=ember.int64), ember.ones(2, 3), 1)
    with pytest.warns(UserWarning, match="without specifying the dim"):
        ember.cross(ember.ones(3), ember.ones(3))


def test_block_diag():
    args = [(torch.tensor(1), torch.tensor([2, 3]), torch.ones(2, 2)),
            (torch.ones(0, 2), torch.ones(1, 0)), (torch.ones(2, 3, dtype=torch.int32),), ()]
    for ts in args:
        es = [ember.tensor(t.numpy()) for t in ts]
        same(ember.block_diag(*es), torch.block_diag(*ts))
    with pytest.raises(RuntimeError, match="must have 2 or fewer dimensions. Input 0 has 3"):
        ember.block_diag(ember.ones(1, 1, 1))
    rng = np.random.default_rng(0)
    grads_match(ember.block_diag, torch.block_diag,
                rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal(()))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, inf, 3.0, 0.5])
@pytest.mark.parametrize("shapes", [((3, 4), (5, 4)), ((2, 3, 4), (2, 5, 4)), ((3, 4), (2, 5, 4)),
                                    ((30, 3), (4, 3))])
def test_cdist(p, shapes):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    b[..., 0, :] = a[..., 0, :]  # a zero distance, where gradients need care
    grads_match(lambda x, y: ember.cdist(x, y, p), lambda x, y: torch.cdist(x, y, p), a, b,
                tol=1e-7)


def test_cdist_modes_and_errors():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    for mode in ("use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"):
        grads_match(lambda x, y: ember.cdist(x, y, compute_mode=mode),
                    lambda x, y: torch.cdist(x, y, compute_mode=mode), a, b, tol=1e-7)
    same(*both(lambda m: m.cdist(m.ones(0, 2), m.ones(3, 2))))
    cases = [(lambda m: m.cdist(m.ones(3, 4), m.ones(5, 3)), RuntimeError,
              "same number of columns"),
             (lambda m: m.cdist(m.ones(4), m.ones(4)), RuntimeError, "at least 2D"),
             (lambda m: m.cdist(m.ones(2, 2), m.ones(2, 2), p=-1), RuntimeError, "non-negative p"),
             (lambda m: m.cdist(m.ones(2, 2, dtype=m.int64), m.ones(2, 2, dtype=m.int64)),
              RuntimeError, "floating-point dtypes"),
             (lambda m: m.cdist(m.ones(2, 2), m.ones(2, 2, dtype=m.float64)), RuntimeError,
              "expected scalar type Float but found Double"),
             (lambda m: m.cdist(m.ones(2, 2).half(), m.ones(2, 2).half()), NotImplementedError,
              "Half")]
    for f, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            f(torch)
        with pytest.raises(exc, match=msg):
            f(ember)


# ------------------------------------------------------------------ scatters into views

SCATTERS = [("select_scatter", (3, 4), (4,), (0, 1)), ("select_scatter", (3, 4), (3,), (1, -1)),
            ("slice_scatter", (3, 4), (3, 2), (1, 0, 4, 2)), ("slice_scatter", (3, 4), (3, 4), ()),
            ("slice_scatter", (3, 4), (1, 4), (0, -1)),
            ("slice_scatter", (3, 4), (2, 4), (0, 1, None)),
            ("diagonal_scatter", (3, 4), (3,), (1,)),
            ("diagonal_scatter", (2, 3, 3), (3, 2), (0, 0, 1)),
            ("diagonal_scatter", (3, 4), (2,), (-1,))]


@pytest.mark.parametrize("op,shape,src_shape,args", SCATTERS)
def test_scatters_into_views(op, shape, src_shape, args):
    (x, tx), (s, ts) = make(shape, "float64"), make(src_shape, "float64", seed=1)
    same(getattr(ember, op)(x, s, *args), getattr(torch, op)(tx, ts, *args))
    same(getattr(x, op)(s, *args), getattr(tx, op)(ts, *args))
    si, tsi = make(src_shape, "int64")
    same(getattr(ember, op)(x, si, *args), getattr(torch, op)(tx, tsi, *args))
    grads_match(lambda a, b: getattr(ember, op)(a, b, *args),
                lambda a, b: getattr(torch, op)(a, b, *args), x._data, s._data)


def test_scatter_into_view_errors():
    with pytest.raises(RuntimeError, match=r"src size = \[3\], slice size = \[4\]"):
        ember.select_scatter(ember.zeros(3, 4), ember.ones(3), 0, 1)
    with pytest.raises(RuntimeError, match="expected src to have a size equal"):
        ember.slice_scatter(ember.zeros(3, 4), ember.ones(2, 4), 0, 0, 3)


def test_narrow_copy():
    e, t = make((3, 5), "float32")
    for args in ((1, 1, 2), (0, 0, 3), (-1, 2, 3)):
        r = ember.narrow_copy(e, *args)
        same(r, torch.narrow_copy(t, *args))
        same(e.narrow_copy(*args), t.narrow_copy(*args))
        assert r.is_contiguous() and not np.shares_memory(r._data, e._data)
    grads_match(lambda x: x.narrow_copy(1, 1, 2), lambda x: x.narrow_copy(1, 1, 2),
                np.ones((2, 3)))
    with pytest.raises(RuntimeError):
        e.narrow_copy(1, 4, 2)


# ------------------------------------------------------------------ in-place view ops

INPLACE_VIEWS = [("squeeze_", (2, 1, 3), ()), ("squeeze_", (2, 1, 3), (1,)),
                 ("squeeze_", (2, 1, 1), ((1, 2),)), ("unsqueeze_", (2, 3), (0,)),
                 ("unsqueeze_", (2, 3), (-1,)), ("t_", (2, 3), ()), ("t_", (3,), ()),
                 ("transpose_", (2, 3, 4), (0, 2)), ("swapdims_", (2, 3), (0, 1)),
                 ("swapaxes_", (2, 3), (1, 0))]


@pytest.mark.parametrize("op,shape,args", INPLACE_VIEWS)
def test_inplace_views(op, shape, args):
    e, t = make(shape, "float32")
    v0 = e._version_count
    r = getattr(e, op)(*args)
    getattr(t, op)(*args)
    assert r is e and e._version_count == v0 + 1
    same(e, t)
    assert e.stride() == t.stride()

    def fe(x):
        y = x * 2
        getattr(y, op)(*args)
        return y * y
    grads_match(fe, fe, np.random.default_rng(0).standard_normal(shape))


def test_inplace_views_memory_and_errors():
    a = ember.ones(2, 3)
    b = a.view(6)
    a.unsqueeze_(0)
    b[0] = 5
    assert a[0, 0, 0].item() == 5.0
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ember.ones(2, 1, requires_grad=True).squeeze_()
    with pytest.raises(RuntimeError, match=r"t_\(\) expects a tensor with <= 2 dimensions"):
        ember.ones(2, 3, 4).t_()

    def f(m):
        x = m.ones(2, 3, requires_grad=True)
        c = (x * 1)[0]
        c.unsqueeze_(0)
        c.mul_(2)
        c.sum().backward()
        return x.grad
    same(f(ember), f(torch))
