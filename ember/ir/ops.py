"""The closed set of primitive ops and their shape/dtype rules.

This table is the single source of truth: eager kernels (`ember.runtime`), VJP rules
(`ember.frontend.autograd`) and, later, codegen lowerings are tables keyed by the
names defined here, and a test fails when any of them lacks a row.

A rule receives the `TensorType` of each tensor operand (Python scalars are passed
through as they are) plus the op's attributes, and returns a tuple of result types.
Primitives expect operands already promoted to a common dtype: the frontend inserts
`convert` where PyTorch would promote, so the rules stay small.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

from . import dtypes as D

__all__ = ["TensorType", "OpDef", "PRIMITIVES", "broadcast_shapes", "normalize_dim",
           "reduced_shape"]


class TensorType(NamedTuple):
    shape: tuple
    dtype: D.DType


@dataclass(frozen=True)
class OpDef:
    name: str
    kind: str              # elementwise | cast | reduce | scan | movement | index | linalg | random | extern | creation
    rule: Callable         # (*operand types, **attrs) -> tuple[TensorType, ...]
    differentiable: bool = True
    nout: int = 1
    arity: int = 1         # tensor operands; -1 for variadic (cat, index, index_put)


PRIMITIVES: dict[str, OpDef] = {}


def _def(name, kind, rule, differentiable=True, nout=1, arity=1):
    PRIMITIVES[name] = OpDef(name, kind, rule, differentiable, nout, arity)


# ---------------------------------------------------------------- helpers

def broadcast_shapes(*shapes, op="broadcast"):
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for s in shapes:
        for i, d in enumerate(s, ndim - len(s)):
            o = out[i]
            if o == 1:
                out[i] = d
            elif d != 1 and d != o:
                raise RuntimeError(
                    f"{op}: the size of tensor a ({o}) must match the size of tensor b ({d}) at "
                    f"non-singleton dimension {i - ndim}; shapes {' and '.join(str(tuple(x)) for x in shapes)} "
                    f"are not broadcastable")
    return tuple(out)


def normalize_dim(dim, ndim, op="op"):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def reduced_shape(shape, dims, keepdim):
    if dims is None:
        dims = range(len(shape))
    dims = set(dims)
    if keepdim:
        return tuple(1 if i in dims else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in dims)


def _operand_types(args):
    return [a for a in args if isinstance(a, TensorType)]


def _common_dtype(op, args):
    ts = _operand_types(args)
    dt = ts[0].dtype
    for t in ts[1:]:
        if t.dtype is not dt:
            raise TypeError(f"{op}: operands must share a dtype after promotion, got "
                            f"{', '.join(str(t.dtype) for t in ts)}")
    return dt


def _require(op, dt, allowed, what):
    if dt.category not in allowed:
        raise TypeError(f"{op}: expected {what} input, got {dt}")


# ---------------------------------------------------------------- elementwise

def _elementwise(name, nargs, result=None, allowed=(D.BOOL, D.INT, D.FLOAT), what="a numeric",
                 differentiable=True):
    def rule(*args, **_):
        dt = _common_dtype(name, args)
        if dt.category not in allowed:
            raise TypeError(f"{name}: expected {what} input, got {dt}")
        shape = broadcast_shapes(*(a.shape for a in _operand_types(args)), op=name)
        return (TensorType(shape, result or dt),)
    _def(name, "elementwise", rule, differentiable, arity=nargs)


FLOAT_ONLY = (D.FLOAT,)
INTEGRAL = (D.BOOL, D.INT)
NUMERIC = (D.INT, D.FLOAT)

for _n in ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin",
           "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf",
           "erfinv", "reciprocal"):
    _elementwise(_n, 1, allowed=FLOAT_ONLY, what="a floating-point")
for _n in ("neg", "abs", "sign", "floor", "ceil", "round", "trunc"):
    _elementwise(_n, 1, allowed=NUMERIC)
for _n in ("isnan", "isinf"):
    _elementwise(_n, 1, result=D.bool_, differentiable=False)
_elementwise("logical_not", 1, result=D.bool_, differentiable=False)
_elementwise("bitwise_not", 1, allowed=INTEGRAL, what="an integral or bool", differentiable=False)

for _n in ("add", "sub", "mul", "maximum", "minimum", "fmod", "remainder", "floor_divide"):
    _elementwise(_n, 2, allowed=(D.BOOL, D.INT, D.FLOAT) if _n in ("add", "mul", "maximum", "minimum") else NUMERIC)
for _n in ("div", "pow", "atan2"):
    _elementwise(_n, 2, allowed=FLOAT_ONLY if _n != "pow" else NUMERIC,
                 what="a floating-point" if _n != "pow" else "a numeric")
for _n in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    _elementwise(_n, 2, result=D.bool_, differentiable=False)
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _elementwise(_n, 2, allowed=INTEGRAL, what="an integral or bool", differentiable=False)
for _n in ("bitwise_left_shift", "bitwise_right_shift"):
    _elementwise(_n, 2, allowed=(D.INT,), what="an integral", differentiable=False)


def _where_rule(cond, a, b, **_):
    if isinstance(cond, TensorType) and cond.dtype is not D.bool_:
        raise TypeError(f"where: expected condition to be a bool tensor, got {cond.dtype}")
    dt = _common_dtype("where", (a, b))
    shape = broadcast_shapes(*(t.shape for t in _operand_types((cond, a, b))), op="where")
    return (TensorType(shape, dt),)


_def("where", "elementwise", _where_rule, arity=3)

# special functions (polygamma takes its order as attribute n; i1 is i0's derivative)
for _n in ("lgamma", "digamma", "polygamma", "i0", "i1"):
    _elementwise(_n, 1, allowed=FLOAT_ONLY, what="a floating-point")


def _frexp_rule(x, **_):
    _require("frexp", x.dtype, FLOAT_ONLY, "a floating-point")
    return (TensorType(x.shape, x.dtype), TensorType(x.shape, D.int32))


_def("frexp", "extern", _frexp_rule, nout=2)    # (mantissa, exponent): NumPy's frexp
_def("convert", "cast", lambda x, *, dtype: (TensorType(x.shape, dtype),))


# ---------------------------------------------------------------- reductions

def _reduce(name, result=None, differentiable=True, allowed=(D.BOOL, D.INT, D.FLOAT)):
    def rule(x, *, dims=None, keepdim=False, **_):
        if dims is not None:
            for d in dims:
                if not 0 <= d < max(len(x.shape), 1):
                    raise IndexError(f"{name}: dimension {d} out of range for shape {x.shape}")
        if x.dtype.category not in allowed:
            raise TypeError(f"{name}: unsupported dtype {x.dtype}")
        dt = result(x.dtype) if callable(result) else (result or x.dtype)
        return (TensorType(reduced_shape(x.shape, dims, keepdim), dt),)
    _def(name, "reduce", rule, differentiable)


# sum/prod of bool and integers accumulate in int64, as in PyTorch
_widen = lambda d: D.int64 if d.category != D.FLOAT else d
_reduce("sum", _widen)
_reduce("prod", _widen)
_reduce("amax")
_reduce("amin")
_reduce("argmax", D.int64, differentiable=False)
_reduce("argmin", D.int64, differentiable=False)
_reduce("any", D.bool_, differentiable=False)
_reduce("all", D.bool_, differentiable=False)


def _scan_rule(x, *, dim, **_):
    normalize_dim(dim, len(x.shape), "scan")
    return (TensorType(x.shape, _widen(x.dtype)),)


_def("cumsum", "scan", _scan_rule)
_def("cumprod", "scan", _scan_rule)


def _cumext_rule(x, *, dim, **_):
    # running max/min: (values, index of the element that set them)
    normalize_dim(dim, len(x.shape), "scan")
    return (TensorType(x.shape, x.dtype), TensorType(x.shape, D.int64))


def _logcumsumexp_rule(x, *, dim, **_):
    normalize_dim(dim, len(x.shape), "logcumsumexp")
    _require("logcumsumexp", x.dtype, FLOAT_ONLY, "a floating-point")
    return (TensorType(x.shape, x.dtype),)


def _searchsorted_rule(seq, values, *, right=False, out_int32=False):
    # seq sorted along its last dim; 1-d, or sharing values' leading dims
    if len(seq.shape) > 1 and tuple(seq.shape[:-1]) != tuple(values.shape[:-1]):
        raise RuntimeError(f"searchsorted: boundaries {seq.shape} and values {values.shape} "
                           f"must share all but the last dim, or boundaries must be 1-d")
    return (TensorType(values.shape, D.int32 if out_int32 else D.int64),)


_def("cummax", "scan", _cumext_rule, nout=2)
_def("cummin", "scan", _cumext_rule, nout=2)
_def("logcumsumexp", "scan", _logcumsumexp_rule)
_def("searchsorted", "extern", _searchsorted_rule, differentiable=False, arity=2)


# ---------------------------------------------------------------- movement (views where possible)

def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _reshape_rule(x, *, shape):
    if _numel(shape) != _numel(x.shape):
        raise RuntimeError(f"reshape: shape '{list(shape)}' is invalid for input of size "
                           f"{_numel(x.shape)}")
    return (TensorType(tuple(shape), x.dtype),)


def _permute_rule(x, *, dims):
    if sorted(dims) != list(range(len(x.shape))):
        raise RuntimeError(f"permute: dims {tuple(dims)} are not a permutation of the "
                           f"{len(x.shape)} dims of input {x.shape}")
    return (TensorType(tuple(x.shape[d] for d in dims), x.dtype),)


def _expand_rule(x, *, shape):
    lead = len(shape) - len(x.shape)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(x.shape)})")
    for i, d in enumerate(x.shape):
        if d != 1 and d != shape[lead + i]:
            raise RuntimeError(f"expand: the expanded size of the tensor ({shape[lead + i]}) must "
                               f"match the existing size ({d}) at non-singleton dimension {lead + i}. "
                               f"Target sizes: {list(shape)}. Tensor sizes: {list(x.shape)}")
    return (TensorType(tuple(shape), x.dtype),)


def _slice_rule(x, *, starts, stops, steps):
    out = []
    for d, a, b, s in zip(x.shape, starts, stops, steps):
        if s <= 0 or not 0 <= a <= d or not a <= b <= d:
            raise RuntimeError(f"slice: invalid slice [{a}:{b}:{s}] of a dimension of size {d}")
        out.append(max(0, (b - a + s - 1) // s))
    return (TensorType(tuple(out), x.dtype),)


def _pad_rule(x, *, pads, value=0):
    # pads: per dim (low, high, interior), XLA-style; low/high may be negative (cropping)
    if len(pads) != len(x.shape):
        raise RuntimeError(f"pad: expected {len(x.shape)} (low, high, interior) triples, got {len(pads)}")
    out = []
    for d, (lo, hi, it) in zip(x.shape, pads):
        n = lo + hi + d + max(d - 1, 0) * it
        if n < 0 or it < 0:
            raise RuntimeError(f"pad: padding {(lo, hi, it)} makes a dimension of size {d} negative")
        out.append(n)
    return (TensorType(tuple(out), x.dtype),)


def _cat_rule(*xs, dim):
    if not xs:
        raise RuntimeError("cat: expected a non-empty list of Tensors")
    ref = xs[0]
    dt = _common_dtype("cat", xs)
    total = 0
    for t in xs:
        if len(t.shape) != len(ref.shape) or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, ref.shape)) if i != dim):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {dim}; got "
                               f"{ref.shape} and {t.shape}")
        total += t.shape[dim]
    shape = list(ref.shape)
    shape[dim] = total
    return (TensorType(tuple(shape), dt),)


def _flip_rule(x, *, dims):
    return (TensorType(x.shape, x.dtype),)


def _diagonal_rule(x, *, offset, dim1, dim2):
    if dim1 == dim2:
        raise RuntimeError(f"diagonal: dim1 and dim2 cannot be identical, got {dim1}")
    n1, n2 = x.shape[dim1], x.shape[dim2]
    L = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rest = tuple(d for i, d in enumerate(x.shape) if i not in (dim1, dim2))
    return (TensorType(rest + (L,), x.dtype),)


_def("reshape", "movement", _reshape_rule)
_def("permute", "movement", _permute_rule)
_def("expand", "movement", _expand_rule)
_def("slice", "movement", _slice_rule)
_def("pad", "movement", _pad_rule)
_def("cat", "movement", _cat_rule, arity=-1)
_def("flip", "movement", _flip_rule)
_def("diagonal", "movement", _diagonal_rule)
_def("copy", "movement", lambda x, *, order="K": (TensorType(x.shape, x.dtype),))


def _as_strided_rule(x, *, size, stride, storage_offset, in_stride=None, in_offset=None):
    # a view of x's storage; in_stride/in_offset record x's own layout for the VJP rule
    if len(size) != len(stride):
        raise RuntimeError("as_strided: mismatch in length of strides and shape")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if any(n < 0 for n in size):
        raise RuntimeError(f"as_strided: Trying to create tensor with negative dimension: "
                           f"{list(size)}")
    if storage_offset < 0:
        raise RuntimeError(f"as_strided: Tensor: invalid storage offset {storage_offset}")
    return (TensorType(tuple(size), x.dtype),)


def _unfold_rule(x, *, dimension, size, step):
    # windows of `size` every `step` along `dimension`, as a new last dim (a view)
    n = x.shape[dimension] if x.shape else 1
    if size < 0:
        raise RuntimeError(f"unfold: size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"unfold: maximum size for tensor at dimension {dimension} is {n} but "
                           f"size is {size}")
    if step <= 0:
        raise RuntimeError(f"unfold: step is {step} but must be > 0")
    if not x.shape:
        return (TensorType((size,), x.dtype),)
    shape = list(x.shape)
    shape[dimension] = (n - size) // step + 1
    return (TensorType(tuple(shape) + (size,), x.dtype),)


_def("as_strided", "movement", _as_strided_rule)
_def("unfold", "movement", _unfold_rule)


# ---------------------------------------------------------------- indexing

def _index_dtype_check(op, idx):
    if idx.dtype not in (D.int64, D.int32):
        raise RuntimeError(f"{op}: Expected dtype int64 for index, got {idx.dtype}")


def _gather_rule(x, idx, *, dim):
    _index_dtype_check("gather", idx)
    if len(idx.shape) != len(x.shape):
        raise RuntimeError(f"gather: Index tensor must have the same number of dimensions as "
                           f"input tensor; input {x.shape}, index {idx.shape}")
    return (TensorType(idx.shape, x.dtype),)


def _scatter_rule(x, idx, src, *, dim, **_):
    _index_dtype_check("scatter", idx)
    if len(idx.shape) != len(x.shape):
        raise RuntimeError(f"scatter: Index tensor must have the same number of dimensions as "
                           f"self tensor; self {x.shape}, index {idx.shape}")
    return (TensorType(x.shape, x.dtype),)


def _index_select_rule(x, idx, *, dim):
    _index_dtype_check("index_select", idx)
    if len(idx.shape) > 1:
        raise IndexError(f"index_select: Index is supposed to be a vector, got shape {idx.shape}")
    shape = list(x.shape)
    if shape:
        shape[dim] = idx.shape[0] if idx.shape else 1
    return (TensorType(tuple(shape), x.dtype),)


def index_result_shape(xshape, index_shapes, positions):
    """Shape of x[...] with integer index tensors at `positions` (other dims kept whole).

    As in NumPy/PyTorch: broadcast index shape goes where the indexed dims were when
    they are adjacent, else in front.
    """
    bshape = broadcast_shapes(*index_shapes, op="index")
    adjacent = list(positions) == list(range(positions[0], positions[0] + len(positions)))
    rest_before = [d for i, d in enumerate(xshape) if i < positions[0] and i not in positions]
    rest = [d for i, d in enumerate(xshape) if i not in positions]
    if adjacent:
        return tuple(rest_before) + bshape + tuple(rest[len(rest_before):])
    return bshape + tuple(rest)


def _index_rule(x, *idxs, positions):
    for i in idxs:
        _index_dtype_check("index", i)
    return (TensorType(index_result_shape(x.shape, [i.shape for i in idxs], positions), x.dtype),)


def _index_put_rule(x, values, *idxs, positions, accumulate=False):
    return (TensorType(x.shape, x.dtype),)


_def("gather", "index", _gather_rule, arity=2)
_def("scatter", "index", _scatter_rule, arity=3)          # attrs: dim, reduce in (None, 'add', 'multiply', 'amax', 'amin', 'mean')
_def("index_select", "index", _index_select_rule, arity=2)
_def("index", "index", _index_rule, arity=-1)
_def("index_put", "index", _index_put_rule, arity=-1)


# ---------------------------------------------------------------- linear algebra

def _matmul_rule(a, b):
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise RuntimeError(f"matmul: primitive expects operands of at least 2 dims, got {a.shape} "
                           f"and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"matmul: mat1 and mat2 shapes cannot be multiplied "
                           f"({a.shape[-2]}x{a.shape[-1]} and {b.shape[-2]}x{b.shape[-1]})")
    dt = _common_dtype("matmul", (a, b))
    if dt is D.bool_:
        raise RuntimeError("matmul: not implemented for 'Bool'")
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul")
    return (TensorType(batch + (a.shape[-2], b.shape[-1]), dt),)


_def("matmul", "linalg", _matmul_rule, arity=2)


# decompositions and solvers (LAPACK externs), on batches of matrices in the last two dims
def _matrices(op, a, square=True):
    if len(a.shape) < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    _require(op, a.dtype, FLOAT_ONLY, "a floating-point")
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    return tuple(a.shape[:-2]), a.shape[-2], a.shape[-1]


def _solve_rule(a, b):
    batch, n, _ = _matrices("linalg.solve", a)
    if len(b.shape) < 2 or b.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({n}x{n} and {'x'.join(map(str, b.shape[-2:]))})")
    batch = broadcast_shapes(batch, b.shape[:-2], op="linalg.solve")
    return (TensorType(batch + (n, b.shape[-1]), _common_dtype("linalg.solve", (a, b))),)


def _qr_rule(a, *, mode="reduced"):
    batch, m, n = _matrices("linalg.qr", a, square=False)
    k = min(m, n)
    q = {"reduced": batch + (m, k), "complete": batch + (m, m), "r": (0,)}[mode]
    r = batch + ((m if mode == "complete" else k), n)
    return (TensorType(q, a.dtype), TensorType(r, a.dtype))


def _svd_rule(a, *, full_matrices=True):
    batch, m, n = _matrices("linalg.svd", a, square=False)
    k = min(m, n)
    return (TensorType(batch + (m, m if full_matrices else k), a.dtype),
            TensorType(batch + (k,), a.dtype),
            TensorType(batch + (n if full_matrices else k, n), a.dtype))


def _same_rule(op):
    def rule(a, **_):
        _matrices(op, a)
        return (TensorType(a.shape, a.dtype),)
    return rule


def _det_rule(op, nout):
    def rule(a):
        batch, _, _ = _matrices(op, a)
        return (TensorType(batch, a.dtype),) * nout
    return rule


def _eigh_rule(a, *, UPLO="L"):
    batch, n, _ = _matrices("linalg.eigh", a)
    return (TensorType(batch + (n,), a.dtype), TensorType(a.shape, a.dtype))


_def("inv", "linalg", _same_rule("linalg.inv"))
_def("solve", "linalg", _solve_rule, arity=2)
_def("det", "linalg", _det_rule("linalg.det", 1))
_def("slogdet", "linalg", _det_rule("linalg.slogdet", 2), nout=2)        # (sign, logabsdet)
_def("cholesky", "linalg", _same_rule("linalg.cholesky"))                # attr upper
_def("qr", "linalg", _qr_rule, nout=2)                                   # (Q, R)
_def("eigh", "linalg", _eigh_rule, nout=2)                               # (eigenvalues, vectors)
_def("svd", "linalg", _svd_rule, nout=3)                                 # (U, S, Vh)


def _conv_rule(x, w, *, stride, padding, lhs_dilation, rhs_dilation, groups):
    """x (N, C, *S), w (O, C/groups, *K); per spatial dim: x dilated by lhs_dilation (zeros
    inserted), padded by (lo, hi) (negative crops), then a stride/rhs_dilation convolution."""
    nd = len(x.shape) - 2
    if nd < 1 or len(w.shape) != nd + 2:
        raise RuntimeError(f"conv: expected input (N, C, *spatial) and weight (O, C/groups, "
                           f"*kernel) of the same rank >= 3, got {x.shape} and {w.shape}")
    if any(len(a) != nd for a in (stride, padding, lhs_dilation, rhs_dilation)):
        raise RuntimeError(f"conv: stride, padding and dilations need {nd} entries")
    dt = _common_dtype("conv", (x, w))
    if dt is D.bool_:
        raise RuntimeError("conv: not implemented for 'Bool'")
    if groups < 1 or w.shape[0] % groups or x.shape[1] != w.shape[1] * groups:
        raise RuntimeError(f"conv: input {x.shape} and weight {w.shape} do not match for "
                           f"groups={groups}")
    out = []
    for n, k, s, (lo, hi), ld, rd in zip(x.shape[2:], w.shape[2:], stride, padding,
                                         lhs_dilation, rhs_dilation):
        if s < 1 or ld < 1 or rd < 1:
            raise RuntimeError("conv: stride and dilations must be positive")
        span = ((n - 1) * ld + 1 if n else 0) + lo + hi - ((k - 1) * rd + 1)
        if span < 0:
            raise RuntimeError(f"conv: kernel {w.shape[2:]} does not fit the padded input {x.shape}")
        out.append(span // s + 1)
    return (TensorType((x.shape[0], w.shape[0], *out), dt),)


_def("conv", "linalg", _conv_rule, arity=2)


# ---------------------------------------------------------------- creation and random sources

def _source_rule(*_, shape, dtype, **__):
    return (TensorType(tuple(shape), dtype),)


_def("full", "creation", _source_rule, differentiable=False, arity=0)        # value
_def("iota", "creation", _source_rule, differentiable=False, arity=0)        # start, step along dim 0
_def("uniform", "random", _source_rule, differentiable=False, arity=0)       # low, high, generator
_def("normal", "random", _source_rule, differentiable=False, arity=0)        # mean, std, generator
_def("randint", "random", _source_rule, differentiable=False, arity=0)       # low, high, generator
_def("bernoulli", "random", lambda p, **_: (TensorType(p.shape, p.dtype),), differentiable=False)


# ---------------------------------------------------------------- externs (library calls, some data-dependent)

def _sort_rule(x, *, dim, descending=False, stable=False):
    return (TensorType(x.shape, x.dtype), TensorType(x.shape, D.int64))


def _topk_rule(x, *, k, dim, largest=True, sorted=True):
    n = x.shape[dim] if x.shape else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: selected index k={k} out of range for dimension of size {n}")
    shape = list(x.shape)
    if shape:
        shape[dim] = k
    return (TensorType(tuple(shape), x.dtype), TensorType(tuple(shape), D.int64))


_def("sort", "extern", _sort_rule, nout=2)
_def("topk", "extern", _topk_rule, nout=2)
# Data-dependent result sizes: the rule can only give rank and dtype (dim sizes are None).
_def("nonzero", "extern", lambda x: (TensorType((None, len(x.shape)), D.int64),), differentiable=False)
_def("unique", "extern", lambda x, **a: (TensorType((None,), x.dtype), TensorType(x.shape, D.int64),
                                          TensorType((None,), D.int64)), differentiable=False, nout=3)
_def("multinomial", "random", lambda p, *, num_samples, **_: (
    TensorType(p.shape[:-1] + (num_samples,), D.int64),), differentiable=False)
_def("randperm", "random", lambda *, n, dtype, **_: (TensorType((n,), dtype),), differentiable=False,
     arity=0)
