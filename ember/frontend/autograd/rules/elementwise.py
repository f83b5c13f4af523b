"""VJP rules for elementwise primitives, written with Tensor ops."""
import math

import numpy as np

from ...tensor import Tensor, _wrap, constant
from ._base import VJPRule, unbroadcast

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _unary(f, save=(0,)):
    """Rule for y = op(x) whose gradient is g * f(x, y)."""
    def fn(ctx, g):
        return (g * f(*ctx.saved),)
    return VJPRule(fn, save)


def _zero(ctx, g):
    return (g * 0,)


def _binary(fa, fb, save=(0, 1)):
    """Rule for z = op(a, b): ga = fa(g, *saved), gb = fb(g, *saved), unbroadcast to operands."""
    def fn(ctx, g):
        s = ctx.saved
        ga = unbroadcast(fa(g, *s), ctx.shapes[0]) if ctx.needs[0] else None
        gb = unbroadcast(fb(g, *s), ctx.shapes[1]) if ctx.needs[1] else None
        return ga, gb
    return VJPRule(fn, save)


def _saved_operand(ctx, i, s):
    return s[i]


def _add(ctx, g):
    return (unbroadcast(g, ctx.shapes[0]) if ctx.needs[0] else None,
            unbroadcast(g, ctx.shapes[1]) if ctx.needs[1] else None)


def _sub(ctx, g):
    return (unbroadcast(g, ctx.shapes[0]) if ctx.needs[0] else None,
            unbroadcast(-g, ctx.shapes[1]) if ctx.needs[1] else None)


def _mul(ctx, g):
    a, b = ctx.saved
    return (unbroadcast(g * b, ctx.shapes[0]) if ctx.needs[0] else None,
            unbroadcast(g * a, ctx.shapes[1]) if ctx.needs[1] else None)


def _div(ctx, g):
    a, b = ctx.saved
    ga = unbroadcast(g / b, ctx.shapes[0]) if ctx.needs[0] else None
    gb = unbroadcast(-g * a / (b * b), ctx.shapes[1]) if ctx.needs[1] else None
    return ga, gb


def _pow(ctx, g):
    from ...ops.elementwise import where
    a, b = (t if isinstance(t, Tensor) else constant(_wrap(np.asarray(t))) for t in ctx.saved)
    ga = gb = None
    if ctx.needs[0]:
        # b * a**(b-1), with 0 where b == 0 (PyTorch's convention: d/da a**0 = 0)
        ga = unbroadcast(where(b == 0, 0.0, g * b * a ** (b - 1)), ctx.shapes[0])
    if ctx.needs[1]:
        # a**b * log(a), taken as 0 where a == 0 and b >= 0
        out = a ** b
        gb = unbroadcast(where((a == 0) & (b >= 0), 0.0, g * out * a.log()), ctx.shapes[1])
    return ga, gb


def _minmax(pick_a):
    """maximum/minimum: the gradient goes to the chosen operand, split evenly on ties."""
    def fn(ctx, g):
        a, b = ctx.saved
        win_a = pick_a(a, b)
        tie = (a == b)
        wa = win_a.to(g.dtype) + tie.to(g.dtype) * 0.5
        ga = unbroadcast(g * wa, ctx.shapes[0]) if ctx.needs[0] else None
        gb = unbroadcast(g * (1.0 - wa), ctx.shapes[1]) if ctx.needs[1] else None
        return ga, gb
    return VJPRule(fn, (0, 1))


def _where(ctx, g):
    from ...ops.elementwise import where
    c = ctx.saved[0]
    zero = g.new_zeros(())
    return (None,
            unbroadcast(where(c, g, zero), ctx.shapes[1]) if ctx.needs[1] else None,
            unbroadcast(where(c, zero, g), ctx.shapes[2]) if ctx.needs[2] else None)


def _convert(ctx, g):
    from ...ops.elementwise import _NP2DT
    return (g.to(_NP2DT[ctx.dtypes[0]]),)


def _atan2(ctx, g):
    a, b = ctx.saved
    den = a * a + b * b
    return (unbroadcast(g * b / den, ctx.shapes[0]) if ctx.needs[0] else None,
            unbroadcast(-g * a / den, ctx.shapes[1]) if ctx.needs[1] else None)


def _fmod_like(ctx, g, quotient):
    a, b = ctx.saved
    return (unbroadcast(g, ctx.shapes[0]) if ctx.needs[0] else None,
            unbroadcast(-g * quotient(a / b), ctx.shapes[1]) if ctx.needs[1] else None)


_SQRT_PI_2 = 2.0 / math.sqrt(math.pi)

RULES = {
    "add": VJPRule(_add), "sub": VJPRule(_sub), "mul": VJPRule(_mul, (0, 1)),
    "div": VJPRule(_div, (0, 1)), "pow": VJPRule(_pow, (0, 1)),
    "maximum": _minmax(lambda a, b: a > b), "minimum": _minmax(lambda a, b: a < b),
    "atan2": VJPRule(_atan2, (0, 1)),
    "fmod": VJPRule(lambda ctx, g: _fmod_like(ctx, g, lambda q: q.trunc()), (0, 1)),
    "remainder": VJPRule(lambda ctx, g: _fmod_like(ctx, g, lambda q: q.floor()), (0, 1)),
    "floor_divide": VJPRule(lambda ctx, g: (g * 0 if ctx.needs[0] else None,
                                            None if not ctx.needs[1] else unbroadcast(g * 0, ctx.shapes[1]))),
    "neg": VJPRule(lambda ctx, g: (-g,)),
    "exp": _unary(lambda y: y, (-1,)),
    "exp2": _unary(lambda y: y * _LN2, (-1,)),
    "expm1": _unary(lambda y: y + 1, (-1,)),
    "log": _unary(lambda x: x.reciprocal()),
    "log2": _unary(lambda x: (x * _LN2).reciprocal()),
    "log10": _unary(lambda x: (x * _LN10).reciprocal()),
    "log1p": _unary(lambda x: (x + 1).reciprocal()),
    "sqrt": _unary(lambda y: (y * 2).reciprocal(), (-1,)),
    "rsqrt": _unary(lambda y: y * y * y * -0.5, (-1,)),
    "sin": _unary(lambda x: x.cos()),
    "cos": _unary(lambda x: -x.sin()),
    "tan": _unary(lambda y: y * y + 1, (-1,)),
    "asin": _unary(lambda x: (1 - x * x).rsqrt()),
    "acos": _unary(lambda x: -(1 - x * x).rsqrt()),
    "atan": _unary(lambda x: (1 + x * x).reciprocal()),
    "sinh": _unary(lambda x: x.cosh()),
    "cosh": _unary(lambda x: x.sinh()),
    "tanh": _unary(lambda y: 1 - y * y, (-1,)),
    "sigmoid": _unary(lambda y: y * (1 - y), (-1,)),
    "erf": _unary(lambda x: (-(x * x)).exp() * _SQRT_PI_2),
    "erfinv": _unary(lambda y: (y * y).exp() * (math.sqrt(math.pi) / 2), (-1,)),
    "reciprocal": _unary(lambda y: -(y * y), (-1,)),
    "abs": _unary(lambda x: x.sign()),
    "sign": VJPRule(_zero), "floor": VJPRule(_zero), "ceil": VJPRule(_zero),
    "round": VJPRule(_zero), "trunc": VJPRule(_zero),
    "where": VJPRule(_where, (0,)),
    "convert": VJPRule(_convert),
}
