"""VJP rules: movement family."""
from ._base import VJPRule


def _reshape(ctx, g):
    return (g.reshape(ctx.shapes[0]),)


def _expand(ctx, g):
    return (g.sum_to_size(ctx.shapes[0]),)


def _permute(ctx, g):
    dims = ctx.attrs["dims"]
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return (g.permute(inv),)


RULES = {
    "reshape": VJPRule(_reshape), "expand": VJPRule(_expand), "permute": VJPRule(_permute),
    "copy": VJPRule(lambda ctx, g: (g,)),
}
