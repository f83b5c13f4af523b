"""Public ops written as composites of other ops: addcmul/addcdiv, softmax/log_softmax,
relu, closeness tests (isclose, allclose, equal).

Gradients come from the ops they are written with. Where autograd has nothing to record,
the hot ones (softmax, relu, the in-place addc* that optimizers call every step) compute
with NumPy directly: same values, a fraction of the per-call cost.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import normalize_dim
from ...runtime.autograd import STATE
from ..tensor import Tensor, _wrap, install_methods
from . import elementwise as E
from .inplace import check_inplace, inplace

__all__ = ["addcmul", "addcdiv", "softmax", "log_softmax", "relu", "relu_", "sigmoid_",
           "tanh_", "isclose", "allclose", "equal"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)
_LOW = frozenset((D.float16.np, D.bfloat16.np))
_FAST_NP = frozenset((np.dtype(np.float32), np.dtype(np.float64)))
_ndarray = np.ndarray
_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "float16": "Half", "bfloat16": "BFloat16",
                "float32": "Float", "float64": "Double"}


def _torch_name(dt):
    return _TORCH_NAMES[_NP2DT[dt].name]


def _recording(*ts):
    """True when autograd would record an op on these tensors (or a base they view), or a
    tracer records every op."""
    if STATE.tracer is not None:
        return True
    if not STATE.enabled:
        return False
    for t in ts:
        if t._requires_grad or (t._base is not None and t._base._requires_grad):
            return True
    return False


def _plain(*ts):
    """No autograd record needed and eager NumPy storage: the NumPy fast path applies."""
    return not _recording(*ts) and all(type(t._data) is _ndarray for t in ts)


def _require_tensor(op, name, pos, v):
    if not isinstance(v, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(v).__name__}")


# ------------------------------------------------------------------ addcmul / addcdiv

def _result_dtype(*ts):
    dims = [_NP2DT[t._data.dtype] for t in ts if t._data.ndim]
    zeros = [_NP2DT[t._data.dtype] for t in ts if not t._data.ndim]
    return D.result_type_of(dims, zeros, ())


def _addc_check(op, input, t1, t2):
    for name, v, pos in (("input", input, 1), ("tensor1", t1, 2), ("tensor2", t2, 3)):
        _require_tensor(op, name, pos, v)
    dt = _result_dtype(input, t1, t2)
    if dt is D.bool_:
        raise NotImplementedError(f"\"{op}_cpu_out\" not implemented for 'Bool'")
    if op == "addcdiv" and t1.dtype.category != D.FLOAT and t2.dtype.category != D.FLOAT:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to("
            "input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    return dt


def _addc(op, input, t1, t2, value):
    dt = _addc_check(op, input, t1, t2)
    # half types compute in float32 and round once, as PyTorch's CPU kernels do
    work = D.float32 if dt.np in _LOW else dt
    a, b, c = (E._cast(t, work) for t in (input, t1, t2))
    v = E._scalar(value, work, op)  # the value is cast to the result type (int: truncated)
    prod = (b * v if value != 1 else b)
    prod = prod * c if op == "addcmul" else prod / c
    return E._cast(a + prod, dt)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    return E._out(_addc("addcmul", input, tensor1, tensor2, value), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    return E._out(_addc("addcdiv", input, tensor1, tensor2, value), out)


def _addc_inplace(op):
    name = op + "_"
    np_fn = np.multiply if op == "addcmul" else np.divide

    def method(self, tensor1, tensor2, *, value=1):
        sd = self._data
        if (_plain(self, tensor1, tensor2) and sd.dtype in _FAST_NP
                and tensor1._data.dtype == sd.dtype and tensor2._data.dtype == sd.dtype):
            # optimizer hot path: NumPy in place, no autograd bookkeeping
            check_inplace(self, name)
            b, c = tensor1._data, tensor2._data
            if value == 1:
                prod = np_fn(b, c)
            else:  # (value * t1) op t2, PyTorch's order of operations
                prod = np.multiply(b, sd.dtype.type(value))
                reuse = prod.shape == np.broadcast_shapes(prod.shape, c.shape)
                prod = np_fn(prod, c, out=prod if reuse else None)
            if prod.shape != sd.shape and np.broadcast_shapes(prod.shape, sd.shape) != sd.shape:
                raise RuntimeError(f"{name}: output with shape {list(sd.shape)} doesn't match "
                                   f"the broadcast shape "
                                   f"{list(np.broadcast_shapes(prod.shape, sd.shape))}")
            np.add(sd, prod, out=sd)
            self._version[0] += 1
            return self
        return inplace(self, _addc(op, self, tensor1, tensor2, value), name)
    method.__name__ = name
    return method


# ------------------------------------------------------------------ softmax family

def _softmax_np(a, axis, log):
    work = a.astype(np.float32) if a.dtype in _LOW else a
    if work.size == 0:
        return np.empty(a.shape, a.dtype)
    if work.ndim == 0:
        work, axis = work.reshape(1), 0
    with np.errstate(all="ignore"):  # inf - inf is NaN silently, as in PyTorch
        shifted = work - np.max(work, axis=axis, keepdims=True)
        e = np.exp(shifted)
        total = np.sum(e, axis=axis, keepdims=True)
        if log:
            r = np.subtract(shifted, np.log(total), out=shifted)
        else:
            r = np.divide(e, total, out=e)
    return r.reshape(a.shape).astype(a.dtype, copy=False)


def _softmax_ops(x, d, log):
    from .reduction import amax
    work = x.float() if x._data.dtype in _LOW else x
    # the shift cancels in the value, so it is a constant for autograd
    shifted = work - amax(work.detach(), d, keepdim=True)
    e = shifted.exp()
    total = e.sum(d, keepdim=True)
    r = shifted - total.log() if log else e / total
    return r.to(x.dtype) if r._data.dtype != x._data.dtype else r


def _softmax_family(name, log):
    def fn(input, dim, dtype=None, *, out=None):
        x = input if dtype is None else input.to(dtype)
        dt = x._data.dtype
        d = normalize_dim(dim, x._data.ndim, name)
        if dt not in _FLOAT_NP:
            last = "lastdim_" if d == x._data.ndim - 1 or x._data.ndim == 0 else ""
            raise NotImplementedError(f"\"{name}_{last}kernel_impl\" not implemented for "
                                      f"'{_torch_name(dt)}'")
        if _plain(x):
            return E._out(_wrap(_softmax_np(x._data, d, log)), out)
        if x._data.size == 0:
            return E._out(x.clone(), out)
        return E._out(_softmax_ops(x, d, log), out)
    fn.__name__ = name
    return fn


softmax = _softmax_family("softmax", False)
log_softmax = _softmax_family("log_softmax", True)


# ------------------------------------------------------------------ relu and friends

def _relu_check(x):
    if x._data.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")


def relu(input):
    _relu_check(input)
    if _plain(input):
        return _wrap(np.maximum(input._data, input._data.dtype.type(0)))
    # `<= 0` is False for NaN, so NaN passes through (and gets the gradient), as in PyTorch
    return E.where(input <= 0, 0, input)


def relu_(input):
    _relu_check(input)
    if _plain(input):
        check_inplace(input, "relu_")
        np.maximum(input._data, input._data.dtype.type(0), out=input._data)
        input._version[0] += 1
        return input
    return inplace(input, relu(input), "relu_")


def sigmoid_(input):
    return input.sigmoid_()


def tanh_(input):
    return input.tanh_()


# ------------------------------------------------------------------ closeness

def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    _require_tensor("isclose", "input", 1, input)
    _require_tensor("isclose", "other", 2, other)
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"{_torch_name(input._data.dtype)} did not match "
                           f"{_torch_name(other._data.dtype)}")
    for name, v in (("rtol", rtol), ("atol", atol)):
        if v < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {v}")
    a, b = input.detach(), other.detach()
    close = a == b
    floating = a._data.dtype in _FLOAT_NP
    if equal_nan and floating:
        close = close | (a.isnan() & b.isnan())
    if rtol == 0 and atol == 0:
        return close
    if not floating:  # integers compare as floats (unsigned differences must not wrap)
        a, b = a.to(D.get_default_dtype()), b.to(D.get_default_dtype())
    # the same operations as PyTorch, so the tolerance is computed in the same dtype
    allowed = (b * rtol).abs() + atol
    actual = (a - b).abs()
    return close | (E.isfinite(actual) & (actual <= allowed))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other):
    _require_tensor("equal", "input", 1, input)
    _require_tensor("equal", "other", 2, other)
    if input._data.shape != other._data.shape:
        return False
    return bool((input.detach() == other.detach()).all())


METHODS = {n: globals()[n] for n in ("addcmul", "addcdiv", "softmax", "log_softmax", "relu",
                                      "relu_", "isclose", "allclose", "equal")}
METHODS["addcmul_"] = _addc_inplace("addcmul")
METHODS["addcdiv_"] = _addc_inplace("addcdiv")
install_methods(METHODS)
