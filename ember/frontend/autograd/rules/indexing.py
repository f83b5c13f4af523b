"""VJP rules: indexing family.

`index`/`index_put` take a variable number of index operands, which a static `save`
tuple cannot name; the frontend's `dispatch_indexed` stores them in the node's attrs
under "_indices" instead (they are integer tensors and never need gradients).
"""
from ._base import VJPRule, unbroadcast


def _dispatch(*a, **k):
    from ...dispatch import dispatch
    return dispatch(*a, **k)


def _indexed(*a, **k):
    from ...ops.indexing import dispatch_indexed
    return dispatch_indexed(*a, **k)


def _zeros(shape, like):
    from ...ops.creation import zeros
    return zeros(tuple(shape), dtype=like.dtype)


def _zero_scalar(like):
    return like._data.dtype.type(0)


def _indices(ctx):
    return ctx.attrs["_indices"]


# ------------------------------------------------------------------ gather / scatter

def _gather(ctx, g):
    (idx,) = ctx.saved
    dim = ctx.attrs["dim"]
    return _dispatch("scatter", _zeros(ctx.shapes[0], g), idx, g, dim=dim, reduce="add"), None


def _pad_to(t, shape):
    """t placed in the leading corner of zeros(shape) (src may be larger than index)."""
    if tuple(t.shape) == tuple(shape):
        return t
    from ...ops.creation import arange
    n = len(shape)
    idxs = [arange(d).reshape(tuple(d if j == i else 1 for j in range(n)))
            for i, d in enumerate(t.shape)]
    return _indexed("index_put", _zeros(shape, t), t, *idxs, positions=tuple(range(n)))


def _masked_scattered(g, idx, dim):
    """g with every position that the scatter wrote to set to zero."""
    return _dispatch("scatter", g, idx, _zero_scalar(g), dim=dim)


def _scatter(ctx, g):
    x, idx, src, out = ctx.saved
    dim = ctx.attrs["dim"]
    reduce = ctx.attrs.get("reduce")
    include_self = ctx.attrs.get("include_self", True)
    gx, gsrc = _SCATTER_GRADS[reduce](g, x, idx, src, out, dim, include_self)
    if reduce is not None and reduce != "add" and not include_self and gx is not None:
        gx = _masked_scattered(gx, idx, dim)
    gx = gx if ctx.needs[0] else None
    gsrc = _pad_to(gsrc, ctx.shapes[2]) if ctx.needs[2] and gsrc is not None else None
    return gx, None, gsrc


def _grads_plain(g, x, idx, src, out, dim, include_self):
    return _masked_scattered(g, idx, dim), g.gather(dim, idx)


def _grads_add(g, x, idx, src, out, dim, include_self):
    gx = g if include_self else _masked_scattered(g, idx, dim)
    return gx, g.gather(dim, idx)


def _grads_mean(g, x, idx, src, out, dim, include_self):
    from ...ops.creation import full
    count = full(tuple(g.shape), 1.0 if include_self else 0.0, dtype=g.dtype)
    ones = full(tuple(idx.shape), 1.0, dtype=g.dtype)
    count = _dispatch("scatter", count, idx, ones, dim=dim, reduce="add").clamp_min(1.0)
    gd = g / count
    return gd, gd.gather(dim, idx)


def _grads_extreme(g, x, idx, src, out, dim, include_self):
    # ties share the gradient equally, as in PyTorch
    value = out.gather(dim, idx)
    self_is = (x == out).to(g.dtype)
    if not include_self:
        self_is = _masked_scattered(self_is, idx, dim)
    src_region = src if tuple(src.shape) == tuple(idx.shape) else _region(src, idx.shape)
    src_is = (src_region == value).to(g.dtype)
    n = _dispatch("scatter", self_is, idx, src_is, dim=dim, reduce="add")
    gd = g / n
    return self_is * gd, src_is * gd.gather(dim, idx)


def _grads_prod(g, x, idx, src, out, dim, include_self):
    from ...ops.elementwise import where
    go = g * out
    src_region = src if tuple(src.shape) == tuple(idx.shape) else _region(src, idx.shape)
    gx = where(x == 0, 0.0, go / where(x == 0, 1.0, x))
    gs = go.gather(dim, idx)
    gsrc = where(src_region == 0, 0.0, gs / where(src_region == 0, 1.0, src_region))
    return gx, gsrc


def _region(t, shape):
    key = tuple(slice(0, n) for n in shape)
    return t[key]


_SCATTER_GRADS = {None: _grads_plain, "add": _grads_add, "mean": _grads_mean,
                  "amax": _grads_extreme, "amin": _grads_extreme, "multiply": _grads_prod}


def _index_select(ctx, g):
    (idx,) = ctx.saved
    dim = ctx.attrs["dim"]
    zeros = _zeros(ctx.shapes[0], g)
    if not ctx.shapes[0]:
        return g.reshape(()).clone() if idx.numel() else zeros, None
    return _indexed("index_put", zeros, g, idx.reshape(-1), positions=(dim,),
                    accumulate=True), None


# ------------------------------------------------------------------ index / index_put

def _index(ctx, g):
    idxs = _indices(ctx)
    gx = _indexed("index_put", _zeros(ctx.shapes[0], g), g, *idxs,
                  positions=ctx.attrs["positions"], accumulate=True)
    return (gx,) + (None,) * len(idxs)


def _index_put(ctx, g):
    idxs = _indices(ctx)
    positions = ctx.attrs["positions"]
    gx = gv = None
    if ctx.needs[0]:
        if ctx.attrs.get("accumulate", False):
            gx = g
        else:
            gx = _indexed("index_put", g, _zeros((), g), *idxs, positions=positions)
    if ctx.needs[1]:
        gv = unbroadcast(_indexed("index", g, *idxs, positions=positions), ctx.shapes[1])
    return (gx, gv) + (None,) * len(idxs)


RULES = {
    "gather": VJPRule(_gather, (1,)),
    "scatter": VJPRule(_scatter, (0, 1, 2, -1)),
    "index_select": VJPRule(_index_select, (1,)),
    "index": VJPRule(_index),
    "index_put": VJPRule(_index_put),
}
