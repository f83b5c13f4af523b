"""VJP rules: movement family.

Every rule is itself built from movement primitives (dispatch / dispatch_view), so the
rules are differentiable again (create_graph) and trace to graph ops.
"""
from ._base import VJPRule


def _dispatch(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _view(op, x, **attrs):
    from ...dispatch import dispatch_view
    return dispatch_view(op, x, **attrs)


def _reshape(ctx, g):
    return (g.reshape(tuple(ctx.shapes[0])),)


def _expand(ctx, g):
    return (g.sum_to_size(ctx.shapes[0]),)


def _permute(ctx, g):
    dims = ctx.attrs["dims"]
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return (_view("permute", g, dims=tuple(inv)),)


def slice_pads(shape, starts, stops, steps):
    """The pad triples that put a slice's result back where it came from (zeros elsewhere)."""
    pads = []
    for d, a, b, s in zip(shape, starts, stops, steps):
        n = max(0, (b - a + s - 1) // s)
        hi = d - a - (n - 1) * s - 1 if n else d - a
        pads.append((a, hi, s - 1 if n else 0))
    return tuple(pads)


def _slice(ctx, g):
    a = ctx.attrs
    pads = slice_pads(ctx.shapes[0], a["starts"], a["stops"], a["steps"])
    return (_dispatch("pad", g, pads=pads, value=0),)


def _pad(ctx, g):
    pads = ctx.attrs["pads"]
    shape = ctx.shapes[0]
    if any(lo < 0 or hi < 0 for lo, hi, _ in pads):
        # cropped input elements get zero gradient: un-crop by padding g back out
        g = _dispatch("pad", g, pads=tuple((-lo, -hi, 0) for lo, hi, _ in pads), value=0)
        starts = (0,) * len(shape)
    else:
        starts = tuple(lo for lo, _, _ in pads)
    steps = tuple(it + 1 for _, _, it in pads)
    stops = tuple(min(a + max(d - 1, 0) * s + 1, n) if d else a
                  for a, d, s, n in zip(starts, shape, steps, g.shape))
    if all(a == 0 and s == 1 and b == n for a, b, s, n in zip(starts, stops, steps, g.shape)):
        return (g,)
    return (_view("slice", g, starts=starts, stops=stops, steps=steps),)


def _cat(ctx, *gs):
    g = gs[0]
    dim = ctx.attrs["dim"]
    nd = len(g.shape)
    out = []
    at = 0
    for shape, need in zip(ctx.shapes, ctx.needs):
        n = shape[dim]
        if need:
            starts = [0] * nd
            stops = list(g.shape)
            starts[dim], stops[dim] = at, at + n
            out.append(_view("slice", g, starts=tuple(starts), stops=tuple(stops),
                             steps=(1,) * nd))
        else:
            out.append(None)
        at += n
    return tuple(out)


def _flip(ctx, g):
    return (_dispatch("flip", g, dims=ctx.attrs["dims"]),)


def diag_embed_raw(g, shape, offset, dim1, dim2):
    """Zeros of `shape` with g's last dim written on the (offset, dim1, dim2) diagonal.

    In the row-major flattening of an (n1, n2) matrix the diagonal is an arithmetic
    progression with stride n2 + 1, so it is one interior `pad` of g, a reshape and a
    permute that moves the two matrix dims to dim1/dim2.
    """
    n1, n2 = shape[dim1], shape[dim2]
    L = g.shape[-1]
    rest = tuple(g.shape[:-1])
    if L == 0:
        lo, hi = 0, n1 * n2
    else:
        lo = max(-offset, 0) * n2 + max(offset, 0)
        hi = n1 * n2 - lo - (L - 1) * (n2 + 1) - 1
    pads = tuple((0, 0, 0) for _ in rest) + ((lo, hi, n2),)
    flat = _dispatch("pad", g, pads=pads, value=0)
    m = _view("reshape", flat, shape=rest + (n1, n2))
    src = [i for i in range(len(shape)) if i not in (dim1, dim2)] + [dim1, dim2]
    inv = [0] * len(src)
    for k, j in enumerate(src):
        inv[j] = k
    if inv == list(range(len(src))):
        return m
    return _view("permute", m, dims=tuple(inv))


def _diagonal(ctx, g):
    a = ctx.attrs
    return (diag_embed_raw(g, ctx.shapes[0], a["offset"], a["dim1"], a["dim2"]),)


RULES = {
    "reshape": VJPRule(_reshape), "expand": VJPRule(_expand), "permute": VJPRule(_permute),
    "slice": VJPRule(_slice), "pad": VJPRule(_pad), "cat": VJPRule(_cat),
    "flip": VJPRule(_flip), "diagonal": VJPRule(_diagonal),
    "copy": VJPRule(lambda ctx, g: (g,)),
}
