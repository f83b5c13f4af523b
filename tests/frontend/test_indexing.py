"""Indexing ops vs PyTorch: x[...], x[...] = v, gather/scatter, index_*, masked_*, take, put,
nonzero; values, dtypes, view semantics, float64 gradients and error types."""
import numpy as np
import pytest
import torch

import ember as E

S = slice
pytestmark = pytest.mark.filterwarnings("ignore:The reduce argument")


def _t(m, data, dtype=None):
    """A tensor of module m (ember or torch) from Python data."""
    if m is torch:
        return torch.tensor(data, dtype=dtype)
    return E.tensor(data, dtype=None if dtype is None else getattr(E, str(dtype).split(".")[-1]))


def to_e(t, requires_grad=False):
    arr = t.detach().numpy().copy()
    e = E.from_numpy(arr) if hasattr(E, "from_numpy") else E.tensor(arr)
    if requires_grad:
        e.requires_grad_(True)
    return e


def check(e, t, atol=0.0):
    assert isinstance(e, E.Tensor), type(e)
    assert tuple(e.shape) == tuple(t.shape), (tuple(e.shape), tuple(t.shape))
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    np.testing.assert_allclose(np.asarray(e._data, dtype=np.float64),
                               t.detach().numpy().astype(np.float64), atol=atol, rtol=0)


def _mask(m):
    return _t(m, [[True, False, True, False], [False, False, True, True],
                  [True, True, False, False]])


# keys for a tensor of shape (3, 4, 5); each builds the key with module m's tensors
KEYS = {
    "int": lambda m: 1,
    "neg_int": lambda m: -1,
    "int_int": lambda m: (2, 3),
    "slice": lambda m: S(1, 3),
    "slice_step": lambda m: (S(None, None, 2), S(1, None, 2)),
    "slice_neg": lambda m: (S(-2, None), S(None, -1)),
    "slice_oob": lambda m: S(1, 100),
    "slice_empty": lambda m: S(2, 1),
    "none": lambda m: None,
    "none_mid": lambda m: (0, None, S(1, 3), None),
    "ellipsis": lambda m: (Ellipsis, 1),
    "ellipsis_mid": lambda m: (1, Ellipsis, S(0, 2)),
    "ellipsis_only": lambda m: Ellipsis,
    "empty_tuple": lambda m: (),
    "true": lambda m: True,
    "false": lambda m: False,
    "list": lambda m: [0, 2],
    "list_neg": lambda m: [-1, 0, -1],
    "empty_list": lambda m: [],
    "tensor": lambda m: _t(m, [2, 0]),
    "tensor_2d": lambda m: _t(m, [[0, 1], [2, 2]]),
    "tensor_0d": lambda m: _t(m, 1),
    "tensor_int32": lambda m: _t(m, [1, 2], m.int32),
    "two_adjacent": lambda m: (_t(m, [0, 2]), _t(m, [1, 3])),
    "broadcast": lambda m: (_t(m, [[0], [2]]), _t(m, [1, 3, 0])),
    "separated": lambda m: (_t(m, [0, 2]), S(None), _t(m, [1, 4])),
    "slice_then_adv": lambda m: (S(None), _t(m, [0, 3])),
    "int_slice_adv": lambda m: (0, S(None), _t(m, [0, 1])),
    "adv_int": lambda m: (_t(m, [0, 1]), 2),
    "adv_slice_int": lambda m: (_t(m, [0, 1]), S(None), 0),
    "adv_none_adv": lambda m: (_t(m, [0, 1]), None, _t(m, [2, 3])),
    "mask_full": lambda m: _t(m, np.arange(60).reshape(3, 4, 5) % 3 == 0),
    "mask_2d": lambda m: _mask(m),
    "mask_then_idx": lambda m: (_mask(m), _t(m, [1])),
    "mask_1d": lambda m: _t(m, [True, False, True]),
    "mask_1d_mid": lambda m: (S(None), _t(m, [False, True, True, False])),
    "bool_scalar_tensor": lambda m: _t(m, True),
    "true_with_adv": lambda m: (True, _t(m, [0, 2])),
    "ellipsis_adv": lambda m: (Ellipsis, _t(m, [4, 0])),
    "two_ellipses": lambda m: (Ellipsis, 0, Ellipsis),
    "full_ints": lambda m: (1, 2, 3),
    "step_adv": lambda m: (S(None, None, 2), _t(m, [1, 2]), S(1, 4, 2)),
}

DTYPES = [torch.float32, torch.float64, torch.int64, torch.bool]


def _base(dtype):
    t = torch.arange(60).reshape(3, 4, 5)
    return (t % 7 > 2) if dtype is torch.bool else t.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", list(KEYS))
def test_getitem(name, dtype):
    t = _base(dtype)
    e = to_e(t)
    check(e[KEYS[name](E)], t[KEYS[name](torch)])


@pytest.mark.parametrize("name", list(KEYS))
def test_getitem_grad(name):
    t = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    e = to_e(t, True)
    rt = t[KEYS[name](torch)]
    re = e[KEYS[name](E)]
    check(re, rt)
    w = torch.randn(rt.shape, dtype=torch.float64)
    (rt * w).sum().backward()
    (re * to_e(w)).sum().backward()
    check(e.grad, t.grad)


@pytest.mark.parametrize("name", list(KEYS))
@pytest.mark.parametrize("kind", ["scalar", "tensor"])
def test_setitem(name, kind):
    t = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    e = to_e(t)
    shape = t[KEYS[name](torch)].shape
    v = 7.5 if kind == "scalar" else torch.randn(shape[1:] if len(shape) else shape)
    t[KEYS[name](torch)] = v
    e[KEYS[name](E)] = v if kind == "scalar" else to_e(v)
    check(e, t)


@pytest.mark.parametrize("name", list(KEYS))
def test_setitem_grad(name):
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    shape = x[KEYS[name](torch)].shape
    v = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    ex, ev = to_e(x, True), to_e(v, True)
    yt = x * 2
    yt[KEYS[name](torch)] = v * 3
    ye = ex * 2
    ye[KEYS[name](E)] = ev * 3
    check(ye, yt)
    w = torch.randn(yt.shape, dtype=torch.float64)
    (yt * w).sum().backward()
    (ye * to_e(w)).sum().backward()
    check(ex.grad, x.grad)
    if v.grad is not None:
        check(ev.grad, v.grad)


def test_setitem_dtype_cast_and_broadcast():
    t = torch.zeros(3, 4, dtype=torch.int64)
    e = to_e(t)
    t[1] = 2.7
    e[1] = 2.7
    t[:, 0] = torch.tensor([1.9, -2.9, 3.1])
    e[:, 0] = E.tensor([1.9, -2.9, 3.1])
    t[0:2] = torch.ones(1, 1, 4, dtype=torch.int64) * 5
    e[0:2] = E.ones(1, 1, 4, dtype=E.int64) * 5
    check(e, t)
    b = torch.zeros(2, 3, dtype=torch.bool)
    eb = to_e(b)
    b[0] = 3
    eb[0] = 3
    check(eb, b)


def test_getitem_views_share_memory():
    e = E.tensor(np.arange(12.0).reshape(3, 4))
    v = e[1:, ::2]
    v[0, 0] = 100.0
    assert e[1, 0].item() == 100.0
    assert e[1]._base is e and e[None, 0]._base is e
    w = e[0]
    w += 1
    assert e[0, 1].item() == 2.0
    assert e._version_count == v._version_count
    c = e[[0, 1]]
    c[0, 0] = -5
    assert e[0, 0].item() != -5  # advanced indexing copies


def test_setitem_through_view_chain_with_autograd():
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    ex = to_e(x, True)
    yt, ye = x * 1, ex * 1
    vt, ve = yt[1:], ye[1:]
    vt[0, 1:3] = 0.0
    ve[0, 1:3] = 0.0
    vt[:, [0]] *= 2
    ve[:, [0]] *= 2
    check(ye, yt)
    w = torch.randn(4, 5, dtype=torch.float64)
    (yt * w).sum().backward()
    (ye * to_e(w)).sum().backward()
    check(ex.grad, x.grad)


def test_setitem_version_bump():
    e = E.zeros(3)
    v0 = e._version_count
    e[0] = 1
    e[[1]] = 2
    assert e._version_count == v0 + 2


INDEX_ERRORS = [
    (lambda m: 5, IndexError),
    (lambda m: (0, -7), IndexError),
    (lambda m: (0, 0, 0, 0), IndexError),
    (lambda m: S(None, None, -1), ValueError),
    (lambda m: S(None, None, 0), ValueError),
    (lambda m: _t(m, [[True, False], [True, True]]), IndexError),
    (lambda m: [0, 7], IndexError),
    (lambda m: _t(m, [1.0]), IndexError),
    (lambda m: (_t(m, [0, 1]), _t(m, [0, 1, 2])), IndexError),
]


@pytest.mark.parametrize("i", range(len(INDEX_ERRORS)))
def test_getitem_errors(i):
    fn, err = INDEX_ERRORS[i]
    t = torch.zeros(3, 4, 5)
    with pytest.raises(err):
        t[fn(torch)]
    with pytest.raises(err):
        to_e(t)[fn(E)]


def test_setitem_errors():
    t = torch.zeros(3, 4)
    e = to_e(t)
    for key, val in [((S(0, 2),), torch.ones(3)), (([0, 1],), torch.ones(3))]:
        with pytest.raises(RuntimeError):
            t[key] = val
        with pytest.raises(RuntimeError):
            e[key] = to_e(val)
    leaf = E.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[0] = 2.0
    with pytest.raises(RuntimeError, match="leaf"):
        leaf[[0]] = 2.0
    with E.no_grad():
        leaf[0] = 5.0
    assert leaf[0].item() == 5.0


# ------------------------------------------------------------------ gather / scatter

def _idx(m, data):
    return _t(m, data)


GATHER_IDX = [[[0, 2, 1], [2, 2, 0]], [[1, 0, 0], [0, 0, 0]]]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather(dim, dtype):
    t = _base(dtype)[:, :3, 0]  # (3, 3)
    idx = torch.tensor(GATHER_IDX[0]) if dim == 0 else torch.tensor(GATHER_IDX[0]).T[:2]
    check(E.gather(to_e(t), dim, to_e(idx)), torch.gather(t, dim, idx))
    check(to_e(t).gather(dim, to_e(idx)), t.gather(dim, idx))


def test_gather_grad_and_smaller_index():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([[0, 0], [2, 0]])  # duplicates, smaller than x along dim 1
    ex = to_e(x, True)
    rt, re = x.gather(0, idx), ex.gather(0, to_e(idx))
    check(re, rt)
    rt.sum().backward()
    re.sum().backward()
    check(ex.grad, x.grad)


def test_gather_errors():
    x = torch.zeros(3, 3)
    for idx, err in [(torch.tensor([[5]]), RuntimeError), (torch.tensor([[0]], dtype=torch.int16), RuntimeError),
                     (torch.tensor([0]), RuntimeError), (torch.zeros(1, 5, dtype=torch.long), RuntimeError)]:
        with pytest.raises(err):
            x.gather(0, idx)
        with pytest.raises(err):
            to_e(x).gather(0, to_e(idx))
    with pytest.raises(IndexError):
        to_e(x).gather(2, E.zeros(1, 1, dtype=E.int64))


SCATTER_IDX = torch.tensor([[0, 1, 2, 0], [2, 0, 0, 1]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=str)
def test_scatter_family(dtype):
    x = torch.arange(12, dtype=dtype).reshape(3, 4)
    src = (torch.arange(8).reshape(2, 4) * 3 - 5).to(dtype)
    ex, es, ei = to_e(x), to_e(src), to_e(SCATTER_IDX)
    check(ex.scatter(0, ei, es), x.scatter(0, SCATTER_IDX, src))
    check(E.scatter(ex, 0, ei, value=9), torch.scatter(x, 0, SCATTER_IDX, value=9))
    check(ex.scatter(0, ei, 4), x.scatter(0, SCATTER_IDX, 4))
    check(ex.scatter_add(0, ei, es), x.scatter_add(0, SCATTER_IDX, src))
    check(ex.scatter(0, ei, es, reduce="multiply"), x.scatter(0, SCATTER_IDX, src, reduce="multiply"))
    for red in ("sum", "prod", "mean", "amax", "amin"):
        for inc in (True, False):
            check(ex.scatter_reduce(0, ei, es, red, include_self=inc),
                  x.scatter_reduce(0, SCATTER_IDX, src, red, include_self=inc))
    # index smaller than src and than self along the other dim
    i2 = torch.tensor([[1, 2], [0, 0]])
    check(ex.scatter_add(1, to_e(i2), es), x.scatter_add(1, i2, src))


def test_scatter_inplace():
    x = torch.zeros(3, 4)
    e = to_e(x)
    src = torch.ones(2, 4)
    x.scatter_add_(0, SCATTER_IDX, src).scatter_(1, torch.tensor([[3]]), 7.0)
    r = e.scatter_add_(0, to_e(SCATTER_IDX), to_e(src)).scatter_(1, E.tensor([[3]]), 7.0)
    assert r is e
    check(e, x)
    x.scatter_reduce_(0, SCATTER_IDX, src * 5, "amax")
    e.scatter_reduce_(0, to_e(SCATTER_IDX), to_e(src * 5), "amax")
    check(e, x)


SCATTER_GRAD_CASES = [("scatter", None, True), ("add", None, True), ("sum", None, False),
                      ("mean", None, True), ("mean", None, False), ("amax", None, True),
                      ("amin", None, False), ("prod", None, True), ("prod", None, False)]


@pytest.mark.parametrize("op,_,include_self", SCATTER_GRAD_CASES)
def test_scatter_grad(op, _, include_self):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g).requires_grad_()
    src = torch.randn(2, 4, dtype=torch.float64, generator=g).requires_grad_()
    ex, es, ei = to_e(x, True), to_e(src, True), to_e(SCATTER_IDX)

    def run(m, a, s, i):
        if op == "scatter":
            return a.scatter(0, i, s)
        if op == "add":
            return a.scatter_add(0, i, s)
        return a.scatter_reduce(0, i, s, op, include_self=include_self)

    rt, re = run(torch, x * 1, src * 1, SCATTER_IDX), run(E, ex * 1, es * 1, ei)
    check(re, rt, 1e-12)
    w = torch.randn(rt.shape, dtype=torch.float64, generator=g)
    (rt * w).sum().backward()
    (re * to_e(w)).sum().backward()
    check(ex.grad, x.grad, 1e-12)
    check(es.grad, src.grad, 1e-12)


def test_scatter_amax_ties_grad():
    x = torch.tensor([1.0, 5.0, 2.0], dtype=torch.float64, requires_grad=True)
    src = torch.tensor([5.0, 5.0, 2.0], dtype=torch.float64, requires_grad=True)
    idx = torch.tensor([1, 1, 2])
    ex, es = to_e(x, True), to_e(src, True)
    x.scatter_reduce(0, idx, src, "amax").sum().backward()
    ex.scatter_reduce(0, to_e(idx), es, "amax").sum().backward()
    check(ex.grad, x.grad)
    check(es.grad, src.grad)


def test_scatter_inplace_grad():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    src = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    ex, es = to_e(x, True), to_e(src, True)
    yt, ye = x * 2, ex * 2
    yt.scatter_add_(0, SCATTER_IDX, src)
    ye.scatter_add_(0, to_e(SCATTER_IDX), es)
    yt.scatter_(1, torch.tensor([[0], [1]]), 0.0)
    ye.scatter_(1, E.tensor([[0], [1]]), 0.0)
    (yt ** 2).sum().backward()
    (ye ** 2).sum().backward()
    check(ex.grad, x.grad, 1e-12)
    check(es.grad, src.grad, 1e-12)


def test_scatter_errors():
    x = torch.zeros(3, 4)
    for fn in [lambda m, a: a.scatter(0, _t(m, [[5]]), 1.0),
               lambda m, a: a.scatter(0, _t(m, [[0]], m.int16), 1.0),
               lambda m, a: a.scatter_add(0, _t(m, [[0]]), a.double()),
               lambda m, a: a.scatter_reduce(0, _t(m, [[0]]), a, "add")]:
        with pytest.raises(RuntimeError):
            fn(torch, x)
        with pytest.raises(RuntimeError):
            fn(E, to_e(x))


# ------------------------------------------------------------------ index_*

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, dtype):
    t = _base(dtype)
    idx = torch.tensor([2, 0, 2])
    check(to_e(t).index_select(dim, to_e(idx)), t.index_select(dim, idx))
    check(E.index_select(to_e(t), dim, to_e(idx.int())), torch.index_select(t, dim, idx.int()))
    check(E.index_select(to_e(t), dim, E.tensor(1)), torch.index_select(t, dim, torch.tensor(1)))


def test_index_select_grad_and_errors():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    ex = to_e(x, True)
    idx = torch.tensor([1, 1, 3])
    (x.index_select(1, idx) ** 2).sum().backward()
    (ex.index_select(1, to_e(idx)) ** 2).sum().backward()
    check(ex.grad, x.grad)
    with pytest.raises(IndexError):
        to_e(x.detach()).index_select(0, E.tensor([3]))
    with pytest.raises(IndexError):
        x.detach().index_select(0, torch.tensor([3]))
    with pytest.raises(IndexError):
        to_e(x.detach()).index_select(0, E.tensor([[0]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64], ids=str)
def test_index_add_copy_fill(dtype):
    x = torch.arange(12, dtype=dtype).reshape(3, 4)
    src = torch.arange(6, dtype=dtype).reshape(3, 2) + 1
    idx = torch.tensor([3, 0])
    dup = torch.tensor([1, 1])
    ex, es = to_e(x), to_e(src)
    check(ex.index_add(1, to_e(idx), es), x.index_add(1, idx, src))
    check(ex.index_add(1, to_e(dup), es, alpha=2), x.index_add(1, dup, src, alpha=2))
    check(E.index_copy(ex, 1, to_e(idx), es), torch.index_copy(x, 1, idx, src))
    check(ex.index_fill(0, E.tensor([0, 2]), -1), x.index_fill(0, torch.tensor([0, 2]), -1))
    check(ex.index_fill(1, E.tensor([1]), E.tensor(5)), x.index_fill(1, torch.tensor([1]), torch.tensor(5)))
    x2, e2 = x.clone(), ex.clone()
    x2.index_add_(1, dup, src).index_copy_(0, torch.tensor([1]), x[:1] * 0).index_fill_(1, idx, 3)
    e2.index_add_(1, to_e(dup), es).index_copy_(0, E.tensor([1]), ex[:1] * 0).index_fill_(1, to_e(idx), 3)
    check(e2, x2)


def test_index_add_copy_fill_grad():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(3, 4, dtype=torch.float64, generator=g).requires_grad_()
    s = torch.randn(3, 2, dtype=torch.float64, generator=g).requires_grad_()
    ex, es = to_e(x, True), to_e(s, True)
    idx = torch.tensor([3, 0])
    rt = x.index_add(1, idx, s, alpha=3) * x.index_copy(1, idx, s) + x.index_fill(1, idx, 2.0)
    re = ex.index_add(1, to_e(idx), es, alpha=3) * ex.index_copy(1, to_e(idx), es) + \
        ex.index_fill(1, to_e(idx), 2.0)
    check(re, rt, 1e-12)
    rt.sum().backward()
    re.sum().backward()
    check(ex.grad, x.grad, 1e-12)
    check(es.grad, s.grad, 1e-12)


def test_index_add_errors():
    x = torch.zeros(3, 4)
    for fn in [lambda m, a: a.index_add(0, _t(m, [0]), a[:1].double()),
               lambda m, a: a.index_add(0, _t(m, [0]), a[:2])]:
        with pytest.raises(RuntimeError):
            fn(torch, x)
        with pytest.raises(RuntimeError):
            fn(E, to_e(x))


# ------------------------------------------------------------------ index_put / put / take

@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(accumulate):
    x = torch.zeros(3, 4)
    i0, i1 = torch.tensor([0, 2, 0, 0]), torch.tensor([1, 3, 1, 1])  # duplicates
    v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    ex = to_e(x)
    idx_e = (to_e(i0), to_e(i1))
    rt = torch.index_put(x, (i0, i1), v, accumulate)
    re = E.index_put(ex, idx_e, to_e(v), accumulate)
    if accumulate:
        check(re, rt)
    else:
        assert re[2, 3].item() == 2.0 and re[0, 1].item() in (1.0, 3.0, 4.0)
    check(ex, x)  # functional
    x.index_put_((i0, i1), v, accumulate=True)
    ex.index_put_(idx_e, to_e(v), accumulate=True)
    check(ex, x)
    m = torch.tensor([True, False, True])
    x.index_put_((m,), torch.tensor(9.0))
    ex.index_put_((to_e(m),), E.tensor(9.0))
    check(ex, x)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_grad(accumulate):
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 1, dtype=torch.float64, requires_grad=True)
    ex, ev = to_e(x, True), to_e(v, True)
    i = torch.tensor([2, 2])
    rt = torch.index_put(x * 1, (i,), v, accumulate)
    re = E.index_put(ex * 1, (to_e(i),), ev, accumulate)
    check(re, rt, 1e-12)
    w = torch.randn(3, 4, dtype=torch.float64)
    (rt * w).sum().backward()
    (re * to_e(w)).sum().backward()
    check(ex.grad, x.grad, 1e-12)
    check(ev.grad, v.grad, 1e-12)


def test_take_put():
    x = torch.arange(12.0).reshape(3, 4)
    ex = to_e(x)
    idx = torch.tensor([[0, 11], [-1, 5]])
    check(E.take(ex, to_e(idx)), torch.take(x, idx))
    check(ex.take(to_e(idx)), x.take(idx))
    with pytest.raises(IndexError):
        ex.take(E.tensor([12]))
    pidx, src = torch.tensor([1, 1, 6]), torch.tensor([5.0, 6.0, 7.0])
    check(ex.put(to_e(pidx), to_e(src), accumulate=True), x.put(pidx, src, accumulate=True))
    x.put_(pidx[1:], src[1:])
    ex.put_(to_e(pidx[1:]), to_e(src[1:]))
    check(ex, x)
    t = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    et = to_e(t, True)
    (t.take(idx) ** 2).sum().backward()
    (et.take(to_e(idx)) ** 2).sum().backward()
    check(et.grad, t.grad)


def test_take_along_dim():
    x = torch.randn(3, 4)
    ex = to_e(x)
    idx = torch.argsort(x, dim=1)
    check(E.take_along_dim(ex, to_e(idx), dim=1), torch.take_along_dim(x, idx, dim=1))
    check(ex.take_along_dim(E.tensor([[0], [2], [1]]), 1), x.take_along_dim(torch.tensor([[0], [2], [1]]), 1))
    check(ex.take_along_dim(E.tensor([[1, 0, 2, 2]]), 0), x.take_along_dim(torch.tensor([[1, 0, 2, 2]]), 0))
    check(E.take_along_dim(ex, E.tensor([5, 0])), torch.take_along_dim(x, torch.tensor([5, 0])))


# ------------------------------------------------------------------ masks

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_masked_fill_select(dtype):
    t = _base(dtype)[0]  # (4, 5)
    m = torch.tensor([True, False, False, True, False])
    et, em = to_e(t), to_e(m)
    check(et.masked_fill(em, 1), t.masked_fill(m, 1))
    check(E.masked_fill(et, em, E.tensor(0)), torch.masked_fill(t, m, torch.tensor(0)))
    check(et.masked_select(em), t.masked_select(m))
    check(E.masked_select(et, em[None]), torch.masked_select(t, m[None]))
    t2, e2 = t.clone(), et.clone()
    t2.masked_fill_(m, 0)
    e2.masked_fill_(em, 0)
    check(e2, t2)


def test_masked_fill_float_value_into_int_and_broadcast():
    t = torch.arange(6).reshape(2, 3)
    m = torch.tensor([[True], [False]])
    check(to_e(t).masked_fill(to_e(m), 2.7), t.masked_fill(m, 2.7))
    mm = torch.tensor([True, False, True])
    check(to_e(t[0]).masked_fill(to_e(m), 1), t[0].masked_fill(m, 1))
    check(to_e(t).masked_select(to_e(mm)), t.masked_select(mm))


def test_masked_grads():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    val = torch.tensor(2.5, dtype=torch.float64, requires_grad=True)
    src = torch.randn(12, dtype=torch.float64, requires_grad=True)
    m = torch.randn(3, 4) > 0
    ex, ev, es, em = to_e(x, True), to_e(val, True), to_e(src, True), to_e(m)
    rt = x.masked_fill(m, val) * 2 + x.masked_fill(~m, 0.0) + x.masked_scatter(m, src)
    re = ex.masked_fill(em, ev) * 2 + ex.masked_fill(~em, 0.0) + ex.masked_scatter(em, es)
    check(re, rt, 1e-12)
    rt2, re2 = x.masked_select(m), ex.masked_select(em)
    check(re2, rt2)
    (rt.sum() + (rt2 ** 2).sum()).backward()
    (re.sum() + (re2 ** 2).sum()).backward()
    check(ex.grad, x.grad, 1e-12)
    check(ev.grad, val.grad, 1e-12)
    check(es.grad, src.grad, 1e-12)


def test_mask_errors():
    x = torch.zeros(3, 4)
    for fn in [lambda m, a: a.masked_fill(_t(m, [1, 0, 0, 1]), 1.0),
               lambda m, a: a.masked_fill(_t(m, [True, False, True, True]), _t(m, [1.0, 2.0]))]:
        with pytest.raises(RuntimeError):
            fn(torch, x)
        with pytest.raises(RuntimeError):
            fn(E, to_e(x))


# ------------------------------------------------------------------ nonzero

@pytest.mark.parametrize("data", [[0, 1, 0, 2], [[0.0, 1.5], [2.0, 0.0]], [[True, False]], 5, 0, []])
def test_nonzero(data):
    t = torch.tensor(data)
    e = to_e(t)
    check(E.nonzero(e), torch.nonzero(t))
    check(e.argwhere(), t.argwhere())
    te, tt = E.nonzero(e, as_tuple=True), torch.nonzero(t, as_tuple=True)
    assert len(te) == len(tt)
    for a, b in zip(te, tt):
        check(a, b)
    if t.dim():
        for a, b in zip(E.where(e > 0), torch.where(t > 0)):
            check(a, b)


def test_nonzero_bfloat16_float16():
    for dt in (torch.float16, torch.bfloat16):
        t = torch.tensor([0.0, 1.0, 0.0, -2.0], dtype=dt)
        e = E.tensor([0.0, 1.0, 0.0, -2.0], dtype=getattr(E, str(dt).split(".")[-1]))
        check(E.nonzero(e), torch.nonzero(t))
        check(e[e != 0], t[t != 0], atol=1e-2)


# ------------------------------------------------------------------ random index expressions

from hypothesis import given, settings, strategies as st  # noqa: E402


def _index_item(draw, n):
    kind = draw(st.sampled_from(["int", "slice", "none", "list", "mask"]))
    if kind == "int":
        return "int", draw(st.integers(-n, n - 1))
    if kind == "slice":
        a = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
        b = draw(st.one_of(st.none(), st.integers(-n - 2, n + 2)))
        return "slice", S(a, b, draw(st.one_of(st.none(), st.integers(1, 3))))
    if kind == "none":
        return "none", None
    if kind == "list":
        return "list", draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3))
    return "mask", draw(st.lists(st.booleans(), min_size=n, max_size=n))


@st.composite
def _keys(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    items, d = [], 0
    for _ in range(draw(st.integers(0, len(shape) + 1))):
        if d >= len(shape):
            break
        kind, v = _index_item(draw, shape[d])
        items.append((kind, v))
        d += kind != "none"
    if draw(st.booleans()):
        # an ellipsis where the dims it covers do not shift the drawn items' sizes
        at = len(items) if d < len(shape) else draw(st.integers(0, len(items)))
        items.insert(at, ("ellipsis", Ellipsis))
    lists = [v for k, v in items if k == "list"]
    if len({len(v) for v in lists}) > 1:  # keep advanced indices broadcastable
        items = [(k, v[:1] if k == "list" else v) for k, v in items]
    return tuple(shape), items


def _build(m, items):
    return tuple(_t(m, v) if k in ("list", "mask") else v for k, v in items)


@settings(max_examples=150, deadline=None)
@given(_keys())
def test_getitem_setitem_random(case):
    shape, items = case
    t = torch.arange(int(np.prod(shape)), dtype=torch.float64).reshape(shape)
    e = to_e(t)
    try:
        rt = t[_build(torch, items)]
    except IndexError:  # e.g. a mask's nonzero count does not broadcast with a list
        with pytest.raises(IndexError):
            e[_build(E, items)]
        return
    re = e[_build(E, items)]
    check(re, rt)
    t[_build(torch, items)] = -1.0
    e[_build(E, items)] = -1.0
    check(e, t)


# ------------------------------------------------------------------ numerical gradients

GRADCHECK = {
    "getitem": lambda a, b: a[1:, [0, 2]] * b[0, :2],
    "gather": lambda a, b: a.gather(1, E.tensor([[0, 0], [3, 1], [2, 2]])) * b[:, :2].sum(),
    "scatter_add": lambda a, b: a.scatter_add(0, E.tensor([[0, 1, 2, 0], [2, 0, 0, 1]]), b[:2]),
    "scatter_mean": lambda a, b: a.scatter_reduce(0, E.tensor([[0, 1, 2, 0]]), b[:1], "mean"),
    "index_select": lambda a, b: a.index_select(1, E.tensor([3, 3, 0])) * 2,
    "index_put": lambda a, b: E.index_put(a, (E.tensor([0, 0]), E.tensor([1, 1])), b[0, :2],
                                          accumulate=True),
    "masked_fill": lambda a, b: a.masked_fill(b > 0, 2.0) * b,
    "take_along_dim": lambda a, b: E.take_along_dim(a, E.tensor([[1], [0], [3]]), 1) * b,
}


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name):
    from ember.autograd import gradcheck
    g = torch.Generator().manual_seed(3)
    a = to_e(torch.randn(3, 4, dtype=torch.float64, generator=g), True)
    b = to_e(torch.randn(3, 4, dtype=torch.float64, generator=g), True)
    assert gradcheck(GRADCHECK[name], (a, b))


# second order: products of the leaves first, so only the indexing rules' own graphs
# (their backward run with create_graph) are under test
GRADGRAD = {
    "getitem": lambda a, b: (a * b)[1:, [0, 2]],
    "mask": lambda a, b: (a * b)[E.tensor([True, False, True])],
    "gather": lambda a, b: (a * b).gather(1, E.tensor([[0, 0], [3, 1], [2, 2]])),
    "scatter_add": lambda a, b: (a * b).scatter_add(0, E.tensor([[0, 1, 2, 0]]), (a * a)[:1]),
    "index_select": lambda a, b: (a * b).index_select(1, E.tensor([3, 3, 0])),
    "index_put": lambda a, b: E.index_put(a * b, (E.tensor([0, 0]),), (b * b)[0]),
}


@pytest.mark.parametrize("name", list(GRADGRAD))
def test_gradgradcheck(name):
    from ember.autograd import gradgradcheck
    g = torch.Generator().manual_seed(4)
    a = to_e(torch.randn(3, 4, dtype=torch.float64, generator=g), True)
    b = to_e(torch.randn(3, 4, dtype=torch.float64, generator=g), True)
    assert gradgradcheck(GRADGRAD[name], (a, b))
