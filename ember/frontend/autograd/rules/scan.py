"""VJP rules: running extrema and logcumsumexp.

cummax/cummin send each output's gradient to the element that set it (a scatter-add
along the dim). logcumsumexp's rule is the stable form PyTorch uses (after TensorFlow):
positive and negative parts of the gradient are accumulated in log space with a
reversed logcumsumexp, so no exp overflows.
"""
import ml_dtypes

from ._base import VJPRule


def _dispatch(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _cumext(ctx, g_values, g_indices=None):
    if g_values is None:
        return (None,)
    (idx,) = ctx.saved
    if not ctx.shapes[0]:
        return (g_values,)
    from ...ops.creation import zeros
    z = zeros(tuple(ctx.shapes[0]), dtype=g_values.dtype)
    return (z.scatter_add(ctx.attrs["dim"], idx, g_values),)


def _reverse_logcumsumexp(t, dim):
    return _dispatch("logcumsumexp", t.flip(dim), dim=dim).flip(dim)


def _logcumsumexp(ctx, g):
    from ...ops.elementwise import where
    x, out = ctx.saved
    dim = ctx.attrs["dim"]
    if not ctx.shapes[0]:
        return (g,)
    lowest = float(ml_dtypes.finfo(g._data.dtype).min)
    mag = g.abs()
    log_mag = where(mag > 0, mag, 1.0).log()  # the placeholder keeps log's gradient finite
    pos = where(g > 0, log_mag, lowest)
    neg = where(g < 0, log_mag, lowest)
    return ((_reverse_logcumsumexp(pos - out, dim) + x).exp() -
            (_reverse_logcumsumexp(neg - out, dim) + x).exp(),)


RULES = {
    "cummax": VJPRule(_cumext, (-2,)),
    "cummin": VJPRule(_cumext, (-2,)),
    "logcumsumexp": VJPRule(_logcumsumexp, (0, -1)),
}
