"""ember.linalg: PyTorch's `torch.linalg` namespace (norms, inverse, solve, determinants,
decompositions, pseudo-inverse, rank, least squares).

The implementations live in the op modules (ember/frontend/ops/decomp.py, and extra.py
for `cross`); this module only gives them their `torch.linalg` names.
"""
from .frontend.ops import decomp as _d
from .frontend.ops.extra import cross as _cross
from .frontend.ops.linalg import matmul  # noqa: F401
from .runtime.cpu.decomp import LinAlgError  # noqa: F401

norm = _d.linalg_norm
vector_norm = _d.vector_norm
matrix_norm = _d.matrix_norm
inv = _d.inv
det = _d.det
slogdet = _d.linalg_slogdet
solve = _d.solve
solve_triangular = _d.solve_triangular
cholesky = _d.cholesky
qr = _d.linalg_qr
eigh = _d.eigh
eigvalsh = _d.eigvalsh
svd = _d.linalg_svd
svdvals = _d.svdvals
pinv = _d.pinv
matrix_rank = _d.matrix_rank
lstsq = _d.lstsq


def cross(input, other, *, dim=-1, out=None):
    return _cross(input, other, dim)


def vecdot(x, y, *, dim=-1, out=None):
    return (x * y).sum(dim)


def multi_dot(tensors, *, out=None):
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    r = ts[0]
    for t in ts[1:]:
        r = matmul(r, t)
    return r


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return A.diagonal(offset, dim1, dim2)


__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve",
           "solve_triangular", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv",
           "matrix_rank", "lstsq", "cross", "vecdot", "diagonal", "matmul", "multi_dot",
           "LinAlgError"]
