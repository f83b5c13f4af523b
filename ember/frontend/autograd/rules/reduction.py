"""VJP rules: reduction family."""
from ._base import VJPRule


def _sum(ctx, g):
    shape = ctx.shapes[0]
    dims = ctx.attrs.get("dims")
    if not ctx.attrs.get("keepdim", False):
        g = g.reshape(tuple(1 if (dims is None or i in dims) else d for i, d in enumerate(shape)))
    return (g.expand(shape),)


RULES = {"sum": VJPRule(_sum)}
