"""Elementwise ops: type promotion, Python scalars, operators, in-place variants.

Primitives take operands of one dtype; this module applies PyTorch's promotion first
(inserting `convert`) and turns Python scalars into NumPy scalars of the result dtype.
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

from ...ir import dtypes as D
from ..dispatch import dispatch
from ...runtime.autograd import STATE
from ...runtime.cpu.elementwise import write_binary
from ..tensor import Tensor, install_methods
from .inplace import inplace

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating, ml_dtypes.bfloat16)
_FLOATS = frozenset(d.np for d in D.FLOAT_DTYPES)

__all__ = []


def _public(fn):
    __all__.append(fn.__name__)
    return fn


def _dt(t):
    return _NP2DT[t._data.dtype]


def _cast(t, dt):
    if t._data.dtype is dt.np or t._data.dtype == dt.np:
        return t
    return dispatch("convert", t, dtype=dt)


def _scalar(v, dt, op):
    """A Python scalar as a NumPy scalar of dtype dt. Integers outside dt's range wrap
    (uint8_tensor + -3 adds 253) as in PyTorch; beyond 64 bits they are an error."""
    try:
        return dt.np.type(v)
    except OverflowError:
        if dt.category == D.INT and -(1 << 63) <= v < (1 << 64):
            bits = 8 * dt.itemsize
            w = int(v) & ((1 << bits) - 1)
            if dt.is_signed and w >= 1 << (bits - 1):
                w -= 1 << bits
            return dt.np.type(w)
        raise RuntimeError(f"{op}: value {v} cannot be converted to type {dt.name} without "
                           f"overflow") from None


def _as_operand(x, op):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, _SCALARS):
        return x
    if isinstance(x, (list, tuple, np.ndarray)):
        from .creation import tensor
        return tensor(x)
    raise TypeError(f"{op}(): expected Tensor or number as operand, but got {type(x).__name__}")


def promote(op, a, b):
    """(a', b', dtype): both operands in PyTorch's result dtype; scalars as NumPy scalars."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            da, db = a._data.dtype, b._data.dtype
            if da is db or da == db:
                return a, b, _NP2DT[da]
            ta, tb = _NP2DT[da], _NP2DT[db]
            za, zb = a._data.ndim == 0, b._data.ndim == 0
            dims = [t for t, z in ((ta, za), (tb, zb)) if not z]
            zeros = [t for t, z in ((ta, za), (tb, zb)) if z]
            dt = D.result_type_of(dims, zeros, ())
            return _cast(a, dt), _cast(b, dt), dt
        b = _as_operand(b, op)
        if isinstance(b, Tensor):
            return promote(op, a, b)
        dt = D.promote_with_scalar(_NP2DT[a._data.dtype], D.scalar_category(b))
        return _cast(a, dt), _scalar(b, dt, op), dt
    a = _as_operand(a, op)
    if isinstance(a, Tensor):
        return promote(op, a, b)
    if not isinstance(b, Tensor):
        from .creation import tensor
        return promote(op, tensor(a), b)
    dt = D.promote_with_scalar(_NP2DT[b._data.dtype], D.scalar_category(a))
    return _scalar(a, dt, op), _cast(b, dt), dt


def _to_float(op, a, b):
    pa, pb, dt = promote(op, a, b)
    if dt.category != D.FLOAT:
        # scalars from their original value: promote may have wrapped them into an int dtype
        f = D.get_default_dtype()
        pa = _cast(pa, f) if isinstance(pa, Tensor) else f.np.type(a)
        pb = _cast(pb, f) if isinstance(pb, Tensor) else f.np.type(b)
    return pa, pb


def _binary(op):
    def fn(a, b):
        a, b, _ = promote(op, a, b)
        return dispatch(op, a, b)
    fn.__name__ = op
    return fn


def _float_binary(op):
    def fn(a, b):
        a, b = _to_float(op, a, b)
        return dispatch(op, a, b)
    fn.__name__ = op
    return fn


def _unary(op):
    def fn(input):
        return dispatch(op, input)
    fn.__name__ = op
    return fn


def _float_unary(op):
    """Integer inputs compute in the default float dtype, as in PyTorch."""
    def fn(input):
        if input._data.dtype not in _FLOATS:
            input = _cast(input, D.get_default_dtype())
        return dispatch(op, input)
    fn.__name__ = op
    return fn


_UNARY_FLOAT = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt",
                "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid",
                "erf", "erfinv", "reciprocal")
_UNARY_SAME = ("neg", "abs", "sign", "floor", "ceil", "trunc", "isnan", "isinf", "logical_not",
               "bitwise_not")
_BINARY = ("maximum", "minimum", "fmod", "remainder", "eq", "ne", "lt", "le", "gt", "ge",
           "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
           "bitwise_right_shift", "floor_divide")
_LOGICAL = ("logical_and", "logical_or", "logical_xor")

_g = globals()
for _n in _UNARY_FLOAT:
    _g[_n] = _float_unary(_n)
for _n in _UNARY_SAME:
    _g[_n] = _unary(_n)
for _n in _BINARY:
    _g[_n] = _binary(_n)
_g["atan2"] = _float_binary("atan2")


def _tensors_only(fn):
    """torch.maximum/minimum/logical_* take two Tensors; a number is a TypeError there."""
    def checked(input, other, *, out=None):
        for name, v, pos in (("input", input, 1), ("other", other, 2)):
            if not isinstance(v, Tensor):
                raise TypeError(f"{fn.__name__}(): argument '{name}' (position {pos}) must be "
                                f"Tensor, not {type(v).__name__}")
        return _out(fn(input, other), out)
    checked.__name__ = fn.__name__
    return checked


for _n in ("maximum", "minimum"):
    _g[_n] = _tensors_only(_g[_n])
__all__ += list(_UNARY_FLOAT + _UNARY_SAME + _BINARY) + ["atan2"]


def _logical(op):
    def fn(input, other):
        a = input if isinstance(input, Tensor) else _as_operand(input, op)
        b = other if isinstance(other, Tensor) else _as_operand(other, op)
        a = ne(a, 0) if isinstance(a, Tensor) and a._data.dtype != np.bool_ else a
        b = ne(b, 0) if isinstance(b, Tensor) and b._data.dtype != np.bool_ else b
        a, b, _ = promote(op, a, b)
        return dispatch(op, a, b)
    fn.__name__ = op
    return fn


for _n in _LOGICAL:
    _g[_n] = _tensors_only(_logical(_n))
__all__ += list(_LOGICAL)


def _scaled(b, alpha, dt, op):
    """other * alpha in the result dtype (PyTorch casts alpha to it: bool alpha=2 is True)."""
    if dt.category != D.FLOAT and isinstance(alpha, (float, np.floating)):
        raise RuntimeError(f"{op}: For integral input tensors, argument alpha must not be a "
                           f"floating point number.")
    if dt.category == D.BOOL and not isinstance(alpha, (bool, np.bool_)) and op == "sub":
        raise RuntimeError(f"{op}: Boolean alpha only supported for Boolean results.")
    s = _scalar(alpha, dt, op)
    if isinstance(b, Tensor):
        return dispatch("mul", b, s)
    return dispatch("mul", _wrap_scalar(b, dt), s)


def _wrap_scalar(v, dt):
    from ..tensor import _wrap, constant
    return constant(_wrap(np.asarray(v, dtype=dt.np)))


@_public
def add(input, other, *, alpha=1, out=None):
    a, b, dt = promote("add", input, other)
    if alpha != 1:
        b = _scaled(b, alpha, dt, "add")
    return _out(dispatch("add", a, b), out)


def _is_bool(x):
    return type(x) is bool or (isinstance(x, Tensor) and x._data.dtype == np.bool_)


@_public
def sub(input, other, *, alpha=1, out=None):
    if _is_bool(input) or _is_bool(other):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    a, b, dt = promote("sub", input, other)
    if alpha != 1:
        b = _scaled(b, alpha, dt, "sub")
    return _out(dispatch("sub", a, b), out)


@_public
def mul(input, other, *, out=None):
    a, b, _ = promote("mul", input, other)
    return _out(dispatch("mul", a, b), out)


@_public
def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        a, b = _to_float("div", input, other)
        return _out(dispatch("div", a, b), out)
    if rounding_mode == "floor":
        a, b, dt = promote("div", input, other)
        if dt.category == D.FLOAT:
            return _out(floor(dispatch("div", a, b)), out)
        return _out(dispatch("floor_divide", a, b), out)
    if rounding_mode == "trunc":
        a, b, dt = promote("div", input, other)
        if dt.category == D.FLOAT:
            return _out(trunc(dispatch("div", a, b)), out)
        q = dispatch("floor_divide", a, b)
        # floor and trunc differ where the signs differ and the division is inexact
        r = dispatch("remainder", a, b)
        fix = logical_and(ne(r, 0), logical_xor(lt(a, 0), lt(b, 0)))
        return _out(where(fix, q + 1, q), out)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                       f"found '{rounding_mode}'")


@_public
def pow(input, exponent, *, out=None):
    if not isinstance(input, Tensor) and isinstance(exponent, Tensor):
        a, b, _ = promote("pow", input, exponent)
        return _out(dispatch("pow", a, b), out)
    if isinstance(exponent, _SCALARS) and not isinstance(exponent, (bool, np.bool_)):
        floating = input._data.dtype in _FLOATS
        if not floating and exponent < 0 and isinstance(exponent, (int, np.integer)):
            raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
        # common exponents as cheaper ops (same values, same gradients)
        if exponent == 2 and floating:
            return _out(dispatch("mul", input, input), out)
        if exponent == 1 and input._data.dtype != np.bool_ and (
                floating or isinstance(exponent, (int, np.integer))):
            return _out(input.clone(), out)
    a, b, _ = promote("pow", input, exponent)
    return _out(dispatch("pow", a, b), out)


def _out(res, out):
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a Tensor, got {type(out).__name__}")
    out._data = np.empty(res._data.shape, out._data.dtype) if out._data.shape != res._data.shape else out._data
    return inplace(out, res, "out=")


true_divide = divide = div
multiply = mul
subtract = sub
negative = neg
absolute = abs
arctan2 = atan2
arcsin, arccos, arctan, arcsinh = asin, acos, atan, None
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
fix = trunc
del arcsinh
__all__ += ["true_divide", "divide", "multiply", "subtract", "negative", "absolute", "arctan2",
            "arcsin", "arccos", "arctan", "greater", "greater_equal", "less", "less_equal",
            "not_equal", "fix"]


@_public
def square(input):
    if input._data.dtype == np.bool_:  # bool squares count in int64, as torch.pow(b, 2)
        input = _cast(input, D.int64)
    return mul(input, input)


def _floats_only(x, op):
    dt = x._data.dtype
    if dt not in _FLOATS:
        name = _NP2DT[dt].name
        raise NotImplementedError(f"\"{op}_cpu\" not implemented for "
                                  f"'{_TORCH_NAMES.get(name, name)}'")


_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long"}


@_public
def round(input, *, decimals=0):
    if decimals:
        return dispatch("round", input, decimals=decimals)
    return dispatch("round", input)


@_public
def frac(input):
    _floats_only(input, "frac")
    return input - trunc(input)


@_public
def isfinite(input):
    if input._data.dtype not in _FLOATS:
        return eq(input, input)
    return logical_not(logical_or(isnan(input), isinf(input)))


@_public
def isposinf(input):
    return logical_and(isinf(input), gt(input, 0))


@_public
def isneginf(input):
    return logical_and(isinf(input), lt(input, 0))


@_public
def sgn(input):
    return sign(input)


@_public
def where(condition, input=None, other=None):
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        from .creation import tensor
        condition = tensor(condition)
    if condition._data.dtype != np.bool_:
        condition = ne(condition, 0)
    a, b, _ = promote("where", input, other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        from .creation import tensor
        a = tensor(a)
    return dispatch("where", condition, a, b)


@_public
def clamp(input, min=None, max=None, *, out=None):
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if STATE.enabled and (input._requires_grad or getattr(min, "_requires_grad", False)
                          or getattr(max, "_requires_grad", False)):
        return _out(_clamp_autograd(input, min, max), out)
    r = _clamp_values(input, min, max)
    if r is input:
        r = input.clone()
    return _out(r, out)


def _clamp_values(x, lo, hi):
    # clamp keeps x's dtype unless a bound's category is higher (torch.clamp(int, 0.5) -> float)
    if lo is not None:
        x = _clamp_side(x, lo, maximum)
    if hi is not None:
        x = _clamp_side(x, hi, minimum)
    return x


def _clamp_side(x, bound, op):
    if isinstance(bound, Tensor):
        return op(x, bound)
    a, b, _ = promote("clamp", x, bound)
    # NaN in x must survive: numpy maximum/minimum propagate NaN, as PyTorch's clamp does
    return dispatch("maximum" if op is maximum else "minimum", a, b)


def _clamp_autograd(x, lo, hi):
    """clamp with PyTorch's gradient: to x where lo <= x <= hi (ties included, so not
    maximum/minimum's even split), to a tensor bound where it is the result (lo where
    x < lo < hi, hi where x > hi or hi < lo), and nowhere for NaN (every comparison with
    NaN is false). The values are the plain clamp's (NaN in x or a bound propagates)."""
    plain = _clamp_values(x.detach(), _detached(lo), _detached(hi))
    if lo is not None and hi is not None:
        inside = ge(x, lo) & le(x, hi)
        at_lo = lt(x, lo) & lt(lo, hi)
        at_hi = gt(x, hi) | lt(hi, lo)
    elif lo is not None:
        inside, at_lo, at_hi = ge(x, lo), lt(x, lo), None
    else:
        inside, at_lo, at_hi = le(x, hi), None, gt(x, hi)
    r = plain
    for at, bound in ((at_hi, hi), (at_lo, lo)):
        if getattr(bound, "_requires_grad", False):
            # the bound gets the gradient even where the result is NaN (from x or the other
            # bound): adding the result's NaNs keeps the value and the gradient path
            r = where(at, bound + where(ne(plain, plain), plain, 0.0), r)
    return where(inside, x, r)


def _detached(b):
    return b.detach() if isinstance(b, Tensor) else b


clip = clamp
__all__.append("clip")


@_public
def clamp_min(input, min):
    return clamp(input, min=min)


@_public
def clamp_max(input, max):
    return clamp(input, max=max)


@_public
def lerp(input, end, weight):
    return input + weight * (end - input)


@_public
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    if input._data.dtype not in _FLOATS:
        return input.clone()
    finfo = np.finfo(np.float32 if input.dtype is D.bfloat16 else input._data.dtype)
    big = float(finfo.max) if input.dtype is not D.bfloat16 else 3.3895313892515355e38
    posinf = big if posinf is None else posinf
    neginf = -big if neginf is None else neginf
    r = where(isnan(input), nan, input)
    r = where(isposinf(input), posinf, r)
    return where(isneginf(input), neginf, r)


@_public
def float_power(input, exponent):
    x = input.double() if isinstance(input, Tensor) else input
    e = exponent.double() if isinstance(exponent, Tensor) else exponent
    return pow(x, e)


@_public
def logit(input, eps=None):
    if input._data.dtype not in _FLOATS:
        input = _cast(input, D.get_default_dtype())
    x = input if eps is None else clamp(input, eps, 1 - eps)
    return log(x / (1 - x))


@_public
def xlogy(input, other):
    return where(input == 0, 0.0, input * log(other))


@_public
def hypot(input, other):
    a, b, _ = promote("hypot", input, other)
    for t in (a, b):
        if isinstance(t, Tensor):
            _floats_only(t, "hypot")
    return sqrt(a * a + b * b)


@_public
def copysign(input, other):
    x = input if input.dtype.is_floating_point else _cast(input, D.get_default_dtype())
    if isinstance(other, Tensor):
        # the sign bit, so -0.0 counts as negative
        neg_b = lt(other, 0) | (eq(other, 0) & lt(div(1.0, other), 0))
    else:
        neg_b = math.copysign(1.0, other) < 0
        return -abs(x) if neg_b else abs(x)
    return where(neg_b, -abs(x), abs(x))


@_public
def deg2rad(input):
    return input * (math.pi / 180)


@_public
def rad2deg(input):
    return input * (180 / math.pi)


# ------------------------------------------------------------------ operators and methods

def _rev(fn):
    def r(self, other):
        return fn(other, self)
    return r


def _eq_op(self, other):
    if other is None:
        return False
    return eq(self, other)


def _ne_op(self, other):
    if other is None:
        return True
    return ne(self, other)


def _inplace_method(fn, name):
    ufunc = _FAST_INPLACE.get(name)

    def m(self, *args, **kwargs):
        if ufunc is not None and _fast_inplace(ufunc, self, args, kwargs):
            return self
        return inplace(self, fn(self, *args, **kwargs), name)
    m.__name__ = name
    return m


_FAST_INPLACE = {"add_": np.add, "sub_": np.subtract, "mul_": np.multiply, "div_": np.divide}
_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fast_inplace(ufunc, self, args, kwargs):
    """x.add_(y) & co. on float32/float64 when autograd has nothing to record: the ufunc
    writes straight into x's memory (one pass, no temporary), as optimizers need. Returns
    False to take the general path (promotion, broadcasting errors, autograd)."""
    d = self._data
    # inference tensors (whose version counter is not a list) take the checked path
    if len(args) != 1 or d.dtype not in _FAST_DTYPES or not d.flags.writeable or \
            STATE.tracer is not None or type(self._version) is not list:
        return False
    alpha = 1
    if kwargs:
        if set(kwargs) != {"alpha"} or ufunc not in (np.add, np.subtract):
            return False
        alpha = kwargs["alpha"]
        if type(alpha) not in (int, float):
            return False
    other = args[0]
    if type(other) is Tensor:
        o = other._data
        if o.dtype != d.dtype or (STATE.enabled and other._requires_grad):
            return False
    elif type(other) in (int, float):
        o = other
    else:
        return False
    if STATE.enabled and (self._requires_grad or (self._base is not None
                                                  and self._base._requires_grad)):
        return False
    try:
        if np.broadcast_shapes(np.shape(o), d.shape) != d.shape:
            return False
    except ValueError:
        return False
    if alpha != 1:
        o = o * alpha if type(o) is not np.ndarray else np.multiply(o, alpha, dtype=d.dtype)
    write_binary(ufunc, d, o)
    self._version[0] += 1
    return True


def positive(input):
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


__all__.append("positive")

METHODS = {
    "__add__": lambda s, o: add(s, o), "__radd__": lambda s, o: add(o, s),
    "__sub__": lambda s, o: sub(s, o), "__rsub__": lambda s, o: sub(o, s),
    "__mul__": lambda s, o: mul(s, o), "__rmul__": lambda s, o: mul(o, s),
    "__truediv__": lambda s, o: div(s, o), "__rtruediv__": lambda s, o: div(o, s),
    "__floordiv__": lambda s, o: div(s, o, rounding_mode="floor"),
    "__rfloordiv__": lambda s, o: div(o, s, rounding_mode="floor"),
    "__mod__": remainder, "__rmod__": _rev(remainder),
    "__pow__": pow, "__rpow__": _rev(pow),
    "__neg__": neg, "__pos__": positive, "__abs__": abs, "__invert__": bitwise_not,
    "__and__": bitwise_and, "__rand__": _rev(bitwise_and),
    "__or__": bitwise_or, "__ror__": _rev(bitwise_or),
    "__xor__": bitwise_xor, "__rxor__": _rev(bitwise_xor),
    "__lshift__": bitwise_left_shift, "__rlshift__": _rev(bitwise_left_shift),
    "__rshift__": bitwise_right_shift, "__rrshift__": _rev(bitwise_right_shift),
    "__eq__": _eq_op, "__ne__": _ne_op, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
}
for _name in __all__:
    if _name not in ("where",):
        METHODS.setdefault(_name, _g[_name])
METHODS["where"] = lambda self, condition, other: where(condition, self, other)

# in-place variants: compute out of place, then write into self (version bump, autograd rebase)
for _name in ("add", "sub", "mul", "div", "pow", "clamp", "clamp_min", "clamp_max", "lerp",
              "fmod", "remainder", "floor_divide", "maximum", "minimum", "atan2", "copysign",
              "hypot", "xlogy", "logit", "nan_to_num", "square", "frac", "sgn", "round",
              "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift",
              "bitwise_right_shift", "logical_and", "logical_or", "logical_xor", "logical_not",
              "eq", "ne", "lt", "le", "gt", "ge", "true_divide", "multiply", "subtract",
              "divide", "negative", "absolute", "clip", "float_power", "deg2rad", "rad2deg",
              "fix", "arcsin", "arccos", "arctan", "arctan2") + _UNARY_FLOAT + \
        ("neg", "abs", "sign", "floor", "ceil", "trunc"):
    METHODS[_name + "_"] = _inplace_method(_g[_name], _name + "_")

for _op, _name in (("__iadd__", "add"), ("__isub__", "sub"), ("__imul__", "mul"),
                   ("__itruediv__", "div"), ("__ipow__", "pow"), ("__imod__", "remainder"),
                   ("__iand__", "bitwise_and"), ("__ior__", "bitwise_or"),
                   ("__ixor__", "bitwise_xor"), ("__ilshift__", "bitwise_left_shift"),
                   ("__irshift__", "bitwise_right_shift")):
    METHODS[_op] = _inplace_method(_g[_name], _name + "_")
METHODS["__ifloordiv__"] = _inplace_method(METHODS["__floordiv__"], "floor_divide_")

install_methods(METHODS)
