"""CPU kernels: indexing family (gather/scatter, index/index_put, index_select, nonzero).

Duplicate indices accumulate through `ufunc.at` (unbuffered), as PyTorch's scatter_add and
index_put(accumulate=True) do; plain scatter/index_put keep one of the duplicates.
"""
import numpy as np

_UFUNC = {"add": np.add, "sum": np.add, "multiply": np.multiply, "prod": np.multiply,
          "amax": np.maximum, "amin": np.minimum, "mean": np.add}


def _check_bounds(idx, n, dim, allow_negative=False):
    if idx.size == 0:
        return
    lo, hi = idx.min(), idx.max()
    low = -n if allow_negative else 0
    if lo < low or hi >= n:
        bad = lo if lo < low else hi
        raise IndexError(f"index {int(bad)} is out of bounds for dimension {dim} with size {n}")


def _along(idx, dim):
    """Full index tuple addressing idx.shape, with `idx` as the coordinate along `dim`."""
    grids = list(np.indices(idx.shape, sparse=True))
    grids[dim] = idx
    return tuple(grids)


def _region(a, shape):
    """The leading `shape`-sized block of a (index/src may be smaller than self)."""
    if a.shape == tuple(shape):
        return a
    return a[tuple(slice(0, n) for n in shape)]


def _bounds_error(err):
    raise RuntimeError(str(err)) from None


def gather(x, idx, *, dim):
    if x.ndim == 0:
        _bounds_or_raise(idx, 1, dim)
        return np.broadcast_to(x, idx.shape).copy()
    _bounds_or_raise(idx, x.shape[dim], dim)
    shape = list(idx.shape)
    shape[dim] = x.shape[dim]
    return np.take_along_axis(_region(x, shape), idx.astype(np.intp, copy=False), dim)


def _bounds_or_raise(idx, n, dim):
    # gather/scatter report out-of-range indices as RuntimeError, as PyTorch does
    try:
        _check_bounds(idx, n, dim)
    except IndexError as e:
        _bounds_error(e)


def _identity(ufunc, dtype):
    if ufunc is np.add:
        return 0
    if ufunc is np.multiply:
        return 1
    big = np.inf if dtype.kind == "f" else (True if dtype.kind == "b" else np.iinfo(dtype).max)
    small = -np.inf if dtype.kind == "f" else (False if dtype.kind == "b" else np.iinfo(dtype).min)
    return small if ufunc is np.maximum else big


def scatter(x, idx, src, *, dim, reduce=None, include_self=True):
    out = np.array(x, copy=True)
    if x.ndim == 0:
        out = out.reshape(1)
        idx = idx.reshape(-1)
        if isinstance(src, np.ndarray):
            src = src.reshape(-1)
    n = out.shape[dim]
    _bounds_or_raise(idx, n, dim)
    where = _along(idx.astype(np.intp, copy=False), dim)
    if isinstance(src, np.ndarray):
        src = _region(src, idx.shape)
    if reduce is None:
        out[where] = src
        return out.reshape(x.shape)
    ufunc = _UFUNC[reduce]
    if not include_self:
        out[where] = _identity(ufunc, out.dtype)
    if ufunc is np.add and idx.ndim and idx.shape[dim] == 1:
        # one index per slice along dim: no position is hit twice, so buffered += is exact
        # (and several times faster than ufunc.at); gather's VJP takes this path
        out[where] += src
    else:
        ufunc.at(out, where, src)
    if reduce == "mean":
        count = np.zeros(out.shape, np.int64 if out.dtype.kind != "f" else out.dtype)
        np.add.at(count, where, 1)
        if include_self:
            count += 1
        count = np.maximum(count, 1)
        if out.dtype.kind == "f":
            out = (out / count).astype(out.dtype)
        else:
            out = (out // count).astype(out.dtype)
    return out.reshape(x.shape)


def index_select(x, idx, *, dim):
    flat = idx.reshape(-1)
    n = x.shape[dim] if x.ndim else 1
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        raise IndexError("index out of range in self")
    if x.ndim == 0:
        return x.copy()
    return np.take(x, flat, axis=dim)


def _full_index(ndim, idxs, positions):
    key = [slice(None)] * ndim
    for p, i in zip(positions, idxs):
        key[p] = i
    return tuple(key)


def _check_index(x, idxs, positions):
    for p, i in zip(positions, idxs):
        _check_bounds(i, x.shape[p], p, allow_negative=True)


def index(x, *idxs, positions):
    _check_index(x, idxs, positions)
    return x[_full_index(x.ndim, idxs, positions)]


def index_put(x, values, *idxs, positions, accumulate=False):
    _check_index(x, idxs, positions)
    out = np.array(x, copy=True)
    key = _full_index(x.ndim, idxs, positions)
    if accumulate:
        np.add.at(out, key, values)
    else:
        out[key] = values
    return out


def nonzero(x):
    return np.argwhere(x).astype(np.int64, copy=False)


KERNELS = {
    "gather": gather, "scatter": scatter, "index_select": index_select, "index": index,
    "index_put": index_put, "nonzero": nonzero,
}
