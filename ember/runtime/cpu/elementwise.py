"""Elementwise kernels. NumPy ufuncs where they match PyTorch; explicit code where not."""
import numpy as np
import ml_dtypes

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _quiet(fn):
    """Run without NumPy's floating-point warnings: PyTorch gives inf/nan silently."""
    def k(*a, **kw):
        with np.errstate(all="ignore"):
            return fn(*a, **kw)
    return k


def _via_f32(fn):
    """For functions NumPy/ml_dtypes lack for half types: compute in float32 and round
    once, which is also what PyTorch's CPU kernels do for half and bfloat16."""
    def k(x):
        dt = x.dtype
        if dt in _LOW:
            return fn(x.astype(np.float32)).astype(dt)
        return fn(x)
    return k


def _special(name):
    def fn(x):
        import scipy.special as sp  # imported on first use: it is slow to import
        return getattr(sp, name)(x)
    return fn


def _rsqrt(x):
    return np.reciprocal(np.sqrt(x))


_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "float16": "Half", "bfloat16": "BFloat16",
                "float32": "Float", "float64": "Double"}


def _not_for(op, kinds):
    """PyTorch has no kernel for these dtypes and raises NotImplementedError naming it."""
    def check(x):
        if x.dtype.kind in kinds:
            raise NotImplementedError(f"\"{op}_cpu\" not implemented for "
                                      f"'{_TORCH_NAMES.get(x.dtype.name, x.dtype.name)}'")
    return check


_no_bool = {op: _not_for(op, "b") for op in
            ("abs", "floor", "ceil", "trunc", "round", "fmod", "remainder", "div_floor")}


def _round(x, decimals=0):
    _no_bool["round"](x)
    if x.dtype.kind in "iu":
        return x.copy()
    if decimals == 0:
        return np.rint(x)
    return np.round(x, decimals)


def _sign(x):
    if x.dtype == np.bool_:
        return x.copy()
    r = np.sign(x)
    if x.dtype.kind not in "iu":  # sign(nan) is 0 in PyTorch, nan in NumPy
        nan = np.isnan(x)
        if nan.any():
            r = np.where(nan, x.dtype.type(0), r)
    return r


def _abs(x):
    _no_bool["abs"](x)
    return np.abs(x)


def _neg(x):
    if x.dtype == np.bool_:
        raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return np.negative(x)


def _int_identity(op, np_fn):
    def k(x):
        _no_bool[op](x)
        if x.dtype.kind in "iu":
            return x.copy()
        return np_fn(x)
    return k


def _check_int_zero(op, fn, torch_op=None):
    no_bool = _no_bool[torch_op or op]

    def k(a, b):
        no_bool(np.asarray(a))
        if getattr(b, "dtype", np.dtype(float)).kind in "iu" and np.any(np.asarray(b) == 0):
            raise RuntimeError(f"ZeroDivisionError: {op}: integer division by zero")
        return fn(a, b)
    return k


def _int_pow(a, b):
    """Integer powers with negative exponents, as PyTorch: 1 -> 1, -1 -> +-1, else 0."""
    neg = b < 0
    if not np.any(neg):
        return np.power(a, b)
    r = np.power(a, np.where(neg, 0, b))
    odd = (b % 2) != 0
    small = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0)).astype(r.dtype)
    return np.where(neg, small, r)


def _pow(a, b):
    k = np.asarray(a).dtype.kind
    if k == "b":
        if isinstance(b, np.ndarray) or not isinstance(a, np.ndarray):
            raise NotImplementedError("\"pow\" not implemented for 'Bool'")
        # bool_tensor ** bool_scalar stays bool: a ** False is True, a ** True is a
        return np.logical_or(a, np.logical_not(b))
    if k in "iu":
        if not isinstance(b, np.ndarray):  # a scalar exponent: PyTorch rejects it up front
            if b < 0:
                raise RuntimeError("pow: Integers to negative integer powers are not allowed.")
            return np.power(a, b)
        return _int_pow(np.asarray(a), b)
    return np.power(a, b)


def _bitwise(op, np_fn):
    no_bool = op.endswith("shift")

    def k(a, b):
        if no_bool and np.asarray(a).dtype == np.bool_:
            raise NotImplementedError(f"\"{op}_cpu\" not implemented for 'Bool'")
        try:
            return np_fn(a, b)
        except TypeError:
            dt = np.result_type(a, b)
            raise NotImplementedError(f"\"{op}_cpu\" not implemented for "
                                      f"'{_TORCH_NAMES.get(dt.name, dt.name)}'") from None
    return k


def _sub(a, b):
    if getattr(a, "dtype", None) == np.bool_:
        raise RuntimeError("sub: Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return np.subtract(a, b)


_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _zero_bits(a, u):
    return a.ndim == 0 and a.view(u) == 0


def _where(cond, x, y):
    """np.where branches per element, which costs ~4 ns an element on unpredictable masks
    (relu's backward); on large arrays select with bit masks instead: y ^ ((x ^ y) & -cond),
    branch-free and exact for every dtype (NaNs and signed zeros included). A +0 scalar on
    either side (masked gradients) needs only the mask and one AND."""
    x = np.asarray(x)
    y = np.asarray(y)
    if cond.size < 8192 or cond.dtype != np.bool_ or x.dtype != y.dtype or \
            x.dtype == np.bool_ or x.dtype.itemsize not in _UINT:
        return np.where(cond, x, y)
    u = _UINT[x.dtype.itemsize]
    c8 = cond.view(np.uint8)
    if _zero_bits(y, u):      # x & -cond
        keep, other = np.negative(c8, dtype=u), x
    elif _zero_bits(x, u):    # y & (cond - 1)
        keep, other = np.subtract(c8, 1, dtype=u), y
    else:
        keep, other = None, None
    if keep is not None:
        if keep.shape == other.shape:
            return np.bitwise_and(keep, other.view(u), out=keep).view(x.dtype)
        return np.bitwise_and(keep, other.view(u)).view(x.dtype)
    mask = np.negative(c8, dtype=u)
    yb = y.view(u)
    r = np.bitwise_and(np.bitwise_xor(x.view(u), yb), mask)
    np.bitwise_xor(r, yb, out=r)
    return r.view(x.dtype)


KERNELS = {
    # unary, floating point
    "exp": np.exp, "exp2": np.exp2, "expm1": np.expm1,
    "log": _quiet(np.log), "log2": _quiet(np.log2), "log10": _quiet(np.log10),
    "log1p": _quiet(np.log1p), "sqrt": _quiet(np.sqrt), "rsqrt": _quiet(_rsqrt),
    "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "asin": _quiet(np.arcsin), "acos": _quiet(np.arccos), "atan": np.arctan,
    "sinh": _quiet(np.sinh), "cosh": _quiet(np.cosh), "tanh": np.tanh,
    "sigmoid": _via_f32(_special("expit")), "erf": _via_f32(_special("erf")),
    "erfinv": _quiet(_via_f32(_special("erfinv"))), "reciprocal": _quiet(np.reciprocal),
    # unary, any numeric
    "neg": _neg, "abs": _abs, "sign": _sign,
    "floor": _int_identity("floor", np.floor), "ceil": _int_identity("ceil", np.ceil),
    "round": _round, "trunc": _int_identity("trunc", np.trunc),
    "isnan": np.isnan, "isinf": np.isinf, "logical_not": np.logical_not,
    "bitwise_not": np.invert,
    # binary
    "add": np.add, "sub": _sub, "mul": np.multiply, "div": _quiet(np.true_divide),
    "pow": _quiet(_pow), "maximum": np.maximum, "minimum": np.minimum,
    "atan2": np.arctan2,
    "fmod": _quiet(_check_int_zero("fmod", np.fmod)),
    "remainder": _quiet(_check_int_zero("remainder", np.remainder)),
    "floor_divide": _quiet(_check_int_zero("floor_divide", np.floor_divide, "div_floor")),
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
    "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_xor": np.logical_xor,
    "bitwise_and": _bitwise("bitwise_and", np.bitwise_and),
    "bitwise_or": _bitwise("bitwise_or", np.bitwise_or),
    "bitwise_xor": _bitwise("bitwise_xor", np.bitwise_xor),
    "bitwise_left_shift": _bitwise("lshift", np.left_shift),
    "bitwise_right_shift": _bitwise("rshift", np.right_shift),
    # ternary and casts
    "where": _where,
    "convert": lambda x, *, dtype: x.astype(dtype.np),
}


def write_binary(ufunc, out, other):
    """out <- ufunc(out, other) in place (the frontend's no-autograd fast path for add_ & co.);
    here so NumPy's floating-point warnings fall under this package's filter."""
    ufunc(out, other, out=out, casting="unsafe")
