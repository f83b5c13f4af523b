"""CPU kernels: reductions and scans.

Integer and bool sums/products accumulate in int64; float16/bfloat16 accumulate in
float32 and round once at the end, as PyTorch's CPU kernels do.
"""
import numpy as np
import ml_dtypes

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_F32 = np.dtype(np.float32)
_I64 = np.dtype(np.int64)


def _axes(x, dims):
    # a 0-d tensor reduces over "dim 0" in PyTorch; NumPy wants no axis at all
    return None if dims is None or x.ndim == 0 else dims


def _acc(x):
    """(accumulation dtype, result dtype) for sum/prod/cumsum/cumprod."""
    k = x.dtype.kind
    if k in "biu":
        return _I64, _I64
    if x.dtype in _LOW:
        return _F32, x.dtype
    return x.dtype, x.dtype


def _accumulating(ufunc):
    reduce = ufunc.reduce

    def k(x, *, dims=None, keepdim=False):
        acc, res = _acc(x)
        r = reduce(x, _axes(x, dims), acc, None, keepdim)
        return r if acc == res else np.asarray(r).astype(res)
    return k


def _nonempty(op, x, dims, nodim_error=RuntimeError):
    if x.size == 0:
        if dims is None or x.ndim == 0:
            raise nodim_error(f"{op}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0 (input shape {x.shape}).")
        for d in dims:
            if x.shape[d] == 0:
                raise IndexError(f"{op}(): Expected reduction dim {d} to have non-zero size "
                                 f"(input shape {x.shape}).")


def _extreme(op, np_fn):
    def k(x, *, dims=None, keepdim=False):
        _nonempty(op, x, dims)
        return np_fn(x, axis=_axes(x, dims), keepdims=keepdim)
    return k


def _arg(op, np_fn):
    """argmax/argmin take one dim (or None: over the flattened input)."""
    def k(x, *, dims=None, keepdim=False):
        _nonempty(op, x, dims, IndexError)
        axis = None if dims is None or x.ndim == 0 else dims[0]
        r = np_fn(x, axis=axis, keepdims=keepdim)
        return np.asarray(r, dtype=np.int64)
    return k


def _logical(np_fn):
    def k(x, *, dims=None, keepdim=False):
        return np.asarray(np_fn(x, axis=_axes(x, dims), keepdims=keepdim))
    return k


def _scan(np_fn):
    def k(x, *, dim):
        acc, res = _acc(x)
        if x.ndim == 0:
            return x.astype(res)
        with np.errstate(all="ignore"):
            r = np_fn(x, axis=dim, dtype=acc)
        return r if acc == res else r.astype(res)
    return k


KERNELS = {
    "sum": _accumulating(np.add),
    "prod": _accumulating(np.multiply),
    "amax": _extreme("amax", np.max),
    "amin": _extreme("amin", np.min),
    "argmax": _arg("argmax", np.argmax),
    "argmin": _arg("argmin", np.argmin),
    "any": _logical(np.any),
    "all": _logical(np.all),
    "cumsum": _scan(np.cumsum),
    "cumprod": _scan(np.cumprod),
}
