"""VJP rules: linalg family. For C = A @ B (batched): dA = dC @ B^T, dB = A^T @ dC, each
summed over the batch dims its operand was broadcast along."""
from ._base import VJPRule, unbroadcast


def _mT(t):
    from ...dispatch import dispatch_view
    n = t._data.ndim
    return dispatch_view("permute", t, dims=tuple(range(n - 2)) + (n - 1, n - 2))


def _matmul(ctx, g):
    from ...dispatch import dispatch
    a, b = ctx.saved
    ga = unbroadcast(dispatch("matmul", g, _mT(b)), ctx.shapes[0]) if ctx.needs[0] else None
    gb = unbroadcast(dispatch("matmul", _mT(a), g), ctx.shapes[1]) if ctx.needs[1] else None
    return ga, gb


RULES = {"matmul": VJPRule(_matmul, (0, 1))}
