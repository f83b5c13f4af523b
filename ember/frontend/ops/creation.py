"""Creation ops: tensor, as_tensor, zeros/ones/full/empty (+_like), arange, linspace,
logspace, eye, and the legacy `Tensor(...)` constructor."""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ..tensor import Tensor, _wrap, install_methods

__all__ = ["tensor", "as_tensor", "zeros", "ones", "full", "empty", "zeros_like", "ones_like",
           "full_like", "empty_like"]


def _check_device(device, op):
    if device is not None and str(device).split(":")[0] != "cpu":
        from ...cuda import _unavailable
        _unavailable(op)


def _infer_dtype(data):
    """PyTorch's inference for nested Python data: bool < int64 < default float."""
    cat = -1
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            return None
        else:
            try:
                cat = max(cat, D.scalar_category(x))
            except TypeError:
                raise TypeError(f"tensor(): could not infer dtype of {type(x).__name__}") from None
            if cat == D.FLOAT:
                break
    if cat == -1:
        return D.get_default_dtype()
    return D.bool_ if cat == D.BOOL else D.int64 if cat == D.INT else D.get_default_dtype()


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        arr = np.array([_to_array(x, None) for x in data])
    else:
        inferred = _infer_dtype(data) if dtype is None else dtype
        if isinstance(data, (list, tuple)):
            _check_ragged(data)
        arr = np.array(data, dtype=(inferred or D.get_default_dtype()).np)
        return arr
    if dtype is not None and arr.dtype != dtype.np:
        arr = arr.astype(dtype.np)
    return arr


def _check_ragged(data):
    lens = {len(x) if isinstance(x, (list, tuple)) else -1 for x in data}
    if len(lens) > 1:
        raise ValueError(f"tensor(): expected sequence of equal-length lists, got lengths "
                         f"{sorted(lens)}")
    for x in data:
        if isinstance(x, (list, tuple)):
            _check_ragged(x)


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    _check_device(device, "tensor")
    dtype = None if dtype is None else D.to_dtype(dtype)
    if isinstance(data, np.ndarray) and dtype is None:
        D.from_numpy_dtype(data.dtype)
    arr = _to_array(data, dtype)
    arr = np.array(arr, copy=True, order="C")
    if arr.dtype not in _NP_OK:
        arr = arr.astype(D.from_numpy_dtype(arr.dtype).np)
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


_NP_OK = {d.np for d in D.ALL_DTYPES}


def as_tensor(data, dtype=None, device=None):
    _check_device(device, "as_tensor")
    dtype = None if dtype is None else D.to_dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is dtype else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtype.np):
        D.from_numpy_dtype(data.dtype)
        return _wrap(data)
    return tensor(data, dtype=dtype)


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    size = tuple(int(s) for s in size)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return size


def _dtype_or_default(dtype):
    return D.get_default_dtype() if dtype is None else D.to_dtype(dtype)


def _finish(arr, requires_grad):
    t = _wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    _check_device(device, "zeros")
    return _finish(np.zeros(_shape(size), _dtype_or_default(dtype).np), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    _check_device(device, "ones")
    return _finish(np.ones(_shape(size), _dtype_or_default(dtype).np), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None):
    _check_device(device, "empty")
    return _finish(np.empty(_shape(size), _dtype_or_default(dtype).np), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    _check_device(device, "full")
    if dtype is None:
        dtype = D.scalar_dtype(fill_value) if not isinstance(fill_value, Tensor) else fill_value.dtype
    dtype = D.to_dtype(dtype)
    return _finish(np.full(_shape((size,) if isinstance(size, int) else tuple(size)), fill_value,
                           dtype.np), requires_grad)


def _like(np_fn):
    def fn(input, *, dtype=None, device=None, requires_grad=False, memory_format=None, layout=None):
        _check_device(device, np_fn.__name__ + "_like")
        dt = input.dtype if dtype is None else D.to_dtype(dtype)
        return _finish(np_fn(input._data.shape, dt.np), requires_grad)
    return fn


zeros_like = _like(np.zeros)
ones_like = _like(np.ones)
empty_like = _like(np.empty)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None,
              layout=None):
    _check_device(device, "full_like")
    dt = input.dtype if dtype is None else D.to_dtype(dtype)
    return _finish(np.full(input._data.shape, fill_value, dt.np), requires_grad)


def _legacy_tensor_new(cls, *args, **kwargs):
    """ember.Tensor(2, 3) -> uninitialized float32 (2, 3); ember.Tensor([1, 2]) -> data."""
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)) and not (
            isinstance(args[0], tuple) and all(isinstance(a, int) for a in args[0]) and False):
        arr = _to_array(args[0], D.float32)
        t = _wrap(np.array(arr, copy=True), cls=cls)
        return t
    if len(args) == 1 and isinstance(args[0], Tensor):
        return _wrap(args[0]._data, args[0]._version, cls=cls)
    arr = np.zeros(_shape(args), np.float32)
    return _wrap(arr, cls=cls)


def _new_factory(fn):
    def m(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)
    return m


METHODS = {
    "new_zeros": _new_factory(zeros), "new_ones": _new_factory(ones),
    "new_empty": _new_factory(empty),
    "new_full": lambda self, size, fill_value, *, dtype=None, device=None, requires_grad=False:
        full(size, fill_value, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad),
    "new_tensor": lambda self, data, *, dtype=None, device=None, requires_grad=False:
        tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad),
}
install_methods(METHODS)
