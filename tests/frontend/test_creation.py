import numpy as np
import pytest
import torch

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

import ember


def same(e, t, rtol=1e-6, atol=1e-7):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(np.asarray(e._data, dtype=np.float64),
                               t.double().numpy() if t.dtype != torch.bool else t.numpy(),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("args", [(5,), (2, 7), (1, 10, 3), (10, 1, -3), (0, 1, 0.1), (1.5, 4),
                                  (0.0, 1.0, 0.3), (-2, 2.5, 0.5), (0, 0), (3, 3, 1), (1, 2, 0.3)])
def test_arange(args):
    same(ember.arange(*args), torch.arange(*args))


@pytest.mark.parametrize("dt", ["float32", "float64", "int32", "int64", "float16", "bfloat16"])
def test_arange_dtype(dt):
    same(ember.arange(0, 7, 2, dtype=getattr(ember, dt)), torch.arange(0, 7, 2, dtype=getattr(torch, dt)),
         rtol=1e-2)


def test_arange_errors():
    for args in [(0, 5, 0), (5, 0, 1), (0, 5, -1)]:
        with pytest.raises(RuntimeError):
            torch.arange(*args)
        with pytest.raises(RuntimeError):
            ember.arange(*args)


def test_arange_default_dtype_and_range():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.arange(0.0, 1.0, 0.5).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    same(ember.range(0, 1, 0.25), torch.range(0, 1, 0.25))
    same(ember.range(1, 4), torch.range(1, 4))


@pytest.mark.parametrize("args", [(0, 1, 5), (-3, 7, 11), (2, -2, 4), (0, 1, 1), (0, 1, 0), (1, 1, 3)])
def test_linspace_logspace(args):
    same(ember.linspace(*args), torch.linspace(*args))
    same(ember.linspace(*args, dtype=ember.float64), torch.linspace(*args, dtype=torch.float64))
    same(ember.logspace(*args), torch.logspace(*args), rtol=1e-5)
    same(ember.logspace(*args, base=2), torch.logspace(*args, base=2), rtol=1e-5)


def test_linspace_int_and_errors():
    same(ember.linspace(0, 10, 4, dtype=ember.int64), torch.linspace(0, 10, 4, dtype=torch.int64))
    with pytest.raises(RuntimeError):
        ember.linspace(0, 1, -1)


@pytest.mark.parametrize("n,m", [(3, None), (2, 4), (4, 2), (0, None), (1, 1)])
@pytest.mark.parametrize("dt", [None, "int64", "bool", "float64"])
def test_eye(n, m, dt):
    kw = {} if dt is None else {"dtype": getattr(ember, dt)}
    tkw = {} if dt is None else {"dtype": getattr(torch, dt)}
    args = (n,) if m is None else (n, m)
    same(ember.eye(*args, **kw), torch.eye(*args, **tkw))


def test_eye_negative():
    with pytest.raises(RuntimeError):
        ember.eye(-1)


def test_zeros_ones_out_and_full():
    out = ember.empty(2, 3)
    r = ember.zeros(2, 3, out=out)
    assert r is out and (out._data == 0).all()
    ember.ones((4,), out=out)
    assert out.shape == (4,) and (out._data == 1).all()
    same(ember.full((2,), True), torch.full((2,), True))
    same(ember.full((2,), 3), torch.full((2,), 3))
    same(ember.full((2,), 3.5), torch.full((2,), 3.5))


def test_as_tensor_asarray_share_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = ember.as_tensor(a)
    t2 = ember.asarray(a)
    a[0, 0] = 42
    assert t._data[0, 0] == 42 and t2._data[0, 0] == 42
    c = ember.asarray(a, copy=True)
    a[0, 0] = 1
    assert c._data[0, 0] == 42
    with pytest.raises(ValueError):
        ember.asarray(a, dtype=ember.float32, copy=False)
    e = ember.tensor([1, 2])
    assert ember.asarray(e) is e
    assert ember.asarray([1, 2.0]).dtype is ember.float32
    assert ember.asarray([[True]]).dtype is ember.bool
    assert ember.asarray(a, dtype=ember.float32).dtype is ember.float32


def test_empty_strided_and_scalar_tensor():
    t = ember.empty_strided((2, 3), (1, 2))
    tt = torch.empty_strided((2, 3), (1, 2))
    assert t.shape == tt.shape and t.stride() == tt.stride()
    same(ember.scalar_tensor(3), torch.scalar_tensor(3))


def test_requires_grad_flag():
    assert ember.arange(3.0, requires_grad=True).requires_grad
    assert ember.linspace(0, 1, 3, requires_grad=True).requires_grad
    assert ember.eye(2, requires_grad=True).requires_grad


# lists of NumPy scalars (alone, mixed with Python numbers, nested): the dtype is the
# promotion of the leaves' dtypes, each NumPy scalar counting as its own dtype
NUMPY_SCALAR_LISTS = {
    "float32": [np.float32(1), np.float32(2)],
    "float16": [np.float16(1), np.float16(2.5)],
    "float64": [np.float64(1), np.float64(2)],
    "int32": [np.int32(1), np.int32(2)],
    "int16": [np.int16(-3)],
    "int8_uint8": [np.int8(1), np.uint8(2)],
    "uint8": [np.uint8(7)],
    "bool_": [np.bool_(True), np.bool_(False)],
    "bool_and_bool": [np.bool_(True), True],
    "float32_int": [np.float32(1), 2],
    "int_float32": [1, np.float32(2)],
    "float32_float": [np.float32(1), 2.5],
    "int32_int": [np.int32(1), 2],
    "int32_float": [np.int32(1), 2.0],
    "int32_float16": [np.int32(1), np.float16(2)],
    "float16_float32": [np.float16(1), np.float32(2)],
    "bool_int32": [True, np.int32(3)],
    "int32_int64": [np.int32(1), np.int64(2)],
    "float64_int": [np.float64(1.5), 1],
    "float_int64": [1.5, np.int64(2)],
    "nested_float32": [[np.float32(1), np.float32(2)], [np.float32(3), np.float32(4)]],
    "nested_mixed": [[np.float32(1), 2], [3, np.float16(4)]],
    "nested_int32_float": [[np.int32(1)], [2.5]],
    "tuple_float16": (np.float16(1), np.float16(2)),
    "arrays_int32_and_list": [np.array([1, 2], dtype=np.int32), [3.0, 4.0]],
    "arrays_float16": [np.array([1, 2], dtype=np.float16), np.array([3, 4], dtype=np.float16)],
}


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("name", list(NUMPY_SCALAR_LISTS))
def test_tensor_from_numpy_scalars(name, default):
    data = NUMPY_SCALAR_LISTS[name]
    try:
        ember.set_default_dtype(getattr(ember, default))
        torch.set_default_dtype(getattr(torch, default))
        same(ember.tensor(data), torch.tensor(data))
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("scalar", [np.float32(1.5), np.float16(3), np.int32(3), np.bool_(True),
                                    np.int8(-2), np.float64(0.25)])
def test_tensor_from_one_numpy_scalar(scalar):
    same(ember.tensor(scalar), torch.tensor(scalar))
    same(ember.tensor([[scalar]]), torch.tensor([[scalar]]))


def test_tensor_ragged_and_unknown_leaves():
    for bad in ([[1, 2], [3]], [[1], 2], [[np.float32(1)], [np.float32(2), 3]]):
        with pytest.raises(ValueError):
            ember.tensor(bad)
        with pytest.raises((ValueError, TypeError)):
            torch.tensor(bad)
    with pytest.raises(TypeError):
        ember.tensor(["a"])
