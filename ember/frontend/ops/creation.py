"""Creation ops: tensor, as_tensor, zeros/ones/full/empty (+_like), arange, linspace,
logspace, eye, and the legacy `Tensor(...)` constructor."""
from __future__ import annotations

import builtins
import math
from itertools import chain

import ml_dtypes
import numpy as np

from ...ir import dtypes as D
from ...runtime.autograd import STATE
from ..dispatch import dispatch
from ..tensor import Tensor, _wrap, constant, install_methods

__all__ = ["tensor", "as_tensor", "asarray", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "full_like", "empty_like", "arange", "range", "linspace", "logspace", "eye",
           "empty_strided", "scalar_tensor"]


def _check_device(device, op):
    if device is not None and str(device).split(":")[0] != "cpu":
        from ...cuda import _unavailable
        _unavailable(op)


def _scan(data, infer=True):
    """One walk over nested Python data, a level at a time: raises for ragged nesting and
    returns PyTorch's dtype for it (when `infer`): each leaf has a dtype (bool -> bool,
    int -> int64, float -> the default float, a NumPy scalar or array its own) and the
    result is their promotion (promote_types: [np.float16(1), 2] is float16,
    [np.int32(1), 2.5] the default float). None when the data holds Tensors."""
    found = set()
    if not isinstance(data, (list, tuple)):
        found.add(type(data))
        level = ()
    else:
        level = [data]   # the sequences at one depth
    while level:
        _check_lengths(set(map(len, level)))
        items = list(chain.from_iterable(level))
        kinds = set(map(type, items))   # the types at this depth, at C speed
        roles = {_role(k) for k in kinds}
        level = ()
        if roles == {"leaf"}:
            found |= kinds
        elif roles == {"seq"}:
            level = items
        elif "tensor" in roles:
            return None
        else:   # a mix (lists beside NumPy arrays or scalars): item by item
            _check_lengths({_length(x) for x in items})
            level = [x for x in items if isinstance(x, (list, tuple))]
            for x in items:
                if isinstance(x, np.ndarray):
                    found.add(x.dtype)
                elif not isinstance(x, (list, tuple)):
                    found.add(type(x))
    if not infer:
        return None
    result = D.get_default_dtype() if not found else None
    for kind in found:
        d = _leaf_dtype(kind)
        result = d if result is None else D.promote_types(result, d)
    return result


_ROLES = {list: "seq", tuple: "seq"}


def _role(kind):
    r = _ROLES.get(kind)
    if r is None:
        r = ("seq" if issubclass(kind, (list, tuple)) else "array" if issubclass(kind, np.ndarray)
             else "tensor" if issubclass(kind, Tensor) else "leaf")
        _ROLES[kind] = r
    return r


def _check_lengths(lens):
    if len(lens) > 1:
        raise ValueError(f"tensor(): expected sequence of equal-length lists, got lengths "
                         f"{sorted(lens)}")


def _length(x):
    """Length of a nested sequence level (NumPy arrays in the list count), -1 for a leaf."""
    if isinstance(x, (list, tuple)):
        return len(x)
    if isinstance(x, np.ndarray) and x.ndim:
        return len(x)
    return -1


def _leaf_dtype(kind):
    """The dtype of one kind of leaf: a Python or NumPy scalar type, or an array dtype."""
    if kind is float:
        return D.get_default_dtype()
    if kind is int:
        return D.int64
    if kind is bool:
        return D.bool_
    if isinstance(kind, np.dtype) or issubclass(kind, (np.generic, ml_dtypes.bfloat16)):
        return D.from_numpy_dtype(np.dtype(kind))
    for py in (bool, int, float):   # subclasses of the Python number types
        if issubclass(kind, py):
            return _leaf_dtype(py)
    raise TypeError(f"tensor(): could not infer dtype of {kind.__name__}")


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        if STATE.tracer is not None:  # copying a traced value into a new constant
            STATE.tracer.concretize(data, "ember.tensor() of a tensor")
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        arr = np.array([_to_array(x, None) for x in data])
    else:
        inferred = _scan(data, infer=dtype is None)
        return np.array(data, dtype=(dtype or inferred or D.get_default_dtype()).np)
    if dtype is not None and arr.dtype != dtype.np:
        arr = arr.astype(dtype.np)
    return arr


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    _check_device(device, "tensor")
    dtype = None if dtype is None else D.to_dtype(dtype)
    if isinstance(data, np.generic) and dtype is None:
        data = np.asarray(data)  # a NumPy scalar keeps its dtype, as in PyTorch
    if isinstance(data, np.ndarray) and dtype is None:
        D.from_numpy_dtype(data.dtype)
    arr = _to_array(data, dtype)
    arr = np.array(arr, copy=True, order="C")
    if arr.dtype not in _NP_OK:
        arr = arr.astype(D.from_numpy_dtype(arr.dtype).np)
    t = constant(_wrap(arr))
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
        return constant(_wrap(data))
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


def _finish(arr, requires_grad, out=None):
    if out is not None:
        return _write_out(out, arr)
    t = constant(_wrap(arr))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    _check_device(device, "zeros")
    dtype = out.dtype if out is not None and dtype is None else dtype
    return _finish(np.zeros(_shape(size), _dtype_or_default(dtype).np), requires_grad, out)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, pin_memory=False):
    _check_device(device, "ones")
    dtype = out.dtype if out is not None and dtype is None else dtype
    return _finish(np.ones(_shape(size), _dtype_or_default(dtype).np), requires_grad, out)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None):
    _check_device(device, "empty")
    dtype = out.dtype if out is not None and dtype is None else dtype
    return _finish(np.empty(_shape(size), _dtype_or_default(dtype).np), requires_grad, out)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False):
    _check_device(device, "full")
    if dtype is None:
        dtype = D.scalar_dtype(fill_value) if not isinstance(fill_value, Tensor) else fill_value.dtype
    dtype = D.to_dtype(dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return _finish(np.full(_shape((size,) if isinstance(size, int) else tuple(size)), fill_value,
                           dtype.np), requires_grad, out)


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


def _write_out(out, arr):
    """torch's out=: same dtype required; the result is written (resizing `out` if needed)."""
    from .inplace import check_inplace
    if out._data.dtype != arr.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {D.from_numpy_dtype(arr.dtype)}, "
                           f"but got {out.dtype} instead")
    check_inplace(out, "out=")
    if out._data.shape == arr.shape:
        np.copyto(out._data, arr)
        if STATE.tracer is not None:
            STATE.tracer.write(out, constant(_wrap(arr)))
    else:
        out._data = arr
    out._version[0] += 1
    return out


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False):
    """Shares memory with a Tensor or ndarray when no conversion is needed (copy=None);
    copy=True always copies, copy=False raises when a copy would be required."""
    _check_device(device, "asarray")
    dtype = None if dtype is None else D.to_dtype(dtype)
    if isinstance(obj, (Tensor, np.ndarray)) or hasattr(obj, "__array_interface__"):
        arr = obj._data if isinstance(obj, Tensor) else np.asarray(obj)
        same = dtype is None or arr.dtype == dtype.np
        if copy is False and not same:
            raise ValueError(f"asarray: can't satisfy copy=False: converting {arr.dtype} to "
                             f"{dtype} requires a copy")
        if same and not copy:
            if isinstance(obj, Tensor):
                t = obj if not requires_grad else obj.detach()
            else:
                D.from_numpy_dtype(arr.dtype)
                t = constant(_wrap(arr))
            if requires_grad:
                t.requires_grad_(True)
            return t
        return tensor(arr if same else arr.astype(dtype.np), dtype=dtype, requires_grad=requires_grad)
    if copy is False:
        raise ValueError(f"asarray: can't satisfy copy=False for a {type(obj).__name__}")
    return tensor(obj, dtype=dtype, requires_grad=requires_grad)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=False, requires_grad=False):
    _check_device(device, "scalar_tensor")
    return _finish(np.array(s, _dtype_or_default(dtype).np), requires_grad)


def _num(x):
    """A Python number from a number or a one-element tensor (torch accepts both)."""
    if isinstance(x, Tensor):
        return x.item()
    return x


def _range_dtype(dtype, *vals):
    if dtype is not None:
        return D.to_dtype(dtype)
    if any(isinstance(v, (float, np.floating)) for v in vals):
        return D.get_default_dtype()
    return D.int64


def _range_count(start, end, step, op):
    if step == 0:
        raise RuntimeError(f"{op}: step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"{op}: unsupported range: {start} -> {end}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError(f"{op}: upper bound and larger bound inconsistent with step sign")
    return start, end


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False, pin_memory=False):
    """Values start, start+step, ... below end; size ceil((end-start)/step). All-int
    arguments give int64, any float gives the default float dtype."""
    _check_device(device, "arange")
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    dt = _range_dtype(dtype if dtype is not None or out is None else out.dtype, start, end, step)
    _range_count(start, end, step, "arange")
    if all(isinstance(v, (int, np.integer)) for v in (start, end, step)):
        n = builtins.max(0, -((start - end) // step))
    else:
        n = builtins.max(0, math.ceil((end - start) / step))
    t = dispatch("iota", shape=(n,), dtype=dt, start=start, step=step)
    return _finish(t._data, requires_grad, out)


def _range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Deprecated torch.range: includes `end`; default float dtype."""
    _check_device(device, "range")
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    dt = _dtype_or_default(dtype)
    _range_count(start, end, step, "range")
    n = int(math.floor((end - start) / step)) + 1
    t = dispatch("iota", shape=(n,), dtype=dt, start=start, step=step)
    return _finish(t._data, requires_grad, out)


def _linspace_f64(start, end, steps, op):
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative")
    if steps == 1:
        return np.array([start], np.float64)
    # symmetric formula (as PyTorch): first half from start, second half from end
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1)
    half = steps // 2
    return np.where(i < half, start + i * step, end - (steps - 1 - i) * step)


def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    _check_device(device, "linspace")
    dt = _dtype_or_default(dtype if dtype is not None or out is None else out.dtype)
    v = _linspace_f64(float(_num(start)), float(_num(end)), int(steps), "linspace")
    if dt.category != D.FLOAT:
        v = np.trunc(v)
    return _finish(v.astype(dt.np), requires_grad, out)


def logspace(start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None,
             requires_grad=False):
    _check_device(device, "logspace")
    dt = _dtype_or_default(dtype if dtype is not None or out is None else out.dtype)
    v = np.power(float(base), _linspace_f64(float(_num(start)), float(_num(end)), int(steps),
                                            "logspace"))
    if dt.category != D.FLOAT:
        v = np.trunc(v)
    return _finish(v.astype(dt.np), requires_grad, out)


def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False,
        pin_memory=False):
    _check_device(device, "eye")
    m = n if m is None else m
    if n < 0:
        raise RuntimeError(f"eye: n must be greater or equal to 0, got {n}")
    if m < 0:
        raise RuntimeError(f"eye: m must be greater or equal to 0, got {m}")
    dt = _dtype_or_default(dtype if dtype is not None or out is None else out.dtype)
    return _finish(np.eye(n, m, dtype=dt.np), requires_grad, out)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """Uninitialized storage viewed with the given element strides."""
    _check_device(device, "empty_strided")
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape: "
                           f"{len(size)} vs {len(stride)}")
    dt = _dtype_or_default(dtype)
    extent = 1 + builtins.sum((s - 1) * st for s, st in zip(size, stride)) if 0 not in size else 0
    buf = np.empty(extent, dt.np)
    arr = np.lib.stride_tricks.as_strided(buf, size, tuple(st * dt.itemsize for st in stride),
                                          writeable=True)
    return _finish(arr, requires_grad)


def _legacy_tensor_new(cls, *args, **kwargs):
    """ember.Tensor(2, 3) -> uninitialized float32 (2, 3); ember.Tensor([1, 2]) -> data."""
    if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)) and not (
            isinstance(args[0], tuple) and all(isinstance(a, int) for a in args[0]) and False):
        arr = _to_array(args[0], D.float32)
        t = constant(_wrap(np.array(arr, copy=True), cls=cls))
        return t
    if len(args) == 1 and isinstance(args[0], Tensor):
        return _wrap(args[0]._data, args[0]._version, cls=cls)
    arr = np.zeros(_shape(args), np.float32)
    return constant(_wrap(arr, cls=cls))


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

globals()["range"] = _range   # exported as ember.range; this module itself never calls range()
