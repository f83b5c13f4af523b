"""VJP rules: linear-algebra externs (inv, solve, det, slogdet, cholesky, qr, eigh, svd).

The formulas are PyTorch's (FunctionsManual.cpp), for real inputs, written with Tensor
ops (matmul, solve, inv...) so they differentiate again under create_graph. Batched
operands that were broadcast get their gradient summed back (`unbroadcast`).
"""
from ._base import VJPRule, unbroadcast


def _d(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _mT(t):
    return t.transpose(-2, -1)


def _diag(v):
    """Batched diagonal matrices from the last dim of v."""
    return v.diag_embed()


def _zeros_like(t):
    from ...ops.creation import zeros_like
    return zeros_like(t)


def _right_solve(X, R):
    """X @ R^{-1}, as solve(R^T, X^T)^T."""
    return _mT(_d("solve", _mT(R), _mT(X)))


# ------------------------------------------------------------------ inverse, solve, determinants

def _inv(ctx, g):
    (Y,) = ctx.saved
    Yt = _mT(Y)
    return (-(Yt @ g @ Yt),)


def _solve(ctx, g):
    A, X = ctx.saved
    gB = _d("solve", _mT(A), g)
    gA = -(gB @ _mT(X)) if ctx.needs[0] else None
    return (unbroadcast(gA, ctx.shapes[0]) if gA is not None else None,
            unbroadcast(gB, ctx.shapes[1]) if ctx.needs[1] else None)


def _adjugate_t(A):
    """adj(A)^T = det(U) det(V) U diag(prod of the other singular values) V^T, which stays
    finite and exact where A is singular (no division by det(A))."""
    from ...ops.shape import cat
    U, S, Vh = _d("svd", A, full_matrices=False)
    n = S.shape[-1]
    one = S.narrow(-1, 0, 1) * 0 + 1
    before = cat([one, S.narrow(-1, 0, n - 1)], -1).cumprod(-1)
    after = cat([S.narrow(-1, 1, n - 1), one], -1).flip(-1).cumprod(-1).flip(-1)
    c = _d("det", U) * _d("det", Vh)
    return (U * (c.unsqueeze(-1) * before * after).unsqueeze(-2)) @ Vh


def _det(ctx, g):
    A, d = ctx.saved
    if A.shape[-1] == 0:
        return (_zeros_like(A),)
    gg = g.unsqueeze(-1).unsqueeze(-1)
    from ....runtime.autograd import STATE
    if STATE.tracer is None and (d._data != 0).all():  # (a traced rule must hold for any A)
        return (gg * d.unsqueeze(-1).unsqueeze(-1) * _mT(_d("inv", A)),)
    return (gg * _adjugate_t(A),)


def _slogdet(ctx, g_sign, g_logabs=None):
    if g_logabs is None:
        return (None,)
    (A,) = ctx.saved
    return (g_logabs.unsqueeze(-1).unsqueeze(-1) * _mT(_d("inv", A)),)


# ------------------------------------------------------------------ factorizations

def _cholesky(ctx, gL):
    (L,) = ctx.saved
    if ctx.attrs.get("upper", False):
        L, gL = _mT(L), _mT(gL)
    Linv = _d("inv", L)
    phi = (_mT(L) @ gL).tril()
    phi = phi - 0.5 * _diag(phi.diagonal(0, -2, -1))
    gA = _mT(Linv) @ phi @ Linv
    return (0.5 * (gA + _mT(gA)),)


def _copyltu(M):
    """The symmetric matrix with M's lower triangle."""
    return M.tril() + _mT(M.tril(-1))


def _qr_tall(Q, R, gQ, gR):
    """Gradient of reduced QR of an m x n matrix with m >= n."""
    M = R @ _mT(gR) - _mT(gQ) @ Q
    return _right_solve(gQ + Q @ _copyltu(M), _mT(R))


def _qr(ctx, gQ, gR):
    Q, R = ctx.saved
    mode = ctx.attrs.get("mode", "reduced")
    m, n = ctx.shapes[0][-2:]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                           "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going "
                           "to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and "
                           "nrows > ncols.")
    gQ = gQ if gQ is not None else _zeros_like(Q)
    gR = gR if gR is not None else _zeros_like(R)
    if m >= n:
        return (_qr_tall(Q, R, gQ, gR),)
    # A = Q [X | Y] with X square: X's part is a square QR, and Y = Q^T A_Y
    from ...ops.shape import cat
    X, Y = R.narrow(-1, 0, m), R.narrow(-1, m, n - m)
    gX, gY = gR.narrow(-1, 0, m), gR.narrow(-1, m, n - m)
    gQ = gQ + Q @ Y @ _mT(gY)
    return (cat([_qr_tall(Q, X, gQ, gX), Q @ gY], -1),)


def _eigh(ctx, gL, gV):
    L, V = ctx.saved
    if gV is None:
        return (V @ (gL.unsqueeze(-1) * _mT(V)),)
    VtgV = _mT(V) @ gV
    VtgV = 0.5 * (VtgV - _mT(VtgV))  # the skew part: eigenvectors' sign/rotation freedom
    E = L.unsqueeze(-2) - L.unsqueeze(-1)
    E = E + _diag(L * 0 + 1)  # any nonzero diagonal: the numerator's diagonal is 0
    ret = VtgV / E
    if gL is not None:
        ret = ret + _diag(gL)
    return (V @ ret @ _mT(V),)


def _svd(ctx, gU, gS, gVh):
    U, S, Vh = ctx.saved
    m, n = ctx.shapes[0][-2:]
    k = min(m, n)
    if ctx.attrs.get("full_matrices", True):
        if (gU is not None or gVh is not None) and m != n:
            raise RuntimeError("torch.linalg.svd: The derivative of U and Vh is not implemented "
                               "when full_matrices=True. Please use full_matrices=False.")
        U, Vh = U.narrow(-1, 0, k), Vh.narrow(-2, 0, k)
        gU = gU.narrow(-1, 0, k) if gU is not None else None
        gVh = gVh.narrow(-2, 0, k) if gVh is not None else None
    if gU is None and gVh is None:  # singular values only: U diag(gS) Vh
        return ((U * gS.unsqueeze(-2)) @ Vh,)
    skew = lambda X: X - _mT(X)  # noqa: E731
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1)
    E = E + _diag(S * 0 + 1)
    if gU is not None and gVh is not None:
        ret = (skew(_mT(U) @ gU) * S.unsqueeze(-2) + S.unsqueeze(-1) * skew(Vh @ _mT(gVh))) / E
    elif gU is not None:
        ret = (skew(_mT(U) @ gU) / E) * S.unsqueeze(-2)
    else:
        ret = S.unsqueeze(-1) * (skew(Vh @ _mT(gVh)) / E)
    if gS is not None:
        ret = ret + _diag(gS)
    if m > n and gU is not None:
        gA = U @ ret
        gUSinv = gU / S.unsqueeze(-2)
        gA = (gA + gUSinv - U @ (_mT(U) @ gUSinv)) @ Vh
    elif m < n and gVh is not None:
        gA = ret @ Vh
        SinvgVh = gVh / S.unsqueeze(-1)
        gA = U @ (gA + SinvgVh - (SinvgVh @ _mT(Vh)) @ Vh)
    else:
        gA = U @ ret @ Vh
    return (gA,)


RULES = {
    "inv": VJPRule(_inv, (-1,)),
    "solve": VJPRule(_solve, (0, -1)),
    "det": VJPRule(_det, (0, -1)),
    "slogdet": VJPRule(_slogdet, (0,)),
    "cholesky": VJPRule(_cholesky, (-1,)),
    "qr": VJPRule(_qr, (-1, -2)),
    "eigh": VJPRule(_eigh, (-1, -2)),
    "svd": VJPRule(_svd, (-1, -2, -3)),
}
