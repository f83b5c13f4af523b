"""Public ops: sort, argsort, msort, topk, kthvalue, unique, unique_consecutive.

sort/topk/unique are extern primitives; results are namedtuples like torch.return_types.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ...ir.ops import normalize_dim
from ..dispatch import dispatch
from ...runtime.autograd import STATE
from ..tensor import Tensor, _wrap, constant, install_methods, opaque

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive"]

_sort_t = namedtuple("sort", ["values", "indices"])
_topk_t = namedtuple("topk", ["values", "indices"])
_kth_t = namedtuple("kthvalue", ["values", "indices"])


def _dim(input, dim, op):
    return normalize_dim(dim, input._data.ndim, op)


def sort(input, dim=-1, descending=False, stable=False, *, out=None):
    d = _dim(input, dim, "sort")
    v, i = dispatch("sort", input, dim=d, descending=bool(descending), stable=bool(stable))
    return _result(_sort_t, v, i, out)


def _result(cls, v, i, out):
    if out is not None:
        from .creation import _write_out
        _write_out(out[0], v._data)
        _write_out(out[1], i._data)
        v, i = out
    return cls(v, i)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def msort(input, *, out=None):
    r = sort(input, 0).values
    if out is not None:
        from .creation import _write_out
        return _write_out(out, r._data)
    return r


def topk(input, k, dim=-1, largest=True, sorted=True, *, out=None):
    d = _dim(input, dim, "topk")
    n = input._data.shape[d] if input._data.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k out of range (k={k}, size of dimension {d} "
                           f"is {n})")
    v, i = dispatch("topk", input, k=int(k), dim=d, largest=bool(largest), sorted=bool(sorted))
    return _result(_topk_t, v, i, out)


def kthvalue(input, k, dim=-1, keepdim=False, *, out=None):
    """The k-th smallest along dim: the last of topk(k, largest=False), picked with a
    narrow so it stays differentiable."""
    d = _dim(input, dim, "kthvalue")
    n = input._data.shape[d] if input._data.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if input._data.ndim == 0:
        return _result(_kth_t, input.clone(), constant(_wrap(np.zeros((), np.int64))), out)
    v, i = topk(input, k, d, largest=False)
    shape = list(v._data.shape)
    starts = [0] * len(shape)
    starts[d] = k - 1
    pick = {"starts": tuple(starts), "stops": tuple(shape), "steps": (1,) * len(shape)}
    tracing = STATE.tracer is not None
    v = dispatch("slice", v, **pick) if v._requires_grad or tracing else \
        _wrap(np.take(v._data, [k - 1], axis=d))
    i = dispatch("slice", i, **pick) if tracing else _wrap(np.take(i._data, [k - 1], axis=d))
    if not keepdim:
        shape[d:d + 1] = []
        v, i = v.reshape(tuple(shape)), i.reshape(tuple(shape))
    return _result(_kth_t, v, i, out)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    if dim is not None:
        dim = _dim(input, dim, "unique")
    vals, inv, cnt = dispatch("unique", input.detach(), sorted=bool(sorted), dim=dim)
    res = (vals,) + ((inv,) if return_inverse else ()) + ((cnt,) if return_counts else ())
    return res[0] if len(res) == 1 else res


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal elements (or equal slices along dim)."""
    x = input._data
    if dim is None:
        flat = x.reshape(-1)
        change = np.empty(flat.shape[0], bool)
        if flat.size:
            change[0] = True
            change[1:] = flat[1:] != flat[:-1]
        vals = flat[change]
        inv_shape = x.shape
    else:
        d = _dim(input, dim, "unique_consecutive")
        moved = np.moveaxis(x, d, 0).reshape(x.shape[d], -1)
        change = np.empty(moved.shape[0], bool)
        if moved.shape[0]:
            change[0] = True
            change[1:] = (moved[1:] != moved[:-1]).any(axis=1)
        vals = np.compress(change, x, axis=d)
        inv_shape = (x.shape[d],)
    inv = (np.cumsum(change) - 1).astype(np.int64).reshape(inv_shape)
    starts = np.flatnonzero(change)
    cnt = np.diff(np.append(starts, change.shape[0])).astype(np.int64)
    res = (_wrap(np.ascontiguousarray(vals)),) + ((_wrap(inv),) if return_inverse else ()) + \
        ((_wrap(cnt),) if return_counts else ())
    opaque("unique_consecutive", [input], res)
    return res[0] if len(res) == 1 else res


METHODS = {
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue,
    "unique": unique, "unique_consecutive": unique_consecutive,
}
install_methods(METHODS)
