"""CPU kernels: special functions (lgamma, digamma, polygamma, i0, i1) and frexp.

SciPy's kernels, in the input's dtype; half types compute in float32 and round once, as
PyTorch's CPU kernels do. SciPy is imported on first use (it is slow to import).
"""
import numpy as np
import ml_dtypes

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _sp():
    import scipy.special as sp
    return sp


def _in_dtype(fn):
    """Run fn in float32 for half types, and return the input's dtype."""
    def k(x, **attrs):
        work = x.astype(np.float32) if x.dtype in _LOW else x
        with np.errstate(all="ignore"):
            r = fn(work, **attrs)
        return np.asarray(r).astype(x.dtype, copy=False)
    return k


def _lgamma(x):
    r = _sp().gammaln(x)
    # log|Gamma(-inf)| is +inf in PyTorch (SciPy gives -inf)
    return np.where(x == -np.inf, x.dtype.type(np.inf), r) if np.any(x == -np.inf) else r


def _polygamma(x, *, n=0):
    """n-th derivative of digamma (n = 0 is digamma itself)."""
    return _sp().psi(x) if n == 0 else _sp().polygamma(n, x)


def _frexp(x):
    work = x.astype(np.float32) if x.dtype in _LOW else x  # exact: same significand bits
    m, e = np.frexp(work)
    return m.astype(x.dtype, copy=False), e.astype(np.int32, copy=False)


KERNELS = {
    "lgamma": _in_dtype(_lgamma),
    "digamma": _in_dtype(lambda x: _sp().psi(x)),
    "polygamma": _in_dtype(_polygamma),
    "i0": _in_dtype(lambda x: _sp().i0(x)),
    "i1": _in_dtype(lambda x: _sp().i1(x)),
    "frexp": _frexp,
}
