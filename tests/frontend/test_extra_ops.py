"""Extra ops vs torch: addcmul/addcdiv (+ in place), softmax/log_softmax, relu, isclose/
allclose/equal, unfold and as_strided: values, dtypes, gradients (float64), errors."""
import math

import numpy as np
import pytest
import torch

import ember
from _cmp import gradcheck, grads_match, make, same

FLOATS = ["float32", "float64", "float16", "bfloat16"]


# ------------------------------------------------------------------ addcmul / addcdiv

ADDC_DTYPES = [("float32", "float32", "float32"), ("float64", "float32", "float32"),
               ("float16", "float32", "float32"), ("int64", "float32", "int64"),
               ("int64", "int64", "int64"), ("bfloat16", "bfloat16", "bfloat16"),
               ("float32", "int32", "float64")]


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
@pytest.mark.parametrize("dts", ADDC_DTYPES)
@pytest.mark.parametrize("value", [1, 0.5, -2, 3])
def test_addc_values(op, dts, value):
    (a, ta), (b, tb), (c, tc) = (make(s, d, seed=i) for i, (s, d) in
                                 enumerate(zip([(2, 3), (3,), (2, 1)], dts)))
    if op == "addcdiv":
        c, tc = c * 0 + (c.abs() + 1), tc * 0 + (tc.abs() + 1)  # keep away from zero
    try:
        expected = getattr(torch, op)(ta, tb, tc, value=value)
    except RuntimeError as err:
        with pytest.raises(RuntimeError, match="Integer division"):
            getattr(ember, op)(a, b, c, value=value)
        assert "Integer division" in str(err)
        return
    same(getattr(ember, op)(a, b, c, value=value), expected)
    same(getattr(a, op)(b, c, value=value), getattr(ta, op)(tb, tc, value=value))


@pytest.mark.parametrize("op", ["addcmul", "addcdiv"])
def test_addc_grad(op):
    rng = np.random.default_rng(0)
    a, b, c = rng.standard_normal((2, 3)), rng.standard_normal((3,)), rng.uniform(1, 2, (2, 1))
    grads_match(lambda x, y, z: getattr(ember, op)(x, y, z, value=-0.7),
                lambda x, y, z: getattr(torch, op)(x, y, z, value=-0.7), a, b, c)
    gradcheck(lambda x, y, z: getattr(ember, op)(x, y, z, value=2.0), a, b, c)


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_addc_inplace_values_and_version(op, dtype):
    (a, ta), (b, tb), (c, tc) = make((2, 3), dtype), make((3,), dtype, 1), make((2, 3), dtype, 2)
    c, tc = c.abs() + 1, tc.abs() + 1
    v0 = a._version_count
    r = getattr(a, op)(b, c, value=0.25)
    getattr(ta, op)(tb, tc, value=0.25)
    assert r is a and a._version_count == v0 + 1
    same(a, ta)


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
def test_addc_inplace_no_history_under_no_grad(op):
    p = ember.randn(3, requires_grad=True)
    g = ember.randn(3)
    with ember.no_grad():
        getattr(p, op)(g, g.abs() + 1, value=-0.1)
    assert p.grad_fn is None and p.requires_grad and p.is_leaf


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
def test_addc_inplace_errors(op):
    p = ember.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(p, op)(p.detach(), p.detach())
    z = ember.zeros(3)
    with pytest.raises(RuntimeError, match="broadcast shape"):
        getattr(z, op)(ember.ones(2, 3), ember.ones(3))
    with pytest.raises(RuntimeError, match="can't be cast"):
        getattr(ember.ones(3, dtype=ember.int64), op)(ember.ones(3), ember.ones(3))
    with pytest.raises(NotImplementedError, match="Bool"):
        ember.addcmul(*[ember.ones(2).bool()] * 3)


@pytest.mark.parametrize("op", ["addcmul_", "addcdiv_"])
def test_addc_inplace_with_grad(op):
    def fe(x, y, z):
        w = x * 1
        return getattr(w, op)(y, z.abs() + 1, value=0.3)

    def ft(x, y, z):
        w = x * 1
        return getattr(w, op)(y, z.abs() + 1, value=0.3)
    rng = np.random.default_rng(3)
    grads_match(fe, ft, rng.standard_normal((2, 3)), rng.standard_normal(3),
                rng.standard_normal((2, 3)))


# ------------------------------------------------------------------ softmax / log_softmax

@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_values(op, dtype, dim):
    e, t = make((3, 4), dtype)
    same(getattr(ember, op)(e * 4, dim), getattr(torch, op)(t * 4, dim))
    same(getattr(e, op)(dim), getattr(t, op)(dim))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_dtype_arg_and_ints(op):
    e, t = make((2, 3), "int64")
    same(getattr(ember, op)(e, 1, dtype=ember.float64),
         getattr(torch, op)(t, 1, dtype=torch.float64))
    same(getattr(e, op)(0, dtype=ember.float32), getattr(t, op)(0, dtype=torch.float32))
    ef, tf = make((2, 3), "float16")
    same(getattr(ember, op)(ef, 1, dtype=ember.float32),
         getattr(torch, op)(tf, 1, dtype=torch.float32))
    for d in (0, 1):
        with pytest.raises(NotImplementedError) as ei:
            getattr(ember, op)(e, d)
        with pytest.raises(NotImplementedError) as ti:
            getattr(torch, op)(t, d)
        assert str(ei.value) == str(ti.value)
    with pytest.raises(IndexError, match="Dimension out of range"):
        getattr(ember, op)(ember.ones(3), 1)
    with pytest.raises(TypeError):
        getattr(ember, op)(ember.ones(3))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("grad", [False, True])
def test_softmax_edge_cases(op, grad):
    inf = math.inf
    cases = [[1000.0, 0.0, -1000.0], [-inf, -inf], [inf, 1.0], [-inf, 0.0, 1.0], [3.0]]
    for data in cases:
        e, t = make(None, "float64", data=data)
        e.requires_grad_(grad)
        same(getattr(ember, op)(e, 0), getattr(torch, op)(t, 0))
    e = ember.tensor(2.0, requires_grad=grad)
    same(getattr(ember, op)(e, 0), getattr(torch, op)(torch.tensor(2.0), 0))
    e = ember.ones(0, 3, requires_grad=grad)
    same(getattr(ember, op)(e, 0), getattr(torch, op)(torch.ones(0, 3), 0))


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_grad(op, dim):
    a = np.random.default_rng(0).standard_normal((3, 4)) * 3
    grads_match(lambda x: getattr(ember, op)(x, dim), lambda x: getattr(torch, op)(x, dim), a)
    gradcheck(lambda x: getattr(x, op)(dim), a)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_grad_half(op):
    a = np.random.default_rng(0).standard_normal((2, 5))
    e = ember.tensor(a, dtype=ember.float16, requires_grad=True)
    t = torch.tensor(a, dtype=torch.float16, requires_grad=True)
    re, rt = getattr(ember, op)(e, 1), getattr(torch, op)(t, 1)
    same(re, rt)
    g = np.random.default_rng(1).standard_normal((2, 5))
    re.backward(ember.tensor(g, dtype=ember.float16))
    rt.backward(torch.tensor(g, dtype=torch.float16))
    same(e.grad, t.grad, tol=3e-2)


def test_softmax_second_order():
    a = np.random.default_rng(0).standard_normal((2, 3))
    x = ember.tensor(a, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda v: ember.softmax(v, 1), (x,))


# ------------------------------------------------------------------ relu

@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64", "uint8",
                                   "int8"])
def test_relu_values(dtype):
    e, t = make((3, 4), dtype)
    same(ember.relu(e), torch.relu(t))
    same(e.relu(), t.relu())
    e2, t2 = e.clone(), t.clone()
    assert e2.relu_() is e2
    t2.relu_()
    same(e2, t2)
    same(ember.relu_(e.clone()), torch.relu_(t.clone()))


@pytest.mark.parametrize("grad", [False, True])
def test_relu_nan_zero_and_bool(grad):
    data = [math.nan, -1.0, 0.0, 2.0, -math.inf, math.inf]
    e, t = make(None, "float64", data=data)
    same(ember.relu(e.requires_grad_(grad)), torch.relu(t))
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        ember.relu(ember.ones(2).bool())
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        ember.ones(2).bool().relu_()


def test_relu_grad():
    a = [[-1.0, 0.0, 2.0], [3.0, -0.5, 0.0]]
    grads_match(ember.relu, torch.relu, a)
    grads_match(lambda x: (x * 1).relu_(), lambda x: (x * 1).relu_(), a)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ember.ones(2, requires_grad=True).relu_()


@pytest.mark.parametrize("op", ["sigmoid_", "tanh_"])
def test_sigmoid_tanh_inplace_functions(op):
    e, t = make((2, 3), "float32")
    r = getattr(ember, op)(e)
    assert r is e
    same(e, getattr(torch, op)(t))


# ------------------------------------------------------------------ isclose / allclose / equal

CLOSE_DATA = [0.0, 1.0, 1.0 + 1e-6, 1.0 + 1e-3, math.nan, math.inf, -math.inf, 100.0, -2.0]
CLOSE_OTHER = [0.0, 1.0, 1.0, 1.0, math.nan, math.inf, math.inf, 100.001, 2.0]


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
@pytest.mark.parametrize("kw", [{}, {"equal_nan": True}, {"rtol": 1e-2, "atol": 0},
                                {"rtol": 0, "atol": 0}, {"rtol": 0, "atol": 1e-3}])
def test_isclose_floats(dtype, kw):
    a, ta = make(None, dtype, data=CLOSE_DATA)
    b, tb = make(None, dtype, data=CLOSE_OTHER)
    same(ember.isclose(a, b, **kw), torch.isclose(ta, tb, **kw))
    same(a.isclose(b, **kw), ta.isclose(tb, **kw))
    assert ember.allclose(a, b, **kw) == torch.allclose(ta, tb, **kw)
    assert a.allclose(a, **kw) == ta.allclose(ta, **kw)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_isclose_ints(dtype):
    a, ta = make((4, 3), dtype)
    b, tb = make((3,), dtype, seed=5)
    for kw in ({}, {"atol": 1}, {"rtol": 0.5, "atol": 0}, {"rtol": 0, "atol": 0}):
        same(ember.isclose(a, b, **kw), torch.isclose(ta, tb, **kw))
        assert ember.allclose(a, b, **kw) == torch.allclose(ta, tb, **kw)


def test_isclose_errors():
    i, f = ember.ones(3, dtype=ember.int64), ember.ones(3)
    with pytest.raises(RuntimeError, match="Long did not match Float"):
        ember.isclose(i, f)
    with pytest.raises(RuntimeError, match="Float did not match Double"):
        ember.allclose(f, f.double())
    with pytest.raises(RuntimeError, match="rtol must be greater than or equal to zero"):
        ember.isclose(f, f, rtol=-1)
    with pytest.raises(RuntimeError, match="atol must be greater than or equal to zero"):
        ember.isclose(f, f, atol=-1)
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.isclose(f, 1.0)
    with pytest.raises(RuntimeError):
        ember.isclose(ember.ones(2), ember.ones(3))


def test_equal():
    T = torch.tensor
    cases = [(torch.ones(3), torch.ones(3)), (torch.ones(3), torch.ones(1)),
             (torch.arange(3), torch.arange(3.0)), (T([math.nan]), T([math.nan])),
             (T([1, 2, 3]).bool(), T([1, 2, 3])), (torch.ones(2, 3), torch.ones(3, 2)),
             (T([1.0, 2.0]), T([1.0, 2.5]))]
    for a, b in cases:
        ea, eb = ember.tensor(a.numpy()), ember.tensor(b.numpy())
        assert ember.equal(ea, eb) is torch.equal(a, b)
        assert ea.equal(eb) is a.equal(b)
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.equal(ember.ones(2), 1.0)


def test_closeness_ignores_autograd():
    x = ember.ones(3, requires_grad=True)
    r = ember.isclose(x, x * 1)
    assert r.dtype is ember.bool and not r.requires_grad


# ------------------------------------------------------------------ unfold

UNFOLD_CASES = [((10,), 0, 3, 2), ((10,), 0, 3, 1), ((10,), 0, 10, 1), ((10,), 0, 2, 2),
                ((10,), 0, 2, 4), ((10,), 0, 0, 1), ((3, 7), 1, 3, 2), ((3, 7), 0, 2, 1),
                ((2, 5, 4), -2, 2, 3), ((2, 5, 4), 2, 4, 5), ((), 0, 1, 1), ((), -1, 1, 3),
                ((), 0, 0, 1), ((0,), 0, 0, 1), ((4, 0), 0, 2, 1)]


@pytest.mark.parametrize("shape,dim,size,step", UNFOLD_CASES)
def test_unfold_values(shape, dim, size, step):
    e, t = make(shape, "float32")
    re, rt = e.unfold(dim, size, step), t.unfold(dim, size, step)
    same(re, rt)
    if rt.numel():  # strides of empty tensors carry no meaning
        assert re.stride() == rt.stride() and re.storage_offset() == rt.storage_offset()


def test_unfold_of_views_and_sharing():
    e, t = make((4, 5), "float64")
    for f in (lambda x: x.t(), lambda x: x[1:, ::2]):
        re, rt = f(e).unfold(0, 2, 1), f(t).unfold(0, 2, 1)
        same(re, rt)
        assert re.stride() == rt.stride() and re.storage_offset() == rt.storage_offset()
    x = ember.arange(6.0)
    w = x.unfold(0, 2, 2)  # non-overlapping windows: writes go through to x
    w[1].fill_(-1)
    assert x.tolist() == [0, 1, -1, -1, 4, 5]
    assert w._version_count == x._version_count


def test_unfold_errors():
    x = ember.arange(10.0)
    for args, exc, msg in (((0, 11, 2), RuntimeError,
                            "maximum size for tensor at dimension 0 is 10 but size is 11"),
                           ((0, 3, 0), RuntimeError, "step is 0 but must be > 0"),
                           ((0, -1, 1), RuntimeError, "size is -1 but must be >= 0"),
                           ((1, 3, 1), IndexError, "Dimension out of range")):
        with pytest.raises(exc, match=msg):
            x.unfold(*args)
        with pytest.raises(exc, match=msg):
            torch.arange(10.0).unfold(*args)


@pytest.mark.parametrize("shape,dim,size,step", [c for c in UNFOLD_CASES if 0 not in c[0]])
def test_unfold_grad(shape, dim, size, step):
    a = np.random.default_rng(0).standard_normal(shape)
    grads_match(lambda x: x.unfold(dim, size, step), lambda x: x.unfold(dim, size, step), a)


def test_unfold_gradcheck_and_pooling_pattern():
    a = np.random.default_rng(0).standard_normal((1, 2, 5, 6))
    gradcheck(lambda x: x.unfold(2, 3, 2).unfold(3, 2, 1) * 1.5, a)
    # max pooling built on unfold (3x3 windows, stride 2), as the nn library does it
    grads_match(lambda x: x.unfold(2, 3, 2).unfold(3, 3, 2).amax((-2, -1)),
                lambda x: x.unfold(2, 3, 2).unfold(3, 3, 2).amax((-2, -1)), a)
    x = ember.tensor(a[0, 0], requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda v: v.unfold(0, 3, 1) ** 2, (x,))


# ------------------------------------------------------------------ as_strided

AS_STRIDED_CASES = [((3, 3), (1, 1), None), ((3, 3), (1, 1), 1), ((2,), (3,), 1),
                    ((2, 2), (0, 1), None), ((4,), (2,), 0), ((0, 3), (3, 1), None),
                    ((2, 3), (3, 1), 2), ((), (), 5)]


@pytest.mark.parametrize("size,stride,offset", AS_STRIDED_CASES)
def test_as_strided_values(size, stride, offset):
    e, t = make((10,), "float32")
    re = ember.as_strided(e, size, stride, offset)
    rt = torch.as_strided(t, size, stride, offset)
    same(re, rt)
    assert re.stride() == rt.stride() and re.storage_offset() == rt.storage_offset()
    same(e.as_strided(size, stride, offset), t.as_strided(size, stride, offset))


def test_as_strided_of_views():
    e, t = make((4, 5), "float64")
    for f in (lambda x: x[1:], lambda x: x.t(), lambda x: x[:, 2:]):
        for args in (((3,), (1,)), ((3,), (1,), 0), ((2, 2), (5, 1), 1)):
            re, rt = f(e).as_strided(*args), f(t).as_strided(*args)
            same(re, rt)
            assert re.storage_offset() == rt.storage_offset()
    x = ember.zeros(6)
    x.as_strided((2,), (3,), 1).fill_(7)
    assert x.tolist() == [0, 7, 0, 0, 7, 0]


def test_as_strided_errors():
    x = ember.arange(10.0)
    with pytest.raises(RuntimeError, match="out of bounds for storage of size 40"):
        x.as_strided((3, 3), (1, 1), 8)
    with pytest.raises(RuntimeError, match="Negative strides are not supported"):
        x.as_strided((3,), (-1,), 5)
    with pytest.raises(RuntimeError, match="mismatch in length of strides and shape"):
        x.as_strided((3, 3), (1,))


@pytest.mark.parametrize("size,stride,offset", [c for c in AS_STRIDED_CASES if 0 not in c[0]])
def test_as_strided_grad(size, stride, offset):
    a = np.random.default_rng(0).standard_normal(10)
    grads_match(lambda x: x.as_strided(size, stride, offset),
                lambda x: x.as_strided(size, stride, offset), a)


def test_as_strided_grad_of_views_and_overlap():
    a = np.random.default_rng(0).standard_normal(6)
    grads_match(lambda x: x.expand(2, 6).as_strided((2, 2), (1, 1)),
                lambda x: x.expand(2, 6).as_strided((2, 2), (1, 1)), a)
    grads_match(lambda x: (x[1:] * 1)[1:].as_strided((2,), (1,), 0),
                lambda x: (x[1:] * 1)[1:].as_strided((2,), (1,), 0), a)
    b = np.random.default_rng(1).standard_normal((3, 4))
    grads_match(lambda x: (x * 1).t().as_strided((2, 3), (1, 2), 1),
                lambda x: (x * 1).t().as_strided((2, 3), (1, 2), 1), b)
    gradcheck(lambda x: x.as_strided((3, 3), (1, 1)) * 2, a)
