"""Type promotion vs torch: every dtype pair, tensor-scalar, zero-dim tensors."""
import itertools

import numpy as np
import pytest
import torch

import ember

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
         "float64"]
PAIRS = list(itertools.product(NAMES, NAMES))
SCALARS = [True, 2, 2.5, -3]


def pair(name, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, shape) if shape else np.array(rng.integers(0, 4))
    if name == "bool":
        a = a > 1
    e = ember.tensor(a.tolist(), dtype=getattr(ember, name))
    t = torch.tensor(a.tolist(), dtype=getattr(torch, name))
    return e, t


def dtname(x):
    return str(x.dtype).split(".")[-1]


def as_np(x):
    if isinstance(x, torch.Tensor):
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy().astype(np.float64)
    a = x._data
    return a.astype(np.float64)


def check(e, t, tol=1e-2):
    assert dtname(e) == dtname(t), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(as_np(e), as_np(t), rtol=tol, atol=tol, equal_nan=True)


def both(fe, ft):
    """Same outcome: equal results, or the same exception type."""
    try:
        rt = ft()
    except Exception as err:  # noqa: BLE001
        with pytest.raises(type(err)):
            fe()
        return
    check(fe(), rt)


@pytest.mark.parametrize("a,b", PAIRS)
def test_promote_types(a, b):
    r = ember.promote_types(getattr(ember, a), getattr(ember, b))
    assert r.name == dtname(torch.empty(0, dtype=torch.promote_types(getattr(torch, a), getattr(torch, b))))


@pytest.mark.parametrize("a,b", PAIRS)
@pytest.mark.parametrize("op", ["add", "mul", "div", "eq", "lt", "maximum", "sub"])
def test_binary_pairs(a, b, op):
    ea, ta = pair(a, seed=1)
    eb, tb = pair(b, seed=2)
    both(lambda: getattr(ember, op)(ea, eb), lambda: getattr(torch, op)(ta, tb))


@pytest.mark.parametrize("a,b", PAIRS)
@pytest.mark.parametrize("za,zb", [(True, False), (False, True), (True, True)])
def test_zero_dim_pairs(a, b, za, zb):
    ea, ta = pair(a, () if za else (2, 3), seed=1)
    eb, tb = pair(b, () if zb else (2, 3), seed=2)
    both(lambda: ea + eb, lambda: ta + tb)
    both(lambda: ea * eb, lambda: ta * tb)
    both(lambda: ea / eb, lambda: ta / tb)


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("s", SCALARS)
@pytest.mark.parametrize("op", ["add", "mul", "div", "sub", "eq", "gt", "pow", "remainder",
                                "floor_divide", "maximum"])
def test_tensor_scalar(a, s, op):
    e, t = pair(a, seed=3)
    if op == "maximum":
        return  # maximum takes two tensors in torch
    both(lambda: getattr(ember, op)(e, s), lambda: getattr(torch, op)(t, s))


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("s", SCALARS)
def test_scalar_operators_reflected(a, s):
    e, t = pair(a, seed=4)
    for f in (lambda x: s + x, lambda x: s * x, lambda x: s - x, lambda x: s / x,
              lambda x: x + s, lambda x: x * s, lambda x: x - s, lambda x: x / s,
              lambda x: s < x, lambda x: x == s, lambda x: s ** x, lambda x: x ** abs(s)):
        both(lambda: f(e), lambda: f(t))


@pytest.mark.parametrize("a", ["int64", "float32", "bool", "float16"])
def test_default_dtype_float64(a):
    e, t = pair(a, seed=5)
    prev_e, prev_t = ember.get_default_dtype(), torch.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        both(lambda: e + 1.5, lambda: t + 1.5)
        both(lambda: e / 2, lambda: t / 2)
        both(lambda: ember.exp(e), lambda: torch.exp(t))
    finally:
        ember.set_default_dtype(prev_e)
        torch.set_default_dtype(prev_t)


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("op", ["exp", "sqrt", "sin", "sigmoid", "abs", "neg", "floor", "sign"])
def test_unary_result_dtypes(a, op):
    e, t = pair(a, seed=6)
    both(lambda: getattr(ember, op)(e), lambda: getattr(torch, op)(t))


@pytest.mark.parametrize("a,b", [("int32", "float16"), ("uint8", "int8"), ("bool", "int16"),
                                 ("float16", "bfloat16"), ("int64", "float32")])
def test_inplace_promotion(a, b):
    ea, ta = pair(a, seed=7)
    eb, tb = pair(b, seed=8)
    both(lambda: ea.clone().add_(eb), lambda: ta.clone().add_(tb))
    both(lambda: ea.clone().mul_(eb), lambda: ta.clone().mul_(tb))
    both(lambda: eb.clone().add_(ea), lambda: tb.clone().add_(ta))


def test_numpy_operands():
    e, t = pair("float32", seed=9)
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    check(e + arr, t + torch.from_numpy(arr))
    check(arr + e, torch.from_numpy(arr) + t)
    check(e * arr, t * torch.from_numpy(arr))
    check(arr - e, torch.from_numpy(arr) - t)
    check(e + np.float64(2.5), t + 2.5)
