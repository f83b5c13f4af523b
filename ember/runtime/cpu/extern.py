"""CPU kernels: externs (sort, topk, unique): library calls, some with
data-dependent result sizes."""
import numpy as np



def _sortable(x):
    """NumPy sorts float16/bfloat16 slowly or not at all: sort an exact float64 copy."""
    if x.dtype.kind == "V" or (x.dtype.kind == "f" and x.dtype.itemsize < 4):
        return x.astype(np.float64)
    return x


def _argsort(x, dim, descending):
    """Stable argsort along dim; descending keeps equal elements in original order and
    puts NaN first (PyTorch orders NaN above every number)."""
    k = _sortable(x)
    if not descending:
        return np.argsort(k, axis=dim, kind="stable")
    n = x.shape[dim]
    idx = np.argsort(np.flip(k, dim), axis=dim, kind="stable")
    return np.flip(n - 1 - idx, dim)


def _sort(x, *, dim, descending=False, stable=False):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    idx = _argsort(x, dim, descending).astype(np.int64)
    return np.take_along_axis(x, idx, dim), np.ascontiguousarray(idx)


def _topk(x, *, k, dim, largest=True, sorted=True):
    if x.ndim == 0:
        return x.copy(), np.zeros((), np.int64)
    idx = _argsort(x, dim, largest).astype(np.int64)
    idx = np.ascontiguousarray(np.take(idx, np.arange(k), axis=dim))
    return np.take_along_axis(x, idx, dim), idx


def _unique(x, *, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """(values, inverse, counts): always all three; the frontend returns what was asked.
    Values come out sorted (PyTorch's CPU kernel sorts even with sorted=False)."""
    if dim is None:
        vals, inv, cnt = np.unique(_sortable(x).reshape(-1), return_inverse=True, return_counts=True)
        return vals.astype(x.dtype), inv.reshape(x.shape).astype(np.int64), cnt.astype(np.int64)
    if x.shape[dim] == 0:
        return x.copy(), np.zeros((0,), np.int64), np.zeros((0,), np.int64)
    vals, inv, cnt = np.unique(_sortable(x), return_inverse=True, return_counts=True, axis=dim)
    return vals.astype(x.dtype), inv.reshape(-1).astype(np.int64), cnt.astype(np.int64)


KERNELS = {"sort": _sort, "topk": _topk, "unique": _unique}  # nonzero lives with the indexing kernels
