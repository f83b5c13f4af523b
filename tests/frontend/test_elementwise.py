"""Elementwise ops vs torch: values, dtypes, operators, in-place, broadcasting, float64
gradients and error types."""
import math
import operator

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import ember

TOL = {"float16": 1e-2, "bfloat16": 5e-2, "float32": 1e-5, "float64": 1e-10}


def make(shape, dtype, seed=0, domain=(-2.0, 2.0)):
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        a = rng.random(shape) > 0.5
    elif dtype == "uint8":
        a = rng.integers(1, 6, shape)
    elif dtype.startswith("int"):
        a = rng.integers(-4, 5, shape)
    else:
        a = rng.uniform(*domain, shape)
    e = ember.tensor(a.tolist() if np.ndim(a) else a.item(), dtype=getattr(ember, dtype))
    t = torch.tensor(a.tolist() if np.ndim(a) else a.item(), dtype=getattr(torch, dtype))
    return e, t


def to_np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x._is_zerotensor():
            x = torch.zeros(x.shape, dtype=x.dtype)
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    a = x.detach()._data
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


def dtname(x):
    return str(x.dtype).split(".")[-1]


def same(e, t, tol=1e-5):
    assert isinstance(e, ember.Tensor), type(e)
    assert dtname(e) == dtname(t), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    a, b = to_np(e), to_np(t)
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=tol,
                                   atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(a, b)


def both(fe, ft, tol=1e-5):
    try:
        rt = ft()
    except Exception as err:  # noqa: BLE001
        with pytest.raises(type(err)):
            fe()
        return
    same(fe(), rt, tol)


# ------------------------------------------------------------------ unary

# name -> domain on which the op is defined (and smooth, for gradients)
UNARY = {
    "exp": (-2, 2), "exp2": (-2, 2), "expm1": (-2, 2), "log": (0.1, 3), "log2": (0.1, 3),
    "log10": (0.1, 3), "log1p": (-0.5, 3), "sqrt": (0.1, 3), "rsqrt": (0.1, 3),
    "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2), "asin": (-0.9, 0.9),
    "acos": (-0.9, 0.9), "atan": (-3, 3), "sinh": (-2, 2), "cosh": (-2, 2), "tanh": (-2, 2),
    "sigmoid": (-3, 3), "erf": (-2, 2), "erfinv": (-0.9, 0.9), "reciprocal": (0.2, 3),
    "neg": (-2, 2), "abs": (-2, 2), "sign": (-2, 2), "floor": (-3, 3), "ceil": (-3, 3),
    "trunc": (-3, 3), "round": (-3, 3), "frac": (-3, 3), "square": (-2, 2), "sgn": (-2, 2),
    "negative": (-2, 2), "absolute": (-2, 2), "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9),
    "arctan": (-3, 3), "fix": (-3, 3), "deg2rad": (-3, 3), "rad2deg": (-3, 3),
    "logit": (0.1, 0.9), "nan_to_num": (-3, 3),
}
PREDICATES = ["isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_not"]
NONSMOOTH = {"sign", "floor", "ceil", "trunc", "round", "sgn", "fix"}
DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"]


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", DTYPES)
def test_unary(name, dtype):
    e, t = make((3, 4), dtype, domain=UNARY[name])
    both(lambda: getattr(ember, name)(e), lambda: getattr(torch, name)(t), TOL.get(dtype, 1e-5))
    if hasattr(torch.Tensor, name):
        both(lambda: getattr(e, name)(), lambda: getattr(t, name)(), TOL.get(dtype, 1e-5))


@pytest.mark.parametrize("name", PREDICATES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_predicates(name, dtype):
    e, t = make((3, 4), dtype)
    if dtype in TOL:
        a = np.array([0.0, np.nan, np.inf, -np.inf, 1.5])
        e = ember.tensor(a).to(getattr(ember, dtype))
        t = torch.tensor(a).to(getattr(torch, dtype))
    both(lambda: getattr(ember, name)(e), lambda: getattr(torch, name)(t))


@pytest.mark.parametrize("name", sorted(set(UNARY) - NONSMOOTH - {"nan_to_num"}))
def test_unary_grad(name):
    e, t = make((3, 4), "float64", seed=1, domain=UNARY[name])
    e.requires_grad_()
    t.requires_grad_()
    g = np.random.default_rng(2).standard_normal((3, 4))
    getattr(ember, name)(e).backward(ember.tensor(g))
    getattr(torch, name)(t).backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(e.grad), to_np(t.grad), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(NONSMOOTH))
def test_nonsmooth_grad_is_zero(name):
    e, t = make((3, 4), "float64", seed=1)
    e.requires_grad_()
    t.requires_grad_()
    getattr(ember, name)(e).sum().backward()
    getattr(torch, name)(t).sum().backward()
    np.testing.assert_allclose(to_np(e.grad), to_np(t.grad))


def test_round_decimals_and_special_values():
    e, t = make((5,), "float64", domain=(-30, 30))
    same(ember.round(e, decimals=1), torch.round(t, decimals=1))
    same(ember.round(e, decimals=-1), torch.round(t, decimals=-1))
    a = [0.5, 1.5, 2.5, -0.5, -2.5]
    same(ember.round(ember.tensor(a)), torch.round(torch.tensor(a)))
    a = [0.0, -0.0, 1.0, math.inf, -math.inf, math.nan, -1.0]
    for name in ("log", "sqrt", "exp", "reciprocal", "sign", "abs", "sigmoid", "tanh", "rsqrt"):
        same(getattr(ember, name)(ember.tensor(a)), getattr(torch, name)(torch.tensor(a)))


def test_nan_to_num_and_logit_eps():
    a = [math.nan, math.inf, -math.inf, 1.0]
    for dt in ("float32", "float64", "float16", "bfloat16"):
        e = ember.tensor(a).to(getattr(ember, dt))
        t = torch.tensor(a).to(getattr(torch, dt))
        same(ember.nan_to_num(e), torch.nan_to_num(t), TOL[dt])
        same(ember.nan_to_num(e, nan=2.0, posinf=9.0, neginf=-9.0),
             torch.nan_to_num(t, nan=2.0, posinf=9.0, neginf=-9.0), TOL[dt])
    e, t = make((6,), "float64", domain=(-0.5, 1.5))
    same(ember.logit(e, eps=1e-3), torch.logit(t, eps=1e-3))


# ------------------------------------------------------------------ binary

BINARY = {
    # name: (domain a, domain b)
    "add": None, "sub": None, "mul": None, "div": ((-2, 2), (0.5, 2)),
    "true_divide": ((-2, 2), (0.5, 2)), "pow": ((0.5, 2), (-2, 2)),
    "maximum": None, "minimum": None, "fmod": ((-5, 5), (0.5, 2)),
    "remainder": ((-5, 5), (0.5, 2)), "atan2": None, "floor_divide": ((-5, 5), (0.5, 2)),
    "eq": None, "ne": None, "lt": None, "le": None, "gt": None, "ge": None,
    "logical_and": None, "logical_or": None, "logical_xor": None,
    "bitwise_and": None, "bitwise_or": None, "bitwise_xor": None,
    "bitwise_left_shift": None, "bitwise_right_shift": None,
    "hypot": None, "copysign": None, "xlogy": ((-2, 2), (0.2, 3)), "float_power": ((0.5, 2), (-2, 2)),
    "multiply": None, "subtract": None, "divide": ((-2, 2), (0.5, 2)), "arctan2": None,
    "greater": None, "greater_equal": None, "less": None, "less_equal": None, "not_equal": None,
}
BIN_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int16", "uint8", "bool"]
SMOOTH_BINARY = ["add", "sub", "mul", "div", "pow", "atan2", "hypot", "xlogy", "maximum",
                 "minimum", "fmod", "remainder", "copysign", "float_power"]


def _domains(name):
    return BINARY[name] or ((-2, 2), (-2, 2))


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", BIN_DTYPES)
def test_binary(name, dtype):
    da, db = _domains(name)
    ea, ta = make((3, 4), dtype, seed=1, domain=da)
    eb, tb = make((3, 4), dtype, seed=2, domain=db)
    if dtype in ("int64", "int16") and name in ("fmod", "remainder", "floor_divide", "div",
                                                 "divide", "true_divide", "pow", "float_power"):
        eb, tb = make((3, 4), "uint8", seed=2)
        eb, tb = eb.to(getattr(ember, dtype)), tb.to(getattr(torch, dtype))
    if "shift" in name and dtype != "bool":
        eb, tb = ember.abs(eb) % 5, torch.abs(tb) % 5
    tol = TOL.get(dtype, 1e-5)
    both(lambda: getattr(ember, name)(ea, eb), lambda: getattr(torch, name)(ta, tb), tol)
    if hasattr(torch.Tensor, name):
        both(lambda: getattr(ea, name)(eb), lambda: getattr(ta, name)(tb), tol)


@pytest.mark.parametrize("name", SMOOTH_BINARY)
def test_binary_grad(name):
    da, db = _domains(name)
    ea, ta = make((3, 1, 4), "float64", seed=1, domain=da)
    eb, tb = make((2, 4), "float64", seed=2, domain=db)
    for x in (ea, ta, eb, tb):
        x.requires_grad_()
    g = np.random.default_rng(3).standard_normal((3, 2, 4))
    getattr(ember, name)(ea, eb).backward(ember.tensor(g))
    getattr(torch, name)(ta, tb).backward(torch.tensor(g))
    np.testing.assert_allclose(to_np(ea.grad), to_np(ta.grad), rtol=1e-8, atol=1e-10)
    if name == "copysign" and eb.grad is None:
        # ember's copysign takes only the sign bit of `other`, so no gradient reaches it;
        # torch materializes zeros
        assert not to_np(tb.grad).any()
        return
    np.testing.assert_allclose(to_np(eb.grad), to_np(tb.grad), rtol=1e-8, atol=1e-10)


def test_minmax_tie_grads():
    a, b = [1.0, 2.0, 3.0], [1.0, 5.0, 0.0]
    for name in ("maximum", "minimum"):
        ea, eb = ember.tensor(a, dtype=ember.float64, requires_grad=True), ember.tensor(b, dtype=ember.float64, requires_grad=True)
        ta, tb = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64, requires_grad=True)
        getattr(ember, name)(ea, eb).sum().backward()
        getattr(torch, name)(ta, tb).sum().backward()
        same(ea.grad, ta.grad)
        same(eb.grad, tb.grad)


def test_pow_grad_special_points():
    for a, b in (([0.0, 0.0, 2.0], [0.0, 2.0, 0.0]), ([0.0, 1.0, 2.0], [3.0, 0.5, 1.0])):
        ea, eb = ember.tensor(a, dtype=ember.float64, requires_grad=True), ember.tensor(b, dtype=ember.float64, requires_grad=True)
        ta, tb = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64, requires_grad=True)
        (ea ** eb).sum().backward()
        (ta ** tb).sum().backward()
        same(ea.grad, ta.grad)
        same(eb.grad, tb.grad)
    e = ember.tensor([0.0, 1.0, -2.0], dtype=ember.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64, requires_grad=True)
    (e ** 2 + e ** 3 + 2 ** e).sum().backward()
    (t ** 2 + t ** 3 + 2 ** t).sum().backward()
    same(e.grad, t.grad)


def test_where_clamp_lerp_and_grads():
    ec, tc = make((3, 4), "bool", seed=4)
    ea, ta = make((3, 4), "float64", seed=5)
    eb, tb = make((4,), "float64", seed=6)
    same(ember.where(ec, ea, eb), torch.where(tc, ta, tb))
    same(ember.where(ec, ea, 0.5), torch.where(tc, ta, 0.5))
    same(ember.where(ec, 1, 0), torch.where(tc, 1, 0))
    same(ea.where(ec, eb), ta.where(tc, tb))
    same(ember.clamp(ea, -0.5, 0.5), torch.clamp(ta, -0.5, 0.5))
    same(ember.clamp(ea, min=eb), torch.clamp(ta, min=tb))
    same(ea.clip(max=0.1), ta.clip(max=0.1))
    ei, ti = make((3, 4), "int64", seed=7)
    same(ember.clamp(ei, -1, 2), torch.clamp(ti, -1, 2))
    same(ember.clamp(ei, 0.5), torch.clamp(ti, 0.5))
    same(ember.lerp(ea, eb, 0.3), torch.lerp(ta, tb, 0.3))
    with pytest.raises(RuntimeError):
        ember.clamp(ea)
    for x in (ea, eb, ta, tb):
        x.requires_grad_()
    (ember.where(ec, ea, eb) * 2 + ember.clamp(ea, -0.5, 0.5) + ember.lerp(ea, eb, 0.3)).sum().backward()
    (torch.where(tc, ta, tb) * 2 + torch.clamp(ta, -0.5, 0.5) + torch.lerp(ta, tb, 0.3)).sum().backward()
    same(ea.grad, ta.grad)
    same(eb.grad, tb.grad)


def test_div_rounding_modes():
    a, b = [-7, 7, -8, 8, 5], [2, -2, 3, 3, -5]
    for dt in ("int64", "float32", "float64", "int16"):
        ea, eb = ember.tensor(a, dtype=getattr(ember, dt)), ember.tensor(b, dtype=getattr(ember, dt))
        ta, tb = torch.tensor(a, dtype=getattr(torch, dt)), torch.tensor(b, dtype=getattr(torch, dt))
        for mode in (None, "trunc", "floor"):
            same(ember.div(ea, eb, rounding_mode=mode), torch.div(ta, tb, rounding_mode=mode))
            same(ember.div(ea, 3, rounding_mode=mode), torch.div(ta, 3, rounding_mode=mode))
        same(ea // eb, ta // tb)
        same(ea % eb, ta % tb)
        same(ember.fmod(ea, eb), torch.fmod(ta, tb))
    with pytest.raises(RuntimeError):
        ember.div(ember.tensor([1.0]), 2, rounding_mode="round")


def test_add_sub_alpha():
    ea, ta = make((3,), "float64", seed=1)
    eb, tb = make((3,), "float64", seed=2)
    same(ember.add(ea, eb, alpha=2.5), torch.add(ta, tb, alpha=2.5))
    same(ember.sub(ea, eb, alpha=-2), torch.sub(ta, tb, alpha=-2))
    ei, ti = make((3,), "int64", seed=3)
    same(ember.add(ei, ei, alpha=3), torch.add(ti, ti, alpha=3))
    eb_, tb_ = make((3,), "bool", seed=3)
    same(ember.add(eb_, eb_, alpha=2), torch.add(tb_, tb_, alpha=2))
    both(lambda: ember.add(ei, ei, alpha=2.5), lambda: torch.add(ti, ti, alpha=2.5))
    same(ember.add(ea, 1, alpha=2), torch.add(ta, 1, alpha=2))


# ------------------------------------------------------------------ operators

OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
       operator.mod, operator.pow, operator.and_, operator.or_, operator.xor, operator.lshift,
       operator.rshift, operator.eq, operator.ne, operator.lt, operator.le, operator.gt,
       operator.ge]
SCALARS = [2, 3.5, True, -1, 0]


@pytest.mark.parametrize("op", OPS, ids=lambda o: o.__name__)
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "uint8", "float16"])
def test_operators(op, dtype):
    ea, ta = make((2, 3), dtype, seed=1)
    eb, tb = make((2, 3), dtype, seed=2)
    if op in (operator.floordiv, operator.mod, operator.truediv) and dtype in ("int64", "uint8"):
        eb, tb = eb.abs() + 1, tb.abs() + 1
    if op in (operator.lshift, operator.rshift) and dtype in ("int64",):
        eb, tb = eb.abs(), tb.abs()
    if op is operator.pow and dtype == "int64":
        eb, tb = eb.abs(), tb.abs()
    tol = TOL.get(dtype, 1e-5)
    both(lambda: op(ea, eb), lambda: op(ta, tb), tol)
    for s in SCALARS:
        if op in (operator.floordiv, operator.mod) and s == 0:
            continue
        both(lambda: op(ea, s), lambda: op(ta, s), tol)
        both(lambda: op(s, ea), lambda: op(s, ta), tol)
    arr = to_np(tb) if dtype != "bfloat16" else None
    both(lambda: op(ea, ember.tensor(arr)), lambda: op(ta, torch.from_numpy(arr)), tol)


@pytest.mark.parametrize("dtype", ["float32", "int64", "bool", "uint8"])
def test_unary_operators(dtype):
    e, t = make((2, 3), dtype)
    both(lambda: -e, lambda: -t)
    both(lambda: ~e, lambda: ~t)
    both(lambda: abs(e), lambda: abs(t))
    both(lambda: +e, lambda: +t)


def test_numpy_array_reflected():
    e, t = make((2, 3), "float32")
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    for op in (operator.add, operator.sub, operator.mul, operator.truediv, operator.lt,
               operator.eq, operator.pow):
        r = op(arr, e)
        assert isinstance(r, ember.Tensor)
        same(r, op(torch.from_numpy(arr), t))
        same(op(e, arr), op(t, torch.from_numpy(arr)))


def test_eq_none_and_python_containers():
    e, t = make((3,), "float32")
    assert (e == None) is False  # noqa: E711
    assert (e != None) is True  # noqa: E711
    same(e + [1.0, 2.0, 3.0], t + torch.tensor([1.0, 2.0, 3.0]))


# ------------------------------------------------------------------ in-place

INPLACE = ["add_", "sub_", "mul_", "div_", "pow_", "maximum_", "minimum_", "fmod_",
           "remainder_", "atan2_", "hypot_", "copysign_", "clamp_", "lerp_"]
INPLACE_UNARY = ["exp_", "log_", "sqrt_", "sin_", "cos_", "tanh_", "sigmoid_", "neg_", "abs_",
                 "floor_", "ceil_", "trunc_", "round_", "reciprocal_", "square_", "frac_",
                 "sign_", "rsqrt_", "erf_", "expm1_", "log1p_", "clamp_min_", "clamp_max_"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_binary(name):
    ea, ta = make((3, 4), "float32", seed=1, domain=(0.5, 2))
    eb, tb = make((4,), "float32", seed=2, domain=(0.5, 2))
    if not hasattr(ta, name):
        pytest.skip(f"torch has no {name}")
    args_e, args_t = ((eb,), (tb,)) if name not in ("clamp_", "lerp_") else \
        ((eb, 1.5) if name == "lerp_" else (0.7, 1.2), (tb, 1.5) if name == "lerp_" else (0.7, 1.2))
    ve = ea._version_count if hasattr(ea, "_version_count") else None
    re = getattr(ea, name)(*args_e)
    rt = getattr(ta, name)(*args_t)
    assert re is ea
    same(ea, ta)
    if ve is not None:
        assert ea._version_count > ve


@pytest.mark.parametrize("name", INPLACE_UNARY)
def test_inplace_unary(name):
    e, t = make((3, 4), "float64", seed=1, domain=(0.2, 2))
    args = (0.5,) if name in ("clamp_min_", "clamp_max_") else ()
    getattr(e, name)(*args)
    getattr(t, name)(*args)
    same(e, t)


def test_inplace_operators_and_errors():
    e, t = make((3, 4), "float32")
    for op in ("__iadd__", "__isub__", "__imul__", "__itruediv__"):
        e = getattr(e, op)(2)
        t = getattr(t, op)(2)
    same(e, t)
    ei, ti = make((3, 4), "int64")
    ei //= 3
    ti //= 3
    same(ei, ti)
    ei %= 3
    ti %= 3
    same(ei, ti)
    ei <<= 1
    ti <<= 1
    same(ei, ti)
    for f in (lambda x: x.add_(1.5), lambda x: x.div_(2), lambda x: x.sqrt_(),
              lambda x: x.add_(x.float())):
        with pytest.raises(RuntimeError):
            f(ti.clone())
        with pytest.raises(RuntimeError):
            f(ei.clone())
    ef = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        ef.add_(1)
    # broadcasting the result to self's shape is fine; growing self is not
    same(ember.ones(2, 3).add_(ember.ones(3)), torch.ones(2, 3).add_(torch.ones(3)))
    with pytest.raises(RuntimeError):
        ember.ones(3).add_(ember.ones(2, 3))


def test_inplace_autograd():
    e, t = make((3,), "float64", seed=4)
    e.requires_grad_()
    t.requires_grad_()
    ye, yt = e * 2, t * 2
    ye.mul_(e).exp_()
    yt.mul_(t).exp_()
    ye.sum().backward()
    yt.sum().backward()
    same(e.grad, t.grad, 1e-10)


# ------------------------------------------------------------------ broadcasting

shape_st = st.lists(st.integers(1, 3), min_size=0, max_size=4)


@st.composite
def broadcastable(draw):
    out = draw(shape_st)
    def sub():
        nd = draw(st.integers(0, len(out)))
        dims = out[len(out) - nd:]
        return [d if draw(st.booleans()) else 1 for d in dims]
    return sub(), sub()


@settings(max_examples=60, deadline=None)
@given(shapes=broadcastable(), op=st.sampled_from(["add", "mul", "sub", "div", "maximum",
                                                  "lt", "atan2", "pow", "where"]))
def test_broadcasting(shapes, op):
    sa, sb = shapes
    ea, ta = make(tuple(sa), "float64", seed=1, domain=(0.5, 2))
    eb, tb = make(tuple(sb), "float64", seed=2, domain=(0.5, 2))
    if op == "where":
        same(ember.where(ea > 1, ea, eb), torch.where(ta > 1, ta, tb), 1e-10)
        return
    same(getattr(ember, op)(ea, eb), getattr(torch, op)(ta, tb), 1e-10)
    if op in ("lt",):
        return
    for x in (ea, ta, eb, tb):
        x.requires_grad_()
    getattr(ember, op)(ea, eb).sum().backward()
    getattr(torch, op)(ta, tb).sum().backward()
    same(ea.grad, ta.grad, 1e-10)
    same(eb.grad, tb.grad, 1e-10)


def test_broadcast_errors():
    with pytest.raises(RuntimeError):
        ember.ones(2, 3) + ember.ones(4)
    with pytest.raises(RuntimeError):
        ember.ones(2, 3) * ember.ones(3, 2)


# ------------------------------------------------------------------ error types

ERRORS = [
    ("bool - bool", lambda m: m.tensor([True]) - m.tensor([False])),
    ("bool - int", lambda m: m.tensor([True]) - 1),
    ("int - bool scalar", lambda m: m.tensor([1]) - True),
    ("-bool", lambda m: -m.tensor([True])),
    ("int ** -1", lambda m: m.tensor([2]) ** -1),
    ("bitwise float", lambda m: m.tensor([1.0]) & m.tensor([1.0])),
    ("bitwise float scalar", lambda m: m.tensor([1]) | 1.5),
    ("invert float", lambda m: ~m.tensor([1.0])),
    ("shift float", lambda m: m.tensor([1.0]) << 1),
    ("int // 0", lambda m: m.tensor([1]) // 0),
    ("int % 0", lambda m: m.tensor([1]) % m.tensor([0])),
    ("abs bool", lambda m: m.abs(m.tensor([True]))),
    ("floor bool", lambda m: m.floor(m.tensor([True]))),
    ("frac int", lambda m: m.frac(m.tensor([1]))),
    ("hypot int", lambda m: m.hypot(m.tensor([1]), m.tensor([1]))),
    ("remainder bool", lambda m: m.tensor([True]) % m.tensor([True])),
    ("pow bool tensors", lambda m: m.tensor([True]) ** m.tensor([True])),
    ("maximum scalar", lambda m: m.maximum(m.tensor([1.0]), 2.0)),
    ("logical_and scalar", lambda m: m.logical_and(m.tensor([1.0]), 1.0)),
    ("add bad type", lambda m: m.tensor([1.0]) + "a"),
    ("alpha float on ints", lambda m: m.add(m.tensor([1]), m.tensor([1]), alpha=0.5)),
    ("exp_ int", lambda m: m.tensor([1]).exp_()),
]


@pytest.mark.parametrize("name,f", ERRORS, ids=[n for n, _ in ERRORS])
def test_error_types(name, f):
    with pytest.raises(Exception) as te:
        f(torch)
    with pytest.raises(te.type):
        f(ember)


def test_integer_wraparound_and_pow():
    u = [0, 1, 200]
    eu, tu = ember.tensor(u, dtype=ember.uint8), torch.tensor(u, dtype=torch.uint8)
    for f in (lambda x: x + 100, lambda x: x * 2, lambda x: x + -3, lambda x: x == -3,
              lambda x: -3 - x, lambda x: x / -3, lambda x: x - 1):
        same(f(eu), f(tu))
    ei, ti = ember.tensor([-2, -1, 1, 2, 3]), torch.tensor([-2, -1, 1, 2, 3])
    same(ei ** ember.tensor([-1, -3, -2, 2, 0]), ti ** torch.tensor([-1, -3, -2, 2, 0]))
    same(2 ** ei.abs(), 2 ** ti.abs())
    same(ember.tensor([True, False]) ** True, torch.tensor([True, False]) ** True)
    same(ember.tensor([True, False]) ** 1, torch.tensor([True, False]) ** 1)
    same(ei ** 1.0, ti ** 1.0)
    same(ember.square(ember.tensor([True, False])), torch.square(torch.tensor([True, False])))


# clamp's gradient where the input or a bound is NaN (or the bounds cross): PyTorch sends x's
# gradient only where lo <= x <= hi, a tensor bound's where it is the result
_NAN = float("nan")
_CLAMP_X = [_NAN, -2.0, 0.5, 3.0, 1.0, 2.0, _NAN, 0.0]
_CLAMP_LO = [0.0, 0.0, _NAN, 0.0, 1.0, 0.0, _NAN, 0.0]
_CLAMP_HI = [2.0, 2.0, 2.0, _NAN, 2.0, 2.0, 1.0, -1.0]
CLAMP_CASES = {
    "clamp(0, 2)": lambda x, lo, hi: x.clamp(0, 2),
    "clamp(min=0)": lambda x, lo, hi: x.clamp(min=0),
    "clamp(max=2)": lambda x, lo, hi: x.clamp(max=2),
    "clamp_min(0)": lambda x, lo, hi: x.clamp_min(0),
    "clamp_max(2)": lambda x, lo, hi: x.clamp_max(2),
    "clip(0, 2)": lambda x, lo, hi: x.clip(0, 2),
    "clamp(3, 1) crossed": lambda x, lo, hi: x.clamp(3, 1),
    "clamp(nan, 2)": lambda x, lo, hi: x.clamp(_NAN, 2),
    "clamp(0, nan)": lambda x, lo, hi: x.clamp(0, _NAN),
    "clamp(T, T)": lambda x, lo, hi: x.clamp(lo, hi),
    "clamp(T, T) crossed": lambda x, lo, hi: x.clamp(hi, lo),
    "clamp(min=T)": lambda x, lo, hi: x.clamp(min=lo),
    "clamp(max=T)": lambda x, lo, hi: x.clamp(max=hi),
    "clamp_min(T)": lambda x, lo, hi: x.clamp_min(lo),
    "clamp_max(T)": lambda x, lo, hi: x.clamp_max(hi),
    "clip(T, T)": lambda x, lo, hi: x.clip(lo, hi),
    "clamp_(T, T)": lambda x, lo, hi: (x * 1).clamp_(lo, hi),
    "broadcast bound": lambda x, lo, hi: x.clamp(min=lo[:1], max=hi.reshape(2, 4)[:, :1]
                                                 .expand(2, 4).reshape(8)),
}


@pytest.mark.parametrize("bounds_grad", [False, True])
@pytest.mark.parametrize("case", list(CLAMP_CASES))
def test_clamp_gradient_at_nan(case, bounds_grad):
    outs = []
    for lib in (ember, torch):
        x, lo, hi = (lib.tensor(v, dtype=lib.float64) for v in (_CLAMP_X, _CLAMP_LO, _CLAMP_HI))
        for t in (x, lo, hi) if bounds_grad else (x,):
            t.requires_grad_()
        y = CLAMP_CASES[case](x, lo, hi)
        y.backward(lib.arange(1.0, 9.0, dtype=lib.float64))
        outs.append([y] + [t.grad for t in (x, lo, hi)])
    for e, t in zip(*outs):
        if t is None:
            assert e is None
        else:
            same(e, t)


def test_clamp_gradient_at_nan_double_backward_and_dtype():
    for lib in (ember, torch):
        x = lib.tensor(_CLAMP_X, dtype=lib.float32, requires_grad=True)
        lo = lib.tensor(_CLAMP_LO, dtype=lib.float64, requires_grad=True)
        y = x.clamp(min=lo)
        g, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        g.sum().backward()
        if lib is ember:
            e = (y, g, x.grad, lo.grad)
        else:
            for a, b in zip(e, (y, g, x.grad, lo.grad)):
                same(a, b)
