"""Public ops: reductions (sum, mean, max, var, norm, logsumexp, ...) and scans (cumsum, cumprod).

Primitives: sum, prod, amax, amin, argmax, argmin, any, all, cumsum, cumprod. Everything
else is a composite of public ops, so autograd comes from the primitives' rules. Where no
gradient can be needed, a few composites (var/std, norm, logsumexp) compute their value
directly with NumPy: same result, a fraction of the per-call overhead.

`max/min(input, dim)` return (values, indices): indices come from argmax/argmin; values
from amax/amin when no gradient is needed, otherwise by selecting input at the indices
(where(arange == index, input, 0).sum(dim)), so the whole gradient goes to the chosen
element as in PyTorch (amax's own rule splits it among ties instead).
"""
from __future__ import annotations

import builtins
import functools
import inspect
import math
from collections import namedtuple

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import normalize_dim
from ...runtime.autograd import STATE
from ..dispatch import dispatch
from ..tensor import Tensor, _wrap, constant, install_methods, opaque

__all__ = ["sum", "mean", "nansum", "nanmean", "prod", "max", "min", "amax", "amin", "argmax",
           "argmin", "aminmax", "var", "std", "var_mean", "std_mean", "norm", "logsumexp",
           "cumsum", "cumprod", "any", "all", "count_nonzero", "median", "nanmedian"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_LOW = (D.float16.np, D.bfloat16.np)
# bfloat16's NumPy kind is "V", so floatness is a set lookup, not dtype.kind == "f"
_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)


def _return_type(name, fields):
    cls = namedtuple(name, fields)
    cls.__module__ = "ember.return_types"
    cls.__repr__ = lambda s: (f"ember.return_types.{name}(\n" +
                              ",\n".join(f"{f}={v!r}" for f, v in zip(fields, s)) + ")")
    return cls


_MAX = _return_type("max", ["values", "indices"])
_MIN = _return_type("min", ["values", "indices"])
_MEDIAN = _return_type("median", ["values", "indices"])
_NANMEDIAN = _return_type("nanmedian", ["values", "indices"])
_AMINMAX = _return_type("aminmax", ["min", "max"])


# ------------------------------------------------------------------ helpers

def _dims(dim, ndim, op):
    """dim argument -> sorted tuple of non-negative dims, or None for all."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (normalize_dim(int(dim), ndim, op),)
    if len(dim) == 0:
        return None
    out = tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
    if len(out) != len(dim):
        raise RuntimeError(f"{op}: dim {tuple(dim)} appears multiple times in the list of dims")
    return out


def _reduce(op, x, dims, keepdim):
    if dims is None:
        if keepdim and x._data.ndim:
            return dispatch(op, x, dims=tuple(range(x._data.ndim)), keepdim=True)
        return dispatch(op, x)
    return dispatch(op, x, dims=dims, keepdim=keepdim)


def _count(x, dims):
    shape = x._data.shape
    if dims is None or not shape:
        return x._data.size
    n = 1
    for d in dims:
        n *= shape[d]
    return n


def _needs_grad(x):
    # while tracing, the recorded (differentiable) composites replace the NumPy fast paths
    return (STATE.enabled and x._requires_grad) or STATE.tracer is not None


def _axis(x, dims):
    return None if dims is None or x._data.ndim == 0 else dims


def _float_only(x, op, msg=None):
    dt = x._data.dtype
    if dt not in _FLOAT_NP:
        raise RuntimeError(msg or (f"{op}(): could not infer output dtype. Input dtype must be "
                                   f"either a floating point or complex dtype. Got: "
                                   f"{_NP2DT[dt].name.capitalize()}"))


def _with_dtype(x, dtype):
    return x if dtype is None else x.to(dtype)


def _as_dtype(r, dtype):
    """An explicit dtype= is the result dtype too (ints would otherwise widen to int64)."""
    return r if dtype is None else r.to(dtype)


# ------------------------------------------------------------------ sums and means

def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    if dim is None and dtype is None and not keepdim:  # the common x.sum(): no arg handling
        return dispatch("sum", input)
    x = _with_dtype(input, dtype)
    return _as_dtype(_reduce("sum", x, _dims(dim, x._data.ndim, "sum"), keepdim), dtype)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = _with_dtype(input, dtype)
    if x._data.dtype in _FLOAT_NP:
        from .elementwise import where, isnan
        x = where(isnan(x), 0, x)
    return _as_dtype(_reduce("sum", x, _dims(dim, x._data.ndim, "nansum"), keepdim), dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    x = _with_dtype(input, dtype)
    _float_only(x, "mean")
    dims = _dims(dim, x._data.ndim, "mean")
    dt = x._data.dtype
    if dt in _LOW:  # accumulate and divide in float32, round once (as torch)
        return (_reduce("sum", x.float(), dims, keepdim) / _count(x, dims)).to(_NP2DT[dt])
    return _reduce("sum", x, dims, keepdim) / _count(x, dims)


def nanmean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    from .elementwise import isnan, logical_not
    x = _with_dtype(input, dtype)
    _float_only(x, "nanmean", f"nanmean(): expected input to have floating point dtype but got "
                              f"{_NP2DT[x._data.dtype].name.capitalize()}")
    dims = _dims(dim, x._data.ndim, "nanmean")
    n = _reduce("sum", logical_not(isnan(x)), dims, keepdim)
    return nansum(x, dim, keepdim) / n


def prod(input, dim=None, keepdim=False, *, dtype=None):
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    x = _with_dtype(input, dtype)
    return _as_dtype(_reduce("prod", x, _dims(dim, x._data.ndim, "prod"), keepdim), dtype)


def count_nonzero(input, dim=None):
    from .elementwise import ne
    return _reduce("sum", ne(input, 0), _dims(dim, input._data.ndim, "count_nonzero"), False)


# ------------------------------------------------------------------ extremes

def amax(input, dim=(), keepdim=False, *, out=None):
    return _reduce("amax", input, _dims(dim, input._data.ndim, "amax"), keepdim)


def amin(input, dim=(), keepdim=False, *, out=None):
    return _reduce("amin", input, _dims(dim, input._data.ndim, "amin"), keepdim)


def _arg(op):
    def fn(input, dim=None, keepdim=False):
        if dim is None:
            if keepdim and input._data.ndim:
                r = dispatch(op, input)
                return r.reshape((1,) * input._data.ndim)
            return dispatch(op, input)
        return dispatch(op, input, dims=(normalize_dim(dim, input._data.ndim, op),),
                        keepdim=keepdim)
    fn.__name__ = op
    return fn


def _no_bool(fn):
    def checked(input, dim=None, keepdim=False):
        if input._data.dtype == np.bool_:
            raise RuntimeError(f"{fn.__name__}(): \"{fn.__name__}_cpu\" not implemented for 'Bool'")
        return fn(input, dim, keepdim)
    checked.__name__ = fn.__name__
    return checked


argmax = _no_bool(_arg("argmax"))
argmin = _no_bool(_arg("argmin"))


def _select(x, idx_keep, d, keepdim):
    """x's elements at idx_keep (indices with keepdim) along d, differentiably."""
    from .elementwise import where, eq
    if x._data.ndim == 0:
        return x.clone()
    n = x._data.shape[d]
    shape = [1] * x._data.ndim
    shape[d] = n
    pos = constant(_wrap(np.arange(n, dtype=np.int64).reshape(shape)))
    return _reduce("sum", where(eq(pos, idx_keep), x, 0), (d,), keepdim)


def _extreme_dim(x, dim, keepdim, val_op, idx_op, result_cls):
    nd = x._data.ndim
    d = normalize_dim(dim, nd, val_op)
    if not _needs_grad(x):
        return result_cls(dispatch(val_op, x, dims=(d,), keepdim=keepdim),
                          dispatch(idx_op, x, dims=(d,), keepdim=keepdim))
    idx = dispatch(idx_op, x, dims=(d,), keepdim=True)
    values = _select(x, idx, d, keepdim)
    if not keepdim and nd:
        idx = idx.reshape(values._data.shape)
    return result_cls(values, idx)


def _extreme(name, val_op, idx_op, binary, result_cls):
    def fn(input, dim=None, keepdim=False, *, out=None):
        if isinstance(dim, Tensor):
            return binary(input, dim)
        if dim is None:
            if input._data.size == 0:
                raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                                   f"input.numel() == 0. Specify the reduction dim with the "
                                   f"'dim' argument.")
            return dispatch(val_op, input)
        return _extreme_dim(input, dim, keepdim, val_op, idx_op, result_cls)
    fn.__name__ = name
    return fn


def _maximum(a, b):
    from .elementwise import maximum
    return maximum(a, b)


def _minimum(a, b):
    from .elementwise import minimum
    return minimum(a, b)


max = _extreme("max", "amax", "argmax", _maximum, _MAX)
min = _extreme("min", "amin", "argmin", _minimum, _MIN)


def aminmax(input, *, dim=None, keepdim=False):
    if dim is None and input._data.size == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    dims = None if dim is None else _dims(dim, input._data.ndim, "aminmax")
    return _AMINMAX(_reduce("amin", input, dims, keepdim), _reduce("amax", input, dims, keepdim))


# ------------------------------------------------------------------ median

def _median_indices(a, axis, ignore_nan):
    """Index of the lower median along axis (NaN wins unless ignore_nan, as torch)."""
    nan = np.isnan(a) if a.dtype in _FLOAT_NP else None
    order = np.argsort(a, axis=axis, kind="stable")  # NaNs sort last
    if nan is not None and ignore_nan:
        k = (a.shape[axis] - nan.sum(axis=axis, keepdims=True) - 1) // 2
        k = np.maximum(k, 0)
    else:
        k = np.full([1 if i == axis else s for i, s in enumerate(a.shape)],
                    (a.shape[axis] - 1) // 2)
    idx = np.take_along_axis(order, k, axis=axis)
    if nan is not None and not ignore_nan:
        has = nan.any(axis=axis, keepdims=True)
        idx = np.where(has, np.argmax(nan, axis=axis, keepdims=True), idx)
    return idx.astype(np.int64)


def _median_dim(x, dim, keepdim, ignore_nan, cls, name):
    a = x._data
    if a.ndim == 0:
        return cls(x.clone(), constant(_wrap(np.zeros((), np.int64))))
    d = normalize_dim(dim, a.ndim, name)
    if a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if STATE.tracer is not None:
        return _median_traced(x, d, keepdim, ignore_nan, cls)
    idx = _median_indices(a, d, ignore_nan)
    if _needs_grad(x):
        values = _select(x, constant(_wrap(idx)), d, keepdim)
    else:
        v = np.take_along_axis(a, idx, axis=d)
        values = constant(_wrap(v if keepdim else np.squeeze(v, d)))
    return cls(values, constant(_wrap(idx if keepdim else np.squeeze(idx, d))))


def _median_traced(x, d, keepdim, ignore_nan, cls):
    """The same lower median through the sort primitive, so a graph can hold it: the
    (n-1)//2-th of the stably sorted values (NaNs sort last; without ignore_nan a NaN wins,
    with its first index)."""
    from .elementwise import isnan, where
    n = x._data.shape[d]
    vals, idx = dispatch("sort", x, dim=d, descending=False, stable=True)
    nan = isnan(x) if x._data.dtype in _FLOAT_NP else None
    if ignore_nan and nan is not None:
        count = _reduce("sum", nan, (d,), True)
        k = ((n - count - 1) // 2).clamp_min(0)
    else:
        k = constant(_wrap(np.full(_kept(x.shape, d), (n - 1) // 2, np.int64)))
    values, indices = vals.gather(d, k), idx.gather(d, k)
    if not ignore_nan and nan is not None:
        has = _reduce("any", nan, (d,), True)
        values = where(has, x._data.dtype.type(np.nan), values)
        indices = where(has, dispatch("argmax", nan, dims=(d,), keepdim=True), indices)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return cls(values, indices)


def _kept(shape, d):
    return tuple(1 if i == d else s for i, s in enumerate(shape))


def _median(name, ignore_nan, cls):
    def fn(input, dim=None, keepdim=False):
        if dim is None:
            if input._data.size == 0:
                return constant(_wrap(np.full((), np.nan, input._data.dtype)))
            return _median_dim(input.reshape(-1), 0, False, ignore_nan, cls, name).values
        return _median_dim(input, dim, keepdim, ignore_nan, cls, name)
    fn.__name__ = name
    return fn


median = _median("median", False, _MEDIAN)
nanmedian = _median("nanmedian", True, _NANMEDIAN)


# ------------------------------------------------------------------ variance

def _correction(unbiased, correction):
    if correction is not None:
        if unbiased is not None:
            raise RuntimeError("var/std: cannot specify both unbiased and correction")
        return correction
    return 1 if unbiased is None or unbiased else 0


def _var_parts(name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(input, unbiased) overload
        unbiased, dim = dim, None
    _float_only(input, name, "std and var only support floating point and complex dtypes")
    return _dims(dim, input._data.ndim, name), _correction(unbiased, correction)


def _var_np(x, dims, c, keepdim):
    a = x._data
    work = a.astype(np.float32) if a.dtype in _LOW else a
    with np.errstate(all="ignore"):
        n = _count(x, dims)
        m = np.mean(work, axis=_axis(x, dims), keepdims=True)
        s = np.sum(np.square(work - m), axis=_axis(x, dims), keepdims=keepdim)
        v = s / builtins.max(n - c, 0)
    return np.asarray(v, dtype=a.dtype), np.asarray(m if keepdim else np.reshape(
        m, np.shape(s)), dtype=a.dtype)


def _var(x, dims, c, keepdim):
    """(var, mean) as a composite (for autograd)."""
    m = mean(x, dims, keepdim=True)
    dev = x - m
    v = _reduce("sum", dev * dev, dims, keepdim) / builtins.max(_count(x, dims) - c, 0)
    if not keepdim:
        m = m.reshape(v._data.shape)
    return v, m


def _var_mean(x, dims, c, keepdim):
    if _needs_grad(x):
        return _var(x, dims, c, keepdim)
    v, m = _var_np(x, dims, c, keepdim)
    return _wrap(v), _wrap(m)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    dims, c = _var_parts("var", input, dim, unbiased, keepdim, correction)
    return _var_mean(input, dims, c, keepdim)[0]


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    dims, c = _var_parts("std", input, dim, unbiased, keepdim, correction)
    return _var_mean(input, dims, c, keepdim)[0].sqrt()


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    dims, c = _var_parts("var_mean", input, dim, unbiased, keepdim, correction)
    return _var_mean(input, dims, c, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None, out=None):
    dims, c = _var_parts("std_mean", input, dim, unbiased, keepdim, correction)
    v, m = _var_mean(input, dims, c, keepdim)
    return v.sqrt(), m


# ------------------------------------------------------------------ norms and logsumexp

def _safe_root(s, p):
    """s ** (1/p) with gradient 0 where s == 0 (PyTorch's norm backward convention)."""
    from .elementwise import where
    zero = s == 0
    if STATE.tracer is None and not zero._data.any():  # a trace must hold for any data
        return s.sqrt() if p == 2 else s ** (1.0 / p)
    safe = where(zero, 1.0, s)
    return where(zero, 0.0, safe.sqrt() if p == 2 else safe ** (1.0 / p))


def _norm_np(a, p, axis, keepdim):
    work = np.abs(a.astype(np.float32) if a.dtype in _LOW else a)
    with np.errstate(all="ignore"):
        if p == math.inf:
            r = np.max(work, axis=axis, keepdims=keepdim)
        elif p == -math.inf:
            r = np.min(work, axis=axis, keepdims=keepdim)
        elif p == 0:
            r = np.sum(work != 0, axis=axis, keepdims=keepdim)
        elif p == 1:
            r = np.sum(work, axis=axis, keepdims=keepdim)
        elif p == 2:
            r = np.sqrt(np.sum(work * work, axis=axis, keepdims=keepdim))
        else:
            r = np.sum(work ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)
    return np.asarray(r, dtype=a.dtype)


def _norm_ops(x, p, dims, keepdim):
    ax = x.abs()
    if p == math.inf:
        return _reduce("amax", ax, dims, keepdim)
    if p == -math.inf:
        return _reduce("amin", ax, dims, keepdim)
    if p == 0:
        return _reduce("sum", (x != 0).to(x.dtype), dims, keepdim)
    if p == 1:
        return _reduce("sum", ax, dims, keepdim)
    if p == 2:
        return _safe_root(_reduce("sum", x * x, dims, keepdim), 2)
    return _safe_root(_reduce("sum", ax ** p, dims, keepdim), p)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    if input._data.dtype not in _FLOAT_NP:
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_NP2DT[input._data.dtype].name.capitalize()}")
    x = _with_dtype(input, dtype)
    if isinstance(p, str):
        if p == "nuc":
            from .decomp import matrix_norm
            nd = input._data.ndim
            return matrix_norm(input, "nuc", tuple(range(nd)) if dim is None else dim, keepdim,
                               dtype=dtype)
        if p != "fro":
            raise RuntimeError(f"norm: p={p!r} is not supported; use 'fro' or a number")
        p = 2
    dims = _dims(dim, x._data.ndim, "norm")
    if (p in (math.inf, -math.inf)) and builtins.any(
            x._data.shape[d] == 0 for d in (range(x._data.ndim) if dims is None else dims)):
        raise IndexError("linalg.vector_norm cannot compute the inf norm on an empty tensor "
                         "because the operation does not have an identity")
    if _needs_grad(x):
        return _norm_ops(x, p, dims, keepdim)
    r = _norm_np(x._data, p, _axis(x, dims), keepdim)
    if keepdim and dims is None and x._data.ndim:
        r = r.reshape((1,) * x._data.ndim)
    return _wrap(r)


def logsumexp(input, dim, keepdim=False, *, out=None):
    from .elementwise import where, isinf
    x = input if input._data.dtype in _FLOAT_NP else input.to(D.get_default_dtype())
    dims = _dims(dim, x._data.ndim, "logsumexp")
    if x._data.size == 0:
        return _reduce("sum", x, dims, keepdim).log()
    if not _needs_grad(x):
        a = x._data
        work = a.astype(np.float32) if a.dtype in _LOW else a
        ax = _axis(x, dims)
        with np.errstate(all="ignore"):
            m = np.max(work, axis=ax, keepdims=True)
            m = np.where(np.isinf(m), 0, m)
            r = np.log(np.sum(np.exp(work - m), axis=ax, keepdims=True)) + m
        if not keepdim:
            r = r.reshape([s for i, s in enumerate(a.shape)
                           if not (dims is None or i in dims)])
        return _wrap(np.asarray(r, dtype=a.dtype))
    # the shift is a constant: it cancels in the value, so no gradient flows through it
    m = _reduce("amax", x.detach(), dims, True)
    m = where(isinf(m), 0.0, m)
    r = _reduce("sum", (x - m).exp(), dims, True).log() + m
    if not keepdim:
        r = r.reshape(tuple(s for i, s in enumerate(x._data.shape)
                            if not (dims is None or i in dims)))
    return r


# ------------------------------------------------------------------ scans

def _scan(op):
    def fn(input, dim, *, dtype=None, out=None):
        x = _with_dtype(input, dtype)
        return _as_dtype(dispatch(op, x, dim=normalize_dim(dim, x._data.ndim, op)), dtype)
    fn.__name__ = op
    return fn


cumsum = _scan("cumsum")
cumprod = _scan("cumprod")


# ------------------------------------------------------------------ any / all

def _logical(op):
    def fn(input, dim=None, keepdim=False, *, out=None):
        r = _reduce(op, input, _dims(dim, input._data.ndim, op), keepdim)
        # uint8 in, uint8 out: PyTorch keeps this for backward compatibility
        return r.to(D.uint8) if input._data.dtype == np.uint8 else r
    fn.__name__ = op
    return fn


any = _logical("any")
all = _logical("all")


def sum_to_size(self, *size):
    """Sum broadcast dimensions away so the result has `size` (inverse of expand)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = self._data.shape
    lead = len(shape) - len(size)
    dims = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(size)
                                       if d == 1 and shape[i + lead] != 1)
    r = dispatch("sum", self, dims=dims, keepdim=True) if dims else self
    return r.reshape(tuple(size)) if tuple(r._data.shape) != tuple(size) else r


def _inplace_scan(fn, name):
    def m(self, dim, *, dtype=None):
        from .inplace import inplace
        return inplace(self, fn(self, dim, dtype=dtype), name)
    m.__name__ = name
    return m


def _honour_out(fn):
    """fn(..., out=t) writes the result into t (resized as needed) and returns it; a
    (values, indices)-style result writes into a tuple of outs."""
    @functools.wraps(fn)
    def w(*args, out=None, **kwargs):
        r = fn(*args, **kwargs)
        if out is None:
            return r
        from .elementwise import _out
        if isinstance(r, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(r):
                raise TypeError(f"{fn.__name__}(): out= must be a tuple of {len(r)} Tensors")
            return type(r)(*(_out(a, o) for a, o in zip(r, out)))
        return _out(r, out)
    return w


METHODS = {n: globals()[n] for n in __all__}
for _n in __all__:
    if "out" in inspect.signature(globals()[_n]).parameters:
        globals()[_n] = _honour_out(globals()[_n])
METHODS.update({"sum_to_size": sum_to_size,
                "cumsum_": _inplace_scan(cumsum, "cumsum_"),
                "cumprod_": _inplace_scan(cumprod, "cumprod_")})
install_methods(METHODS)
