import numpy as np
import pytest
import torch

import ember
from _oracle import close, pair as _pair

rng = np.random.default_rng(0)


def pair(shape, dtype="float64", requires_grad=False):
    a = rng.integers(-5, 5, shape) if dtype in ("int64", "int32") else rng.standard_normal(shape)
    return _pair(a, dtype, requires_grad)





MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)),
                 ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (4, 3, 2)),
                 ((1, 2, 3), (6, 3, 1)), ((0, 3), (3, 2)), ((2, 0), (0, 3))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_values_and_grads(sa, sb):
    ea, ta = pair(sa, requires_grad=True)
    eb, tb = pair(sb, requires_grad=True)
    er, tr = ea @ eb, ta @ tb
    close(er, tr)
    g = rng.standard_normal(tuple(tr.shape))
    er.backward(ember.tensor(g))
    tr.backward(torch.tensor(g))
    close(ea.grad, ta.grad)
    close(eb.grad, tb.grad)


@pytest.mark.parametrize("dt,tol", [("float32", 1e-5), ("int64", 0), ("int32", 0),
                                    ("float16", 1e-2), ("bfloat16", 3e-2)])
def test_matmul_dtypes(dt, tol):
    ea, ta = pair((2, 4, 3), dt)
    eb, tb = pair((3, 5), dt)
    close(ember.matmul(ea, eb), torch.matmul(ta, tb), rtol=tol, atol=tol)
    close(ea.matmul(eb), ta.matmul(tb), rtol=tol, atol=tol)


def test_rmatmul_non_tensor_is_type_error():
    with pytest.raises(TypeError):
        np.ones((2, 3)) @ torch.ones(3, 2)
    with pytest.raises(TypeError):
        np.ones((2, 3)) @ ember.ones(3, 2)


@pytest.mark.parametrize("fn,shapes", [
    ("matmul", ((3,), (4,))), ("matmul", ((), (3,))), ("matmul", ((2, 3), (4,))),
    ("matmul", ((3,), (4, 5))), ("matmul", ((2, 2, 3), (2, 4, 5))), ("matmul", ((2, 2, 3), (3, 3, 5))),
    ("mm", ((2, 3), (4, 5))), ("mm", ((3,), (3, 5))), ("mm", ((2, 3), (3,))),
    ("bmm", ((2, 3), (3, 5))), ("bmm", ((2, 2, 3), (3, 3, 5))), ("mv", ((2, 3), (4,))),
    ("mv", ((3,), (3,))), ("dot", ((3,), (4,))), ("dot", ((2, 3), (3,))),
])
def test_errors_match_torch(fn, shapes):
    ea, ta = pair(shapes[0])
    eb, tb = pair(shapes[1])
    with pytest.raises(RuntimeError) as te:
        getattr(torch, fn)(ta, tb)
    with pytest.raises(RuntimeError) as ee:
        getattr(ember, fn)(ea, eb)
    if "cannot be multiplied" in str(te.value):
        assert str(te.value) in str(ee.value)


def test_dtype_mismatch_and_bool():
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.matmul(ember.ones(2, 2), ember.ones(2, 2, dtype=ember.float64))
    with pytest.raises(RuntimeError):
        ember.dot(ember.ones(2), ember.ones(2, dtype=ember.float64))
    with pytest.raises(RuntimeError):
        ember.mm(ember.ones(2, 2, dtype=ember.bool), ember.ones(2, 2, dtype=ember.bool))


@pytest.mark.parametrize("fn,shapes", [
    ("mm", ((2, 3), (3, 4))), ("bmm", ((2, 2, 3), (2, 3, 4))), ("mv", ((2, 3), (3,))),
    ("dot", ((3,), (3,))), ("vdot", ((3,), (3,))), ("inner", ((2, 3), (4, 3))),
    ("inner", ((3,), (3,))), ("inner", ((), (2, 3))), ("outer", ((2,), (3,))), ("ger", ((2,), (3,))),
    ("kron", ((2, 3), (3, 2))), ("kron", ((2,), (2, 3))), ("tensordot", ((2, 3, 4), (3, 4, 5))),
])
def test_products_with_grads(fn, shapes):
    es, ts = zip(*(pair(s, requires_grad=True) for s in shapes))
    er, tr = getattr(ember, fn)(*es), getattr(torch, fn)(*ts)
    close(er, tr)
    er.sum().backward()
    tr.sum().backward()
    for e, t in zip(es, ts):
        close(e.grad, t.grad)


def test_tensordot_dims_forms():
    ea, ta = pair((2, 3, 4))
    eb, tb = pair((4, 3, 5))
    close(ember.tensordot(ea, eb, dims=([1, 2], [1, 0])), torch.tensordot(ta, tb, dims=([1, 2], [1, 0])))
    close(ember.tensordot(ea, eb, dims=0), torch.tensordot(ta, tb, dims=0))
    ec, tc = pair((4, 6))
    close(ember.tensordot(ea, ec, dims=1), torch.tensordot(ta, tc, dims=1))


@pytest.mark.parametrize("fn,shapes,kw", [
    ("addmm", ((2, 4), (2, 3), (3, 4)), {}), ("addmm", ((4,), (2, 3), (3, 4)), {"beta": 0.5, "alpha": 2}),
    ("addmv", ((2,), (2, 3), (3,)), {"alpha": 3}), ("addr", ((2, 3), (2,), (3,)), {"beta": 2}),
    ("baddbmm", ((2, 2, 4), (2, 2, 3), (2, 3, 4)), {"beta": 0.1}),
    ("addbmm", ((2, 4), (3, 2, 3), (3, 3, 4)), {}),
])
def test_add_products(fn, shapes, kw):
    es, ts = zip(*(pair(s, requires_grad=True) for s in shapes))
    er, tr = getattr(ember, fn)(*es, **kw), getattr(torch, fn)(*ts, **kw)
    close(er, tr)
    er.sum().backward()
    tr.sum().backward()
    for e, t in zip(es, ts):
        close(e.grad, t.grad)


def test_addmm_beta_zero_ignores_nan():
    inp = ember.full((2, 2), float("nan"))
    r = ember.addmm(inp, ember.eye(2), ember.eye(2), beta=0)
    assert not np.isnan(r._data).any()


@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)])
def test_trace(shape):
    e, t = pair(shape, requires_grad=True)
    close(ember.trace(e), torch.trace(t))
    ember.trace(e).backward()
    torch.trace(t).backward()
    close(e.grad, t.grad)
    ei, ti = pair(shape, "int32")
    close(ember.trace(ei), torch.trace(ti))
    with pytest.raises(RuntimeError):
        ember.trace(ember.ones(2, 2, 2))


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,bkj->bik", [(2, 3, 4), (2, 5, 4)]), ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(2, 1, 3, 4), (5, 4, 2)]), ("i...->...", [(2, 3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]), ("a,b,c->abc", [(2,), (3,), (2,)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("iij->j", [(3, 3, 2)]),
    ("ijk,ikj->i", [(2, 3, 4), (2, 4, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("i,i,i->i", [(3,), (3,), (3,)]), ("ab,cd->", [(2, 3), (2, 2)]), ("i j , j k -> i k", [(2, 3), (3, 4)]),
    ("...,...", [(2,), (3, 1)]), ("bi,i->b", [(4, 1), (3,)]), ("ji", [(2, 3)]),
    ("iji->j", [(2, 3, 2)]), ("ijk,jl->ilk", [(2, 3, 4), (3, 5)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum(eq, shapes):
    es, ts = zip(*(pair(s, requires_grad=True) for s in shapes))
    tr = torch.einsum(eq, *ts)
    with ember.no_grad():
        close(ember.einsum(eq, *es), tr)     # numpy fast path
    er = ember.einsum(eq, *es)               # differentiable composite
    close(er, tr)
    g = rng.standard_normal(tuple(tr.shape))
    er.backward(ember.tensor(g))
    tr.backward(torch.tensor(g))
    for e, t in zip(es, ts):
        close(e.grad, t.grad)


def test_einsum_list_operands_and_ints():
    ea, ta = pair((2, 3), "int64")
    eb, tb = pair((3, 2), "int64")
    close(ember.einsum("ij,jk->ik", [ea, eb]), torch.einsum("ij,jk->ik", [ta, tb]))


@pytest.mark.parametrize("eq,shapes", [("ij,jk->ik", [(2, 3), (4, 4)]), ("ij,jk", [(2, 3)]),
                                       ("ij->k", [(2, 3)]), ("ijk->ij", [(2, 3)]),
                                       ("ij", [(2, 3), (2, 3)])])
def test_einsum_errors(eq, shapes):
    es, ts = zip(*(pair(s) for s in shapes))
    with pytest.raises(RuntimeError):
        torch.einsum(eq, *ts)
    with pytest.raises(RuntimeError):
        ember.einsum(eq, *es)
    with pytest.raises(RuntimeError):
        ember.einsum("ij,jk->ik", ember.ones(2, 3), ember.ones(3, 4, dtype=ember.float64))
