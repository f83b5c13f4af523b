"""ember.linalg (and the older top-level forms) vs torch: norms, inv, det, slogdet, solve,
cholesky, qr, eigh, svd, svdvals, pinv, matrix_rank, lstsq: values, dtypes, float64
gradients (against torch and numerically), errors."""
import math

import numpy as np
import pytest
import torch

import ember
import ember.linalg as EL
from _cmp import both, gradcheck, grads_match, make, same

TL = torch.linalg
inf = math.inf
RNG = np.random.default_rng(0)
SQ = RNG.standard_normal((3, 3)) + 3 * np.eye(3)     # well conditioned
BATCH = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
TALL = RNG.standard_normal((4, 3))
WIDE = RNG.standard_normal((2, 4))


def spd(x, m):
    """A symmetric positive-definite matrix from any square x (for cholesky/eigh)."""
    return x @ x.transpose(-2, -1) + m.eye(x.shape[-1], dtype=x.dtype)


def pair(a, dtype="float64"):
    return make(None, dtype, data=a)


# ------------------------------------------------------------------ norms

@pytest.mark.parametrize("ord", [2, 1, 0, 3, 0.5, inf, -inf])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, True), ((0, 2), False), (-1, False)])
def test_vector_norm(ord, dim, keepdim):
    e, t = make((2, 3, 4), "float64")
    same(EL.vector_norm(e, ord, dim, keepdim), TL.vector_norm(t, ord, dim, keepdim))
    if ord != 0:
        grads_match(lambda x: EL.vector_norm(x, ord, dim, keepdim),
                    lambda x: TL.vector_norm(x, ord, dim, keepdim), e._data)


def test_vector_norm_dtypes_and_errors():
    for dt in ("float32", "float16", "bfloat16"):
        e, t = make((5,), dt)
        same(EL.vector_norm(e), TL.vector_norm(t))
    e, t = make((5,), "float32")
    same(EL.vector_norm(e, dtype=ember.float64), TL.vector_norm(t, dtype=torch.float64))
    grads_match(lambda x: EL.vector_norm(x), lambda x: TL.vector_norm(x), [0.0, 0.0])
    grads_match(lambda x: EL.vector_norm(x, inf), lambda x: TL.vector_norm(x, inf),
                [1.0, -3.0, 3.0])
    with pytest.raises(RuntimeError, match="floating point or complex tensor as input. Got Long"):
        EL.vector_norm(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="without narrowing"):
        EL.vector_norm(ember.ones(2, dtype=ember.float64), dtype=ember.float32)
    with pytest.raises(TypeError, match="must be Number, not str"):
        EL.vector_norm(ember.ones(2), "fro")
    with pytest.raises(RuntimeError, match="does not have an identity"):
        EL.vector_norm(ember.ones(0), inf)
    same(EL.vector_norm(ember.ones(0)), TL.vector_norm(torch.ones(0)))


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, inf, -inf])
@pytest.mark.parametrize("shape,dim", [((3, 4), (-2, -1)), ((2, 3, 4), (0, 2)),
                                       ((2, 4, 3), (2, 1))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm(ord, shape, dim, keepdim):
    e, t = make(shape, "float64")
    same(EL.matrix_norm(e, ord, dim, keepdim), TL.matrix_norm(t, ord, dim, keepdim))
    grads_match(lambda x: EL.matrix_norm(x, ord, dim, keepdim),
                lambda x: TL.matrix_norm(x, ord, dim, keepdim), e._data, tol=1e-7)


def test_matrix_norm_errors_and_float32():
    e, t = make((3, 4), "float32")
    for ord in ("fro", "nuc", 2, 1):
        same(EL.matrix_norm(e, ord), TL.matrix_norm(t, ord), tol=1e-5)
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        EL.matrix_norm(ember.ones(2, 2), 3)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        EL.matrix_norm(ember.ones(2))
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple. Got 0 1 2"):
        EL.matrix_norm(ember.ones(2, 2, 3), "nuc", (0, 1, 2))
    with pytest.raises(RuntimeError, match="Got Long"):
        EL.matrix_norm(ember.ones(2, 2, dtype=ember.int64))
    gradcheck(lambda x: EL.matrix_norm(x, "nuc"), TALL)


NORM_CASES = [((4,), None, None), ((4,), 1, None), ((3, 4), None, None), ((3, 4), 2, None),
              ((3, 4), "fro", None), ((3, 4), inf, None), ((2, 3, 4), None, None),
              ((2, 3, 4), "fro", (0, 1)), ((2, 3, 4), 3, 2), ((2, 3, 4), None, (1,)),
              ((3, 4), "nuc", None)]


@pytest.mark.parametrize("shape,ord,dim", NORM_CASES)
def test_linalg_norm(shape, ord, dim):
    e, t = make(shape, "float64")
    same(EL.norm(e, ord, dim), TL.norm(t, ord, dim))
    same(EL.norm(e, ord, dim, keepdim=True), TL.norm(t, ord, dim, keepdim=True))


def test_linalg_norm_errors():
    for args, msg in (((ember.ones(2, 2, 2), 2), "must be 1D or 2D. Got 3D"),
                      ((ember.ones(2), "fro"), "at least 2 dimensions"),
                      ((ember.ones(2, 2), "fro", 0), "dim must be a 2-tuple. Got 0")):
        with pytest.raises(RuntimeError, match=msg):
            EL.norm(*args)


# ------------------------------------------------------------------ inverse, solve, determinants

@pytest.mark.parametrize("a", [SQ, BATCH], ids=["single", "batch"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_inv_det_slogdet(a, dtype):
    e, t = pair(a, dtype)
    tol = 1e-10 if dtype == "float64" else 1e-4
    same(EL.inv(e), TL.inv(t), tol)
    same(ember.inverse(e), torch.inverse(t), tol)
    same(EL.det(e), TL.det(t), tol)
    same(e.det(), t.det(), tol)
    same(EL.slogdet(e), TL.slogdet(t), tol)
    same(ember.slogdet(e), torch.slogdet(t), tol)
    same(ember.logdet(e), torch.logdet(t), tol)
    same(e.logdet(), t.logdet(), tol)


def test_inv_det_grads():
    for a in (SQ, BATCH):
        grads_match(EL.inv, TL.inv, a)
        grads_match(EL.det, TL.det, a)
        grads_match(lambda x: EL.slogdet(x).logabsdet, lambda x: TL.slogdet(x).logabsdet, a)
        gradcheck(EL.det, a)
    x = ember.tensor(SQ, requires_grad=True)
    assert ember.autograd.gradgradcheck(EL.inv, (x,))
    assert ember.autograd.gradgradcheck(EL.det, (x,))


def test_det_singular_grad():
    # PyTorch returns a zero gradient at exactly singular matrices (its own gradcheck fails
    # there); ember gives the true derivative, adj(A)^T, so this checks numerically
    for a in ([[1.0, 2.0], [2.0, 4.0]], [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]],
              np.stack([np.eye(2), [[1.0, 1.0], [1.0, 1.0]]])):
        gradcheck(EL.det, a)
    x = ember.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    EL.det(x).backward()
    assert x.grad.tolist() == [[4.0, -2.0], [-2.0, 1.0]]
    grads_match(EL.det, TL.det, [[0.0, 0.0], [0.0, 0.0]])  # rank n-2: both give zero
    same(EL.det(ember.zeros(0, 0)), TL.det(torch.zeros(0, 0)))
    same(EL.slogdet(ember.zeros(2, 2)), TL.slogdet(torch.zeros(2, 2)))
    same(*both(lambda m: m.logdet(m.tensor([[0.0, 1.0], [1.0, 0.0]]))))


def test_inv_errors():
    with pytest.raises(EL.LinAlgError, match="The diagonal element 1 is zero"):
        EL.inv(ember.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The diagonal element 2 is zero"):
        EL.inv(ember.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]]))
    assert issubclass(EL.LinAlgError, RuntimeError)
    for f, msg in ((lambda m: m.linalg.inv(m.zeros(2, 3)),
                    "A must be batches of square matrices, but they are 2 by 3"),
                   (lambda m: m.linalg.inv(m.eye(2, dtype=m.int64)), "Got Long"),
                   (lambda m: m.linalg.inv(m.eye(2).half()),
                    "Low precision dtypes not supported. Got Half"),
                   (lambda m: m.linalg.inv(m.ones(2)), "at least 2 dimensions"),
                   (lambda m: m.linalg.det(m.eye(2, dtype=m.int64)), "Got Long")):
        with pytest.raises(RuntimeError, match=msg):
            f(torch)
        with pytest.raises(RuntimeError, match=msg):
            f(ember)


@pytest.mark.parametrize("A,B,left", [(SQ, RNG.standard_normal(3), True),
                                      (SQ, RNG.standard_normal((3, 2)), True),
                                      (BATCH, RNG.standard_normal((2, 3)), True),
                                      (BATCH, RNG.standard_normal((3, 4)), True),
                                      (SQ, RNG.standard_normal((2, 3, 1)), True),
                                      (SQ, RNG.standard_normal((4, 3)), False),
                                      (BATCH, RNG.standard_normal((2, 4, 3)), False)])
def test_solve(A, B, left):
    (a, ta), (b, tb) = pair(A), pair(B)
    same(EL.solve(a, b, left=left), TL.solve(ta, tb, left=left))
    grads_match(lambda x, y: EL.solve(x, y, left=left), lambda x, y: TL.solve(x, y, left=left),
                A, B)


def test_solve_errors_and_triangular():
    with pytest.raises(EL.LinAlgError, match="input matrix is singular"):
        EL.solve(ember.zeros(2, 2), ember.ones(2))
    with pytest.raises(RuntimeError, match=r"for the equation AX = B \(2x2 and 3x1\)"):
        EL.solve(ember.eye(2), ember.ones(3))
    for B in (ember.ones(3), ember.ones(3, 4)):
        with pytest.raises(RuntimeError, match=r"equation XA = B \(3x3 and 3x"):
            EL.solve(ember.eye(3), B, left=False)
    with pytest.raises(RuntimeError, match="same dtype, but found A of type Float and B of "
                                           "type Double"):
        EL.solve(ember.eye(2), ember.ones(2, dtype=ember.float64))
    (a, ta), (b, tb) = pair(SQ), pair(RNG.standard_normal((3, 2)))
    for upper in (True, False):
        same(EL.solve_triangular(a, b, upper=upper), TL.solve_triangular(ta, tb, upper=upper))
        same(EL.solve_triangular(a, b.mT, upper=upper, left=False),
             TL.solve_triangular(ta, tb.mT, upper=upper, left=False))
        same(EL.solve_triangular(a, b, upper=upper, unitriangular=True),
             TL.solve_triangular(ta, tb, upper=upper, unitriangular=True))


# ------------------------------------------------------------------ decompositions

@pytest.mark.parametrize("a", [SQ, BATCH], ids=["single", "batch"])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(a, upper):
    e, t = pair(a)
    same(EL.cholesky(spd(e, ember), upper=upper), TL.cholesky(spd(t, torch), upper=upper))
    same(ember.cholesky(spd(e, ember), upper), torch.cholesky(spd(t, torch), upper))
    grads_match(lambda x: EL.cholesky(spd(x, ember), upper=upper),
                lambda x: TL.cholesky(spd(x, torch), upper=upper), a)
    gradcheck(lambda x: EL.cholesky(spd(x, ember), upper=upper), a)


def test_cholesky_errors():
    with pytest.raises(EL.LinAlgError, match=r"positive-definite \(the leading minor of order 2"):
        EL.cholesky(ember.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(EL.LinAlgError, match=r"\(Batch element 1\)"):
        EL.cholesky(ember.stack([ember.eye(2), ember.tensor([[1.0, 2.0], [2.0, 1.0]])]))
    same(*both(lambda m: m.linalg.cholesky(m.tensor([[4.0, 100.0], [2.0, 3.0]]))))


@pytest.mark.parametrize("a", [TALL, WIDE, SQ, BATCH, RNG.standard_normal((2, 2, 4))],
                         ids=["tall", "wide", "square", "batch", "batch-wide"])
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(a, mode):
    e, t = pair(a)
    re, rt = EL.qr(e, mode), TL.qr(t, mode)
    same(re, rt, tol=1e-9)
    m, n = a.shape[-2:]
    if mode == "r" or (mode == "complete" and m > n):
        with pytest.raises(RuntimeError, match="differentiable|depends on Q"):
            x = ember.tensor(a, requires_grad=True)
            sum(t.sum() for t in EL.qr(x, mode) if t.numel()).backward()
        return
    grads_match(lambda x: EL.qr(x, mode), lambda x: TL.qr(x, mode), a, tol=1e-8)
    gradcheck(lambda x: EL.qr(x, mode).Q, a)


def test_qr_older_form_and_errors():
    e, t = pair(TALL)
    same(ember.qr(e), torch.qr(t))
    same(e.qr(some=False), t.qr(some=False))
    with pytest.raises(RuntimeError, match="unrecognized mode 'foo'"):
        EL.qr(e, mode="foo")
    with pytest.raises(RuntimeError, match="Got Long"):
        EL.qr(ember.ones(2, 2, dtype=ember.int64))
    # nn.init.orthogonal_'s use: Q of a random matrix is orthogonal
    q = EL.qr(ember.randn(5, 3)).Q
    assert np.allclose(q.mT.matmul(q)._data, np.eye(3), atol=1e-5)


def _sign_fixed(V):
    """Eigen/singular vectors with the sign that makes each column's largest entry
    positive (they are unique only up to sign)."""
    a = np.asarray(V.detach()._data if isinstance(V, ember.Tensor) else V.detach().numpy())
    idx = np.abs(a).argmax(-2)
    s = np.sign(np.take_along_axis(a, idx[..., None, :], -2))
    return a * s


@pytest.mark.parametrize("a", [SQ, BATCH], ids=["single", "batch"])
@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh(a, UPLO):
    e, t = pair(a)
    se, st = spd(e, ember), spd(t, torch)
    (we, ve), (wt, vt) = EL.eigh(se, UPLO), TL.eigh(st, UPLO)
    same(we, wt, 1e-9)
    np.testing.assert_allclose(_sign_fixed(ve), _sign_fixed(vt), atol=1e-9)
    same(EL.eigvalsh(se, UPLO), TL.eigvalsh(st, UPLO), 1e-9)
    # gauge-invariant functions of the eigenvectors
    grads_match(lambda x: EL.eigh(spd(x, ember), UPLO).eigenvalues,
                lambda x: TL.eigh(spd(x, torch), UPLO).eigenvalues, a)
    def rebuilt(m):
        def f(x):
            w, v = m.linalg.eigh(spd(x, m), UPLO)
            return (v * w.unsqueeze(-2)) @ v.mT
        return f
    grads_match(rebuilt(ember), rebuilt(torch), a, tol=1e-7)
    grads_match(lambda x: EL.eigh(spd(x, ember), UPLO).eigenvectors.abs(),
                lambda x: TL.eigh(spd(x, torch), UPLO).eigenvectors.abs(), a, tol=1e-7)
    with pytest.raises(RuntimeError, match="Expected UPLO argument to be 'L' or 'U', but got X"):
        EL.eigh(se, "X")


@pytest.mark.parametrize("a", [TALL, WIDE, SQ, BATCH], ids=["tall", "wide", "square", "batch"])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd(a, full_matrices):
    e, t = pair(a)
    (ue, se, ve), (ut, st, vt) = EL.svd(e, full_matrices), TL.svd(t, full_matrices)
    assert ue.shape == ut.shape and ve.shape == vt.shape
    same(se, st, 1e-9)
    k = min(a.shape[-2:])
    recon = (ue[..., :k] * se.unsqueeze(-2)) @ ve[..., :k, :]
    np.testing.assert_allclose(recon._data, a, atol=1e-9)
    same(EL.svdvals(e), TL.svdvals(t), 1e-9)
    grads_match(EL.svdvals, TL.svdvals, a)
    if not full_matrices or a.shape[-1] == a.shape[-2]:
        # gauge-invariant uses of U and Vh: the polar factor U Vh and |U|
        def polar(m):
            def f(x):
                u, _, v = m.linalg.svd(x, full_matrices)
                return u[..., :k] @ v[..., :k, :]
            return f
        grads_match(polar(ember), polar(torch), a, tol=1e-7)
        grads_match(lambda x: EL.svd(x, full_matrices).U[..., :k].abs(),
                    lambda x: TL.svd(x, full_matrices).U[..., :k].abs(), a, tol=1e-7)
        grads_match(lambda x: EL.svd(x, full_matrices).Vh[..., :k, :].abs(),
                    lambda x: TL.svd(x, full_matrices).Vh[..., :k, :].abs(), a, tol=1e-7)
    else:
        x = ember.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match="full_matrices=True"):
            EL.svd(x, True).U.sum().backward()


def test_svd_older_form():
    e, t = pair(TALL)
    ue, se, ve = ember.svd(e)
    ut, st, vt = torch.svd(t)
    assert ue.shape == ut.shape and ve.shape == vt.shape
    same(se, st, 1e-9)
    np.testing.assert_allclose(((ue * se.unsqueeze(-2)) @ ve.mT)._data, TALL, atol=1e-9)
    assert tuple(ember.svd(e, some=False).U.shape) == (4, 4)
    z = e.svd(compute_uv=False)
    assert not z.U._data.any() and tuple(z.V.shape) == tuple(torch.svd(t, compute_uv=False).V.shape)


# ------------------------------------------------------------------ pinv, rank, lstsq

@pytest.mark.parametrize("a", [TALL, WIDE, BATCH, np.array([[1.0, 2.0], [2.0, 4.0]])],
                         ids=["tall", "wide", "batch", "rank1"])
def test_pinv_and_rank(a):
    e, t = pair(a)
    same(EL.pinv(e), TL.pinv(t), 1e-9)
    same(ember.pinverse(e), torch.pinverse(t), 1e-9)
    same(EL.matrix_rank(e), TL.matrix_rank(t))
    for kw in ({"atol": 1.0}, {"rtol": 0.5}, {"atol": 0.1, "rtol": 0.1}):
        same(EL.pinv(e, **kw), TL.pinv(t, **kw), 1e-9)
        same(EL.matrix_rank(e, **kw), TL.matrix_rank(t, **kw))
    if a.shape[-1] == a.shape[-2]:
        s, ts = spd(e, ember), spd(t, torch)
        same(EL.pinv(s, hermitian=True), TL.pinv(ts, hermitian=True), 1e-9)
        same(EL.matrix_rank(s, hermitian=True), TL.matrix_rank(ts, hermitian=True))
    if np.linalg.matrix_rank(a).min() == min(a.shape[-2:]):
        grads_match(EL.pinv, TL.pinv, a, tol=1e-7)


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss", "gels"])
def test_lstsq(driver):
    (a, ta), (b, tb) = pair(TALL), pair(RNG.standard_normal((4, 2)))
    re, rt = EL.lstsq(a, b, driver=driver), TL.lstsq(ta, tb, driver=driver)
    for x, y in zip(re, rt):
        same(x, y, 1e-8)
    grads_match(lambda x, y: EL.lstsq(x, y, driver=driver).solution,
                lambda x, y: TL.lstsq(x, y, driver=driver).solution, TALL, b._data, tol=1e-7)


def test_linalg_small_extras():
    (a, ta), (b, tb) = make((4, 3), "float64"), make((4, 3), "float64", seed=1)
    same(EL.cross(a, b), TL.cross(ta, tb))
    same(EL.vecdot(a, b), TL.vecdot(ta, tb))
    same(EL.multi_dot([a, b.mT, a]), TL.multi_dot([ta, tb.mT, ta]))
    same(EL.diagonal(a), TL.diagonal(ta))
    same(EL.matmul(a, b.mT), TL.matmul(ta, tb.mT))
    assert ember.linalg is EL
