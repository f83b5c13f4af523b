"""VJP rules: special functions and frexp (each derivative is another special function)."""
from ._base import VJPRule


def _dispatch(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _unary(deriv, save=(0,)):
    def fn(ctx, g):
        return (g * deriv(ctx, *ctx.saved),)
    return VJPRule(fn, save)


def _i1_deriv(ctx, x, y):
    from ...ops.elementwise import where
    # I1'(x) = I0(x) - I1(x) / x, which tends to 1/2 at 0
    return where(x == 0, 0.5, _dispatch("i0", x) - y / x)


def _frexp(ctx, g_mantissa, g_exponent=None):
    if g_mantissa is None:
        return (None,)
    (exponent,) = ctx.saved
    # mantissa = x * 2**-exponent, with the exponent piecewise constant
    return (g_mantissa * (-exponent.to(g_mantissa.dtype)).exp2(),)


RULES = {
    "lgamma": _unary(lambda ctx, x: _dispatch("digamma", x)),
    "digamma": _unary(lambda ctx, x: _dispatch("polygamma", x, n=1)),
    "polygamma": _unary(lambda ctx, x: _dispatch("polygamma", x, n=ctx.attrs.get("n", 0) + 1)),
    "i0": _unary(lambda ctx, x: _dispatch("i1", x)),
    "i1": _unary(_i1_deriv, (0, -1)),
    "frexp": VJPRule(_frexp, (-2,)),
}
