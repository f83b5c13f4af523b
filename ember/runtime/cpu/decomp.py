"""CPU kernels: linear-algebra externs (inv, solve, det, slogdet, cholesky, qr, eigh, svd).

NumPy's LAPACK calls, batched over leading dims. Failures that PyTorch reports as
`torch.linalg.LinAlgError` raise `LinAlgError` (a RuntimeError, as in PyTorch) with
PyTorch's message, naming the batch element and the failing pivot/minor.
"""
import numpy as np


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed (singular or not positive-definite input)."""


def _batch_prefix(A, i):
    return f"(Batch element {i}): " if A.ndim > 2 else ""


def _elements(A):
    """(batch index, matrix) for every matrix of a batch, in order."""
    flat = A.reshape((-1,) + A.shape[-2:])
    return enumerate(flat)


def _zero_pivot(M):
    """1-based index of the first zero pivot of M's LU factorization (0 if none)."""
    import scipy.linalg as sl
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lu, _ = sl.lu_factor(M, check_finite=False)
    zero = np.nonzero(np.diagonal(lu) == 0)[0]
    return int(zero[0]) + 1 if zero.size else 0


def _singular(op, A, what):
    for i, M in _elements(A):
        k = _zero_pivot(M)
        if k:
            msg = what(k)
            return LinAlgError(f"{op}: {_batch_prefix(A, i)}{msg}")
    return LinAlgError(f"{op}: {what(1)}")


def _inv(A):
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise _singular("linalg.inv", A, lambda k: (
            f"The diagonal element {k} is zero, the inversion could not be completed because "
            f"the input matrix is singular.")) from None


def _solve(A, B):
    try:
        return np.linalg.solve(A, B)
    except np.linalg.LinAlgError:
        raise LinAlgError("torch.linalg.solve: The solver failed because the input matrix is "
                          "singular.") from None


def _cholesky(A, *, upper=False):
    try:
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        for i, M in _elements(A):
            for k in range(1, M.shape[-1] + 1):
                try:
                    np.linalg.cholesky(M[:k, :k])
                except np.linalg.LinAlgError:
                    raise LinAlgError(
                        f"linalg.cholesky: {_batch_prefix(A, i)}The factorization could not be "
                        f"completed because the input is not positive-definite (the leading "
                        f"minor of order {k} is not positive-definite).") from None
        raise
    return np.ascontiguousarray(np.swapaxes(L, -1, -2)) if upper else L


def _qr(A, *, mode="reduced"):
    if mode == "r":
        return np.empty((0,), A.dtype), np.linalg.qr(A, mode="r")
    Q, R = np.linalg.qr(A, mode=mode)
    return Q, R


def _eigh(A, *, UPLO="L"):
    w, v = np.linalg.eigh(A, UPLO=UPLO)
    return w, v


def _svd(A, *, full_matrices=True):
    U, S, Vh = np.linalg.svd(A, full_matrices=full_matrices)
    return U, S, Vh


def _slogdet(A):
    sign, logabs = np.linalg.slogdet(A)
    return np.asarray(sign, A.dtype), np.asarray(logabs, A.dtype)


KERNELS = {
    "inv": _inv,
    "solve": _solve,
    "det": lambda A: np.asarray(np.linalg.det(A), A.dtype),
    "slogdet": _slogdet,
    "cholesky": _cholesky,
    "qr": _qr,
    "eigh": _eigh,
    "svd": _svd,
}
