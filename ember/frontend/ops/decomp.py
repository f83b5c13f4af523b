"""Public ops: linear algebra beyond matmul: norms, inverse, solve, determinants and the
decompositions (cholesky, qr, eigh, svd), pseudo-inverse, rank, least squares.

`ember.linalg` (ember/linalg.py) publishes these under PyTorch's `torch.linalg` names; this
module also exports the older top-level forms (`ember.det`, `ember.inverse`, `ember.svd`
returning V, `ember.qr(some=)`...) and Tensor methods. inv, solve, det, slogdet, cholesky,
qr, eigh and svd are primitives (LAPACK through NumPy; VJP rules in
autograd/rules/decomp.py); everything else is composed from them.
"""
from __future__ import annotations

import math
from numbers import Number

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import normalize_dim
from ..dispatch import dispatch
from ..tensor import Tensor, _wrap, install_methods
from . import elementwise as E
from .composite import _torch_name
from .reduction import _return_type, norm as _norm

__all__ = ["det", "logdet", "slogdet", "inverse", "pinverse", "cholesky", "qr", "svd"]

_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)
_LOW = frozenset((D.float16.np, D.bfloat16.np))

QR = _return_type("linalg_qr", ["Q", "R"])
SVD = _return_type("linalg_svd", ["U", "S", "Vh"])
EIGH = _return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])
SLOGDET = _return_type("linalg_slogdet", ["sign", "logabsdet"])
LSTSQ = _return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
_TORCH_QR = _return_type("qr", ["Q", "R"])
_TORCH_SVD = _return_type("svd", ["U", "S", "V"])
_TORCH_SLOGDET = _return_type("slogdet", ["sign", "logabsdet"])


# ------------------------------------------------------------------ argument checks

def _float_input(op, A):
    dt = A._data.dtype
    if dt not in _FLOAT_NP:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_torch_name(dt)}")


def _matrices(op, A, square=True):
    """PyTorch's checks for a batch of matrices in the last two dims."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    _float_input(op, A)
    if A._data.dtype in _LOW:
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got "
                           f"{_torch_name(A._data.dtype)}")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _mT(t):
    return t.transpose(-2, -1)


# ------------------------------------------------------------------ inverse, solve, determinants

def inv(A, *, out=None):
    _matrices("linalg.inv", A)
    return E._out(dispatch("inv", A), out)


def solve(A, B, *, left=True, out=None):
    _matrices("linalg.solve", A)
    _float_input("linalg.solve", B)
    if A._data.dtype != B._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of "
                           f"type {_torch_name(A._data.dtype)} and B of type "
                           f"{_torch_name(B._data.dtype)} instead")
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    if Bm.shape[-2 if left else -1] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                           f"{Bm.shape[-2]}x{Bm.shape[-1]})")
    if left:
        X = dispatch("solve", A, Bm)
    else:  # X A = B  <=>  A^T X^T = B^T
        X = _mT(dispatch("solve", _mT(A), _mT(Bm)))
    return E._out(X.squeeze(-1) if vector else X, out)


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """Solve with the triangle of A that `upper` names (the other one is ignored)."""
    _matrices("linalg.solve_triangular", A)
    T = A.triu() if upper else A.tril()
    if unitriangular:
        T = T - T.diagonal(0, -2, -1).diag_embed() + (T.diagonal(0, -2, -1) * 0 + 1).diag_embed()
    return solve(T, B, left=left, out=out)


def det(A, *, out=None):
    _matrices("linalg.det", A)
    return E._out(dispatch("det", A), out)


def linalg_slogdet(A, *, out=None):
    _matrices("linalg.slogdet", A)
    return SLOGDET(*dispatch("slogdet", A))


def slogdet(input):
    return _TORCH_SLOGDET(*linalg_slogdet(input))


def logdet(input):
    """log(det): NaN for a negative determinant, -inf for a zero one."""
    sign, logabs = linalg_slogdet(input)
    return E.where(sign < 0, math.nan, logabs)


def inverse(input, *, out=None):
    return inv(input, out=out)


# ------------------------------------------------------------------ decompositions

def cholesky(A, upper=False, *, out=None):
    _matrices("linalg.cholesky", A)
    return E._out(dispatch("cholesky", A, upper=bool(upper)), out)


def linalg_qr(A, mode="reduced", *, out=None):
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    _matrices("linalg.qr", A, square=False)
    return QR(*dispatch("qr", A, mode=mode))


def qr(input, some=True, *, out=None):
    return _TORCH_QR(*linalg_qr(input, "reduced" if some else "complete"))


def eigh(A, UPLO="L", *, out=None):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    _matrices("linalg.eigh", A)
    return EIGH(*dispatch("eigh", A, UPLO=UPLO))


def eigvalsh(A, UPLO="L", *, out=None):
    return E._out(eigh(A, UPLO).eigenvalues, out)


def linalg_svd(A, full_matrices=True, *, driver=None, out=None):
    _matrices("linalg.svd", A, square=False)
    return SVD(*dispatch("svd", A, full_matrices=bool(full_matrices)))


def svdvals(A, *, driver=None, out=None):
    _matrices("linalg.svdvals", A, square=False)
    return E._out(dispatch("svd", A, full_matrices=False)[1], out)


def svd(input, some=True, compute_uv=True, *, out=None):
    """The older form: (U, S, V) with V (not V^T); without compute_uv, U and V are zeros."""
    U, S, Vh = linalg_svd(input, full_matrices=not some)
    if not compute_uv:
        from .creation import zeros_like
        return _TORCH_SVD(zeros_like(U), S, zeros_like(_mT(Vh)))
    return _TORCH_SVD(U, S, _mT(Vh))


# ------------------------------------------------------------------ pseudo-inverse, rank, lstsq

def _as_float(v):
    if v is None:
        return None
    return v if isinstance(v, Tensor) else float(v)


def _tolerance(A, smax, atol, rtol):
    """max(atol, rtol * smax) with PyTorch's defaults (rtol = eps * max(m, n) unless a
    positive atol is given alone)."""
    atol, rtol = _as_float(atol), _as_float(rtol)
    if rtol is None:
        given = atol is not None and (isinstance(atol, Tensor) or atol > 0)
        rtol = 0.0 if given else float(np.finfo(A._data.dtype).eps) * max(A.shape[-2:])
    atol = 0.0 if atol is None else atol
    tol = smax * rtol
    return E.maximum(tol, atol if isinstance(atol, Tensor) else tol * 0 + atol)


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):
    _matrices("linalg.pinv", A, square=hermitian)
    if hermitian:
        L, V = eigh(A)
        mag = L.abs()
        tol = _tolerance(A, mag.amax(-1, keepdim=True), atol, rtol)
        Linv = E.where(mag > tol, 1 / E.where(mag > tol, L, 1.0), 0.0)
        return E._out((V * Linv.unsqueeze(-2)) @ _mT(V), out)
    U, S, Vh = linalg_svd(A, full_matrices=False)
    k = S.shape[-1]
    smax = S.narrow(-1, 0, 1) if k else S.sum(-1, keepdim=True)
    tol = _tolerance(A, smax, atol, rtol)
    Sinv = E.where(S > tol, 1 / E.where(S > tol, S, 1.0), 0.0)
    return E._out((_mT(Vh) * Sinv.unsqueeze(-2)) @ _mT(U), out)


def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):
    _matrices("linalg.matrix_rank", A, square=hermitian)
    A = A.detach()
    S = eigh(A).eigenvalues.abs() if hermitian else svdvals(A)
    if S.shape[-1] == 0:
        return E._out(S.sum(-1).long(), out)
    smax = S.amax(-1, keepdim=True)
    return E._out((S > _tolerance(A, smax, atol, rtol)).sum(-1), out)


_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """Least squares via the pseudo-inverse; outputs as PyTorch's CPU drivers report them:
    rank for gelsy/gelsd/gelss, singular values for gelsd/gelss, residuals when m > n and
    A has full rank (all drivers but gelsy)."""
    driver = "gelsy" if driver is None else driver
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of "
                           f"(gels, gelsy, gelsd, gelss)")
    _matrices("torch.linalg.lstsq", A, square=False)
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    X = pinv(A, rtol=rcond) @ Bm
    m, n = A.shape[-2:]
    rank = matrix_rank(A, rtol=rcond)
    from ..tensor import constant
    empty = constant(_wrap(np.zeros((0,), A._data.dtype)))
    residuals = empty
    if driver != "gelsy" and m > n and bool((rank == n).all()):
        residuals = ((A @ X - Bm) ** 2).sum(-2)
    svals = svdvals(A) if driver in ("gelsd", "gelss") else empty
    if driver == "gels":
        rank = constant(_wrap(np.zeros((0,), np.int64)))
    return LSTSQ(X.squeeze(-1) if vector else X, residuals, rank, svals)


# ------------------------------------------------------------------ norms

def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if not isinstance(ord, Number) or isinstance(ord, bool):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    _float_input("linalg.vector_norm", x)
    if dtype is not None:
        dt = D.to_dtype(dtype)
        if D.promote_types(x.dtype, dt) is not dt:
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input "
                               f"({_torch_name(x._data.dtype)}) should be convertible without "
                               f"narrowing to the specified dtype ({_torch_name(dt.np)})")
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    if abs(ord) == math.inf and x.numel() == 0:
        dims = range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
        if any(x.shape[d] == 0 for d in dims):
            raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty tensor "
                               "because the operation does not have an identity")
    return E._out(_norm(x, ord, dim, keepdim, dtype=dtype), out)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def _matrix_dims(op, A, dim):
    if not (isinstance(dim, (list, tuple)) and len(dim) == 2):
        got = " ".join(map(str, dim)) if isinstance(dim, (list, tuple)) else str(dim)
        raise RuntimeError(f"{op}: dim must be a 2-tuple. Got {got}")
    d0, d1 = (normalize_dim(d, A.ndim, op) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"{op}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d0, d1


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    op = "linalg.matrix_norm"
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    _float_input(op, A)
    if ord not in _MATRIX_ORDS:
        raise RuntimeError(f"{op}: Order {ord} not supported.")
    d0, d1 = _matrix_dims(op, A, dim)
    x = A if dtype is None else A.to(dtype)
    if ord == "fro":
        return E._out(_norm(x, 2, (d0, d1), keepdim), out)
    if ord in (1, -1, math.inf, -math.inf):
        # 1: largest column sum of |A|; inf: largest row sum
        summed, other = (d0, d1) if abs(ord) == 1 else (d1, d0)
        s = x.abs().sum(summed, keepdim=True)
        r = s.amax(other, keepdim=True) if ord > 0 else s.amin(other, keepdim=True)
    else:  # nuc, 2, -2: from the singular values
        sv = svdvals(x.movedim((d0, d1), (-2, -1)))
        r = sv.sum(-1) if ord == "nuc" else sv.amax(-1) if ord == 2 else sv.amin(-1)
        for d in sorted((d0, d1)):
            r = r.unsqueeze(d)
    if not keepdim:
        r = r.squeeze((d0, d1)) if r.ndim else r
    return E._out(r, out)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    if dim is not None:
        single = isinstance(dim, int) or len(dim) == 1
        if single and isinstance(ord, str):
            _matrix_dims("linalg.matrix_norm", A, dim)
        if single:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1:
        if isinstance(ord, str):
            raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                               "dimensions.")
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)


METHODS = {n: globals()[n] for n in __all__}
install_methods(METHODS)
