"""VJP rules: reductions and scans, written with Tensor ops."""
from ....runtime.autograd import STATE
from ._base import VJPRule


def _output(ctx, op, **attrs):
    """The saved forward output, or under create_graph a recomputation from the input:
    saved outputs carry no history, so a rule using them would lose the second-order term."""
    x, y = ctx.saved
    if STATE.enabled and x._requires_grad:
        from ...dispatch import dispatch
        return dispatch(op, x, **attrs)
    return y


def _kept_shape(ctx):
    shape = ctx.shapes[0]
    dims = ctx.attrs.get("dims")
    return tuple(1 if (dims is None or i in dims) else d for i, d in enumerate(shape))


def _keep(ctx, t):
    """t (a reduction result) reshaped to broadcast against the input."""
    if ctx.attrs.get("keepdim", False) or not ctx.shapes[0]:
        return t
    return t.reshape(_kept_shape(ctx))


def _dims_kw(ctx):
    dims = ctx.attrs.get("dims")
    if dims is None or not ctx.shapes[0]:
        return {}
    return {"dims": dims, "keepdim": True}


def _sum_keep(ctx, t):
    from ...dispatch import dispatch
    return dispatch("sum", t, **_dims_kw(ctx)).reshape(_kept_shape(ctx))


def _sum(ctx, g):
    return (_keep(ctx, g).expand(ctx.shapes[0]),)


def _prod(ctx, g):
    """d prod / d x_i = product of the others; exact with zeros (no division by them)."""
    from ...ops.elementwise import where
    from ...dispatch import dispatch
    x = ctx.saved[0]
    y = _output(ctx, "prod", **ctx.attrs)
    g = _keep(ctx, g)
    is_zero = x == 0
    if STATE.tracer is None and not is_zero._data.any():  # (a traced rule must hold for any x)
        return (g * _keep(ctx, y) / x,)
    nz = where(is_zero, 1.0, x)
    p = dispatch("prod", nz, **_dims_kw(ctx)).reshape(_kept_shape(ctx))
    count = _sum_keep(ctx, is_zero)
    grad = where(count == 0, p / nz, where(is_zero & (count == 1), p, 0.0))
    return (g * grad,)


def _extreme(ctx, g):
    """amax/amin: the gradient is split evenly among the tied extreme elements, as torch."""
    x, y = ctx.saved
    mask = (x == _keep(ctx, y)).to(g.dtype)
    return (_keep(ctx, g) * mask / _sum_keep(ctx, mask),)


def _reverse_cumsum(t, dim):
    """sum_{k >= i} t_k along dim, without a flip: total - inclusive prefix + self."""
    from ...dispatch import dispatch
    if t.ndim == 0:
        return t
    total = dispatch("sum", t, dims=(dim,), keepdim=True)
    return total - dispatch("cumsum", t, dim=dim) + t


def _cumsum(ctx, g):
    return (_reverse_cumsum(g, ctx.attrs["dim"]),)


def _cumprod(ctx, g):
    """Where a slice has no zero: revcumsum(g * y) / x. With zeros (first zero at z):
    positions before z use the same formula, z gets revcumsum(g * cumprod(x with x_z = 1)),
    positions after z get 0 (their products all contain x_z)."""
    from ...ops.elementwise import where
    from ...dispatch import dispatch
    x = ctx.saved[0]
    y = _output(ctx, "cumprod", **ctx.attrs)
    dim = ctx.attrs["dim"]
    if x.ndim == 0:
        return (g,)
    is_zero = x == 0
    if STATE.tracer is None and not is_zero._data.any():  # (a traced rule must hold for any x)
        return (_reverse_cumsum(g * y, dim) / x,)
    seen = dispatch("cumsum", is_zero, dim=dim)
    first = is_zero & (seen == 1)
    safe = where(is_zero, 1.0, x)
    before = _reverse_cumsum(g * y, dim) / safe
    y1 = dispatch("cumprod", where(first, 1.0, x), dim=dim)
    at = _reverse_cumsum(g * y1, dim)
    return (where(seen == 0, before, where(first, at, 0.0)),)


RULES = {
    "sum": VJPRule(_sum),
    "prod": VJPRule(_prod, (0, -1)),
    "amax": VJPRule(_extreme, (0, -1)),
    "amin": VJPRule(_extreme, (0, -1)),
    "cumsum": VJPRule(_cumsum),
    "cumprod": VJPRule(_cumprod, (0, -1)),
}
