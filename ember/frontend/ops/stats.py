"""Public ops: running extrema and order statistics (cummax, cummin, logcumsumexp, mode,
quantile, nanquantile) and binning (histc, bincount, searchsorted, bucketize).

cummax/cummin/logcumsumexp/searchsorted are primitives (autograd/rules/scan.py).
mode and quantile find *which* elements to take without autograd, then take them with
differentiable ops (gather after sort), so gradients reach the chosen elements as in
PyTorch. The binning ops have no gradient and count with NumPy.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import normalize_dim
from ..dispatch import dispatch
from ..tensor import Tensor, _wrap, install_methods
from . import elementwise as E
from .composite import _torch_name
from .reduction import _return_type

__all__ = ["cummax", "cummin", "logcumsumexp", "mode", "quantile", "nanquantile", "histc",
           "bincount", "searchsorted", "bucketize"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)
_LOW = frozenset((D.float16.np, D.bfloat16.np))
_CUMMAX = _return_type("cummax", ["values", "indices"])
_CUMMIN = _return_type("cummin", ["values", "indices"])
_MODE = _return_type("mode", ["values", "indices"])
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _comparable(a):
    """An array NumPy compares and sorts exactly (half types widened)."""
    return a.astype(np.float32) if a.dtype in _LOW else a


# ------------------------------------------------------------------ scans

def cummax(input, dim):
    return _CUMMAX(*dispatch("cummax", input, dim=normalize_dim(dim, input.ndim, "cummax")))


def cummin(input, dim):
    return _CUMMIN(*dispatch("cummin", input, dim=normalize_dim(dim, input.ndim, "cummin")))


def logcumsumexp(input, dim, *, out=None):
    if input._data.dtype not in _FLOAT_NP:
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for "
                                  f"'{_torch_name(input._data.dtype)}'")
    r = dispatch("logcumsumexp", input, dim=normalize_dim(dim, input.ndim, "logcumsumexp"))
    return E._out(r, out)


# ------------------------------------------------------------------ mode

def _mode_indices(a):
    """Per row of a (R, n): index of the most frequent value's last occurrence; among
    equally frequent values the smallest wins (NaNs never equal each other)."""
    R, n = a.shape
    order = np.argsort(a, axis=1, kind="stable")
    s = np.take_along_axis(a, order, 1)
    new_run = np.ones((R, n), bool)
    new_run[:, 1:] = s[:, 1:] != s[:, :-1]
    run = np.cumsum(new_run, axis=1) - 1
    counts = np.bincount((run + np.arange(R)[:, None] * n).ravel(), minlength=R * n)
    best = counts.reshape(R, n).argmax(axis=1)  # first maximum: the smallest value
    last = n - 1 - np.argmax((run == best[:, None])[:, ::-1], axis=1)
    return order[np.arange(R), last]


def mode(input, dim=-1, keepdim=False):
    nd = input.ndim
    d = normalize_dim(dim, nd, "mode")
    if nd == 0:
        from ..tensor import constant
        return _MODE(input.clone(), constant(_wrap(np.zeros((), np.int64))))
    n = input.shape[d]
    if n == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    a = np.moveaxis(_comparable(input._data), d, -1)
    rest = a.shape[:-1]
    idx = _mode_indices(a.reshape(-1, n)).reshape(rest) if a.size else np.zeros(rest, np.int64)
    idx_t = _wrap(np.ascontiguousarray(np.expand_dims(idx, d)))
    from ..tensor import opaque
    opaque("mode", [input], [idx_t])  # the indices come from the data, outside the graph
    values = input.gather(d, idx_t)  # differentiable: the gradient goes to that element
    if not keepdim:
        values, idx_t = values.squeeze(d), idx_t.squeeze(d)
    return _MODE(values, idx_t)


# ------------------------------------------------------------------ quantiles

def _q_tensor(input, q, op):
    if isinstance(q, Tensor):
        if q._data.dtype != input._data.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        qa = q._data
        if qa.size and not ((qa >= 0) & (qa <= 1)).all():
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
        return q.detach(), q.ndim == 0
    if not 0 <= q <= 1:
        raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {q}")
    from ..tensor import constant
    return constant(_wrap(np.asarray(q, dtype=input._data.dtype))), True


def _lerp(lo, hi, w):
    # PyTorch's lerp: exact at both ends, whichever side the weight is nearer
    return E.where(w < 0.5, lo + w * (hi - lo), hi - (hi - lo) * (1 - w))


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):
    if input._data.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, midpoint "
                           f"or nearest, but got {interpolation}")
    qt, scalar_q = _q_tensor(input, q, op)
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    nd = input.ndim
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        d = normalize_dim(dim, nd, op)
        x = input if nd else input.reshape(1)
    srt = x.movedim(d, -1).sort(-1).values  # (..., n)
    n = srt.shape[-1]
    nan = srt.detach().isnan()
    qv = qt.reshape(-1)  # (Q,)
    if ignore_nan:
        valid = (~nan).sum(-1, keepdim=True).to(qv.dtype)
        ranks = E.clamp_min(qv * (valid - 1), 0)  # all-NaN rows read element 0: NaN
    else:
        ranks = E.where(nan.any(-1, keepdim=True), float(n - 1), qv * (n - 1))
    ranks = {"lower": E.floor, "higher": E.ceil, "nearest": E.round}.get(
        interpolation, lambda r: r)(ranks)
    below = ranks.long()
    r = srt.gather(-1, below)  # ranks: (..., Q)
    if interpolation in ("linear", "midpoint"):
        if interpolation == "linear":
            weights = ranks - below
        else:
            from .creation import full_like
            weights = full_like(ranks, 0.5)
        above = ranks.ceil().long()
        r = _lerp(r, srt.gather(-1, above), weights)
    r = r.movedim(-1, 0)  # (Q, ...)
    if keepdim:
        r = r.reshape((r.shape[0],) + (1,) * nd) if dim is None else r.unsqueeze(d + 1)
    return r.squeeze(0) if scalar_q else r


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return E._out(_quantile("quantile", input, q, dim, keepdim, interpolation, False), out)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return E._out(_quantile("nanquantile", input, q, dim, keepdim, interpolation, True), out)


# ------------------------------------------------------------------ binning

def histc(input, bins=100, min=0, max=0, *, out=None):
    dt = input._data.dtype
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_torch_name(dt)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    a = input._data.reshape(-1)
    lo, hi = dt.type(min), dt.type(max)
    if lo == hi and a.size:
        lo, hi = a.min(), a.max()
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    inside = a[(a >= lo) & (a <= hi)]
    with np.errstate(all="ignore"):
        # PyTorch's bin arithmetic, in the input dtype: (x - lo) * bins / (hi - lo)
        pos = ((inside - lo) * dt.type(bins) / (hi - lo)).astype(np.int64)
    pos = np.minimum(pos, bins - 1)  # x == max falls in the last bin
    from ..tensor import opaque
    r = _wrap(np.bincount(pos, minlength=bins).astype(dt))
    opaque("histc", [input], [r])
    return E._out(r, out)


def bincount(input, weights=None, minlength=0):
    dt = input._data.dtype
    if dt.kind not in "iu":
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_torch_name(dt)}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    a = input._data
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    from ..tensor import opaque
    if weights is None:
        return opaque("bincount", [input],
                      [_wrap(np.bincount(a, minlength=minlength).astype(np.int64))])[0]
    w = weights._data
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    # float32 weights count in float32; any other weights count in float64
    out_dt = np.float32 if w.dtype == np.float32 else np.float64
    return opaque("bincount", [input, weights], [_wrap(np.bincount(
        a, weights=w.astype(np.float64), minlength=minlength).astype(out_dt))])[0]


def _as_values(v, like):
    if isinstance(v, Tensor):
        return v
    from .creation import tensor
    return tensor(v)


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None, out=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if side == "left" and right:
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq, values = sorted_sequence.detach(), _as_values(input, sorted_sequence).detach()
    if seq.ndim > 1 and tuple(seq.shape[:-1]) != tuple(values.shape[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or the "
                           f"first N-1 dimensions of boundaries tensor and input value tensor "
                           f"must match, but we got boundaries tensor {list(seq.shape)} and input "
                           f"value tensor {list(values.shape)}")
    if sorter is not None:
        if tuple(sorter.shape) != tuple(seq.shape):
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same size")
        seq = seq.gather(-1, sorter)
    seq, values, _ = E.promote("searchsorted", seq, values)
    r = dispatch("searchsorted", seq, values, right=bool(right), out_int32=bool(out_int32))
    return E._out(r, out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


METHODS = {n: globals()[n] for n in ("cummax", "cummin", "logcumsumexp", "mode", "quantile",
                                      "nanquantile", "histc", "bincount")}
install_methods(METHODS)
