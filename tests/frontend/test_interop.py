"""NumPy and DLPack interop: memory is shared both ways; unsupported dtypes fail clearly."""
import numpy as np
import pytest
import torch

import ember

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dt", DTYPES)
def test_from_numpy_and_numpy_share_memory(dt):
    a = np.arange(6).reshape(2, 3).astype(dt)
    t = ember.from_numpy(a)
    assert t.dtype is getattr(ember, dt) and t.shape == (2, 3)
    a[0, 0] = 1
    assert t.tolist()[0][0] == a[0, 0]
    n = t.numpy()
    assert np.shares_memory(n, a)
    t.zero_()
    assert not a.any()


def test_from_numpy_views_and_errors():
    a = np.arange(12.).reshape(3, 4)[:, ::2]
    t = ember.from_numpy(a)
    assert t.stride() == torch.from_numpy(a).stride()
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="complex128"):
        ember.from_numpy(np.array([1j]))
    with pytest.raises(TypeError, match="uint16"):
        ember.from_numpy(np.array([1], dtype=np.uint16))
    with pytest.raises(ValueError, match="byte order"):
        ember.from_numpy(np.zeros(2, dtype=">f4"))


def test_numpy_requires_grad_and_array_protocol():
    x = ember.tensor([1., 2.], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert np.shares_memory(x.numpy(force=True), x.detach().numpy())
    t = ember.tensor([1, 2, 3])
    assert np.asarray(t).dtype == np.int64 and np.shares_memory(np.asarray(t), t.numpy())
    assert np.array(t, dtype=np.float32).dtype == np.float32
    assert not np.shares_memory(np.array(t), t.numpy())
    assert (np.add(np.ones(3), np.asarray(t)) == [2, 3, 4]).all()


@pytest.mark.parametrize("dt", DTYPES + ["bfloat16"])
def test_dlpack_with_torch_shares_memory(dt):
    src = torch.arange(6).reshape(2, 3).to(getattr(torch, dt))
    e = ember.from_dlpack(src)
    assert e.dtype is getattr(ember, dt) and tuple(e.shape) == (2, 3)
    back = torch.from_dlpack(e)
    assert back.dtype == src.dtype and back.data_ptr() == src.data_ptr()
    e.fill_(1)
    assert (src == 1).all()
    back.zero_()
    assert not e.tolist()[1][2]


def test_dlpack_non_contiguous_from_torch():
    src = torch.arange(6.).reshape(2, 3).t()
    e = ember.from_dlpack(src)
    assert e.stride() == src.stride() and e.tolist() == src.tolist()


def test_dlpack_with_numpy():
    t = ember.tensor([[1., 2.], [3., 4.]])
    a = np.from_dlpack(t)
    a[0, 0] = 9
    assert t.tolist()[0][0] == 9
    e = ember.from_dlpack(a)
    assert np.shares_memory(e.numpy(), a)
    assert ember.from_dlpack(t) is t


def test_dlpack_errors():
    with pytest.raises(RuntimeError, match="require gradient"):
        torch.from_dlpack(ember.tensor([1.], requires_grad=True))
    with pytest.raises(TypeError, match="unsupported dtype complex64"):
        ember.from_dlpack(torch.tensor([1j], dtype=torch.complex64))
    with pytest.raises(TypeError, match="__dlpack__"):
        ember.from_dlpack([1, 2])
    assert ember.tensor([1.]).__dlpack_device__() == (1, 0)
