"""CPU kernels: running extrema (cummax, cummin), logcumsumexp, and searchsorted."""
import numpy as np
import ml_dtypes

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _work(x):
    return x.astype(np.float32) if x.dtype in _LOW else x


def _cumext(ufunc):
    """(running extremum, index of the element that set it). As in PyTorch, a later equal
    element takes over the index, and NaN, once seen, wins (each later NaN takes over)."""
    def k(x, *, dim):
        if x.ndim == 0:
            return x.copy(), np.zeros((), np.int64)
        w = _work(x)
        running = ufunc.accumulate(w, axis=dim)
        sets = (w == running)
        if w.dtype.kind == "f":
            sets |= np.isnan(w)
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        pos = np.arange(x.shape[dim], dtype=np.int64).reshape(shape)
        idx = np.maximum.accumulate(np.where(sets, pos, 0), axis=dim)
        return np.take_along_axis(x, idx, dim), idx
    return k


def _logcumsumexp(x, *, dim):
    if x.ndim == 0:
        return x.copy()
    with np.errstate(all="ignore"):
        return np.logaddexp.accumulate(_work(x), axis=dim).astype(x.dtype, copy=False)


def _searchsorted(seq, values, *, right=False, out_int32=False):
    side = "right" if right else "left"
    dt = np.int32 if out_int32 else np.int64
    s, v = _work(seq), _work(values)
    if s.ndim <= 1:
        return np.searchsorted(s, v, side=side).astype(dt)
    out = np.empty(v.shape, dt)
    for i in np.ndindex(s.shape[:-1]):  # one binary search per row of boundaries
        out[i] = np.searchsorted(s[i], v[i], side=side)
    return out


KERNELS = {
    "cummax": _cumext(np.maximum),
    "cummin": _cumext(np.minimum),
    "logcumsumexp": _logcumsumexp,
    "searchsorted": _searchsorted,
}
