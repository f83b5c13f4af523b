"""Algebraic simplification: local rewrites that make a node cheaper or remove it.

Each rule looks at one node (and the already simplified nodes producing its operands)
and returns a replacement value or None. A replacement is used only when its type is
exactly the node's type (shape and dtype): `x + 0` is not `x` when the 0 broadcasts to a
bigger shape, `x * 1.0` is not `x` when the literal promotes (bfloat16 * 1.0 is float32
in the runtime: the kernel is asked, `kernel_result_dtype`). A value the tracer marked as
a gradient cut is never replaced.

The rules (`RULES`, keyed by op):
- identities: x+0, 0+x, x-0, x*1, 1*x, x/1, x**1, x|0, x^0, bool x & True, x | False
  (the constant may be a literal, a `full` node or a uniform graph constant);
- same operand: maximum/minimum(x, x), x & x, x | x, where(c, x, x) -> x; a condition
  known to be all True/False selects its branch;
- involutions and idempotents: neg(neg x), not(not x), ~~x -> x; abs(abs x), abs(neg x)
  -> abs x; floor/ceil/round/trunc/sign of themselves -> one application;
- casts: convert to the same dtype -> x; convert(convert(x, a), b) -> convert(x, b) when
  x -> a is exact (no value changes) and the result is not a float-to-integer cast (whose
  out-of-range behaviour depends on the source width);
- views: permute/reshape/expand to what x already is -> x; permute of permute composed (or
  cancelled), reshape of reshape and expand of expand collapsed, slice of slice composed,
  whole-tensor slices, zero pads, one-operand cat, empty flips and flip of flip removed;
- copy(x) -> x: graphs have value semantics (a traced write is an `index_put` producing a
  new value), so a copy only matters for memory layout, which is the backend's business.

Floating-point note: x + 0.0 differs from x only for x = -0.0 (the sum is +0.0); the
rewrite keeps -0.0, as every compiler's x+0 rule does. All other rules are exact.
"""
from __future__ import annotations

from ...ir import dtypes as D
from ...ir.graph import Graph, Value
from .rewrite import Rewriter, kernel_result_dtype, known_scalar, same_type

__all__ = ["simplify", "RULES", "exact_cast"]


# ---------------------------------------------------------------- casts

_INT_RANGE = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-2 ** 15, 2 ** 15 - 1),
              "int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}
# (significand digits, largest finite exponent) of each float dtype
_FLOAT_FORMAT = {"float16": (11, 15), "bfloat16": (8, 127), "float32": (24, 127),
                 "float64": (53, 1023)}


def exact_cast(src: D.DType, dst: D.DType) -> bool:
    """True when converting any value of src to dst keeps its value exactly."""
    if src is dst or src is D.bool_:
        return True
    s, d = src.name, dst.name
    if s in _INT_RANGE:
        lo, hi = _INT_RANGE[s]
        if d in _INT_RANGE:
            return _INT_RANGE[d][0] <= lo and hi <= _INT_RANGE[d][1]
        if d in _FLOAT_FORMAT:
            return max(hi, -lo) <= 2 ** _FLOAT_FORMAT[d][0]
        return False
    if s in _FLOAT_FORMAT and d in _FLOAT_FORMAT:
        (sd, se), (dd, de) = _FLOAT_FORMAT[s], _FLOAT_FORMAT[d]
        return dd >= sd and de >= se
    return False


# ---------------------------------------------------------------- helpers

def _producer(v, op=None):
    """The new-graph node producing v when it is an `op` node (any op if None)."""
    if not isinstance(v, Value) or v.node is None:
        return None
    return v.node if op is None or v.node.op == op else None


def _is(s, a, value):
    """Operand a is known to be `value` everywhere."""
    k = known_scalar(a, s.new)
    if k is None:
        return False
    try:
        return bool(k == value)
    except (TypeError, ValueError):
        return False


def _keeps(s, n, x, operands):
    """x may stand for n's result: same type, and the literals do not promote."""
    out = n.outputs[0]
    if not isinstance(x, Value) or not same_type(x, out):
        return False
    if all(isinstance(a, Value) for a in operands):
        return True
    return kernel_result_dtype(n.op, operands, n.attrs) == out.dtype.np


def _identity(value, sides=(0, 1)):
    """op(x, e) -> x (side 1: e on the right) and op(e, x) -> x (side 0)."""
    def rule(s, n, args):
        for side in sides:
            x, e = (args[0], args[1]) if side == 1 else (args[1], args[0])
            if _is(s, e, value) and _keeps(s, n, x, args):
                return x
        return None
    return rule


def _same_operands(s, n, args):
    a, b = args[-2], args[-1]
    if isinstance(a, Value) and a is b and _keeps(s, n, a, args):
        return a
    return None


def _where_known(s, n, args):
    c, a, b = args
    for value, pick in ((True, a), (False, b)):
        if _is(s, c, value) and _keeps(s, n, pick, args):
            return pick
    return None


def _involution(s, n, args):
    inner = _producer(args[0], n.op)
    if inner is not None and _keeps(s, n, inner.inputs[0], inner.inputs):
        return inner.inputs[0]
    return None


def _idempotent(s, n, args):
    inner = _producer(args[0], n.op)
    if inner is not None and same_type(inner.outputs[0], n.outputs[0]):
        return inner.outputs[0]
    return None


def _abs_of_neg(s, n, args):
    inner = _producer(args[0], "neg")
    # not for unsigned integers: there neg wraps around (abs(-3) is 253 in uint8)
    if inner is not None and n.outputs[0].dtype.name != "uint8":
        return s.emit(n, "abs", [inner.inputs[0]], {})
    return None


def _convert(s, n, args):
    (x,) = args
    dtype = n.attrs["dtype"]
    if x.dtype is dtype:
        return x
    inner = _producer(x, "convert")
    if inner is None:
        return None
    src = inner.inputs[0]
    if not exact_cast(src.dtype, x.dtype):
        return None
    if src.dtype is dtype:
        return src
    if src.dtype.category == D.FLOAT and dtype.category not in (D.FLOAT, D.BOOL):
        return None
    return s.emit(n, "convert", [src], {"dtype": dtype})


def _same_shape(s, n, args):
    x = args[0]
    return x if same_type(x, n.outputs[0]) else None


def _permute(s, n, args):
    dims = tuple(n.attrs["dims"])
    x = args[0]
    if dims == tuple(range(len(dims))):
        return x
    inner = _producer(x, "permute")
    if inner is None:
        return None
    composed = tuple(inner.attrs["dims"][d] for d in dims)
    if composed == tuple(range(len(composed))):
        return inner.inputs[0]
    return s.emit(n, "permute", [inner.inputs[0]], {"dims": composed})


def _collapse(op):
    """op(op(x, a), b) -> op(x, b), or x when b is x's shape already."""
    def rule(s, n, args):
        x = args[0]
        if same_type(x, n.outputs[0]):
            return x
        inner = _producer(x, op)
        if inner is None:
            return None
        src = inner.inputs[0]
        if same_type(src, n.outputs[0]):
            return src
        return s.emit(n, op, [src], dict(n.attrs))
    return rule


def _slice(s, n, args):
    x = args[0]
    starts, stops, steps = n.attrs["starts"], n.attrs["stops"], n.attrs["steps"]
    if all(a == 0 and b == d and st == 1 for a, b, st, d in zip(starts, stops, steps, x.shape)):
        return x
    inner = _producer(x, "slice")
    if inner is None:
        return None
    a1, s1 = inner.attrs["starts"], inner.attrs["steps"]
    out = n.outputs[0].shape
    new_starts = tuple(p + q * r for p, q, r in zip(a1, starts, s1))
    new_steps = tuple(r * t for r, t in zip(s1, steps))
    # an empty result: any empty slice will do (the composed start may lie past the end)
    new_starts = tuple(b if m > 0 else 0 for b, m in zip(new_starts, out))
    new_stops = tuple(b + (m - 1) * t + 1 if m > 0 else 0
                      for b, m, t in zip(new_starts, out, new_steps))
    return s.emit(n, "slice", [inner.inputs[0]],
                  {"starts": new_starts, "stops": new_stops, "steps": new_steps})


def _pad(s, n, args):
    if all(tuple(p) == (0, 0, 0) for p in n.attrs["pads"]):
        return _same_shape(s, n, args)
    return None


def _cat(s, n, args):
    return _same_shape(s, n, args) if len(args) == 1 else None


def _flip(s, n, args):
    dims = tuple(n.attrs["dims"])
    if not dims:
        return _same_shape(s, n, args)
    inner = _producer(args[0], "flip")
    if inner is not None and sorted(inner.attrs["dims"]) == sorted(dims):
        return inner.inputs[0]
    return None


RULES = {
    "add": [_identity(0)],
    "sub": [_identity(0, sides=(1,))],
    "mul": [_identity(1)],
    "div": [_identity(1, sides=(1,))],
    "pow": [_identity(1, sides=(1,))],
    "bitwise_or": [_identity(0), _same_operands],
    "bitwise_xor": [_identity(0)],
    "bitwise_and": [_same_operands],
    "logical_and": [_identity(True), _same_operands],
    "logical_or": [_identity(False), _same_operands],
    "maximum": [_same_operands],
    "minimum": [_same_operands],
    "where": [_same_operands, _where_known],
    "neg": [_involution],
    "logical_not": [_involution],
    "bitwise_not": [_involution],
    "abs": [_idempotent, _abs_of_neg],
    "floor": [_idempotent],
    "ceil": [_idempotent],
    "round": [_idempotent],
    "trunc": [_idempotent],
    "sign": [_idempotent],
    "convert": [_convert],
    "permute": [_permute],
    "reshape": [_collapse("reshape")],
    "expand": [_collapse("expand")],
    "slice": [_slice],
    "pad": [_pad],
    "cat": [_cat],
    "flip": [_flip],
    "copy": [_same_shape],
}


class _Simplifier:
    def __init__(self, graph):
        self.rw = Rewriter(graph)
        self.new = self.rw.new

    def emit(self, n, op, inputs, attrs):
        """A replacement node for n (same result type, n's source line)."""
        return self.rw.emit(op, inputs, attrs, out_types=[n.outputs[0].type], source=n.source)

    def run(self):
        rw = self.rw
        for n in rw.old.nodes:
            rules = RULES.get(n.op)
            if not rules or len(n.outputs) != 1 or rw.pinned(n.outputs[0]):
                rw.copy(n)
                continue
            args = rw.operands(n)
            for rule in rules:
                v = rule(self, n, args)
                if v is not None:
                    if not same_type(v, n.outputs[0]):  # a rule's bug, never a user error
                        raise AssertionError(f"simplify: rule {rule.__name__} changed the type "
                                             f"of {n}")
                    rw.replace(n, [v])
                    break
            else:
                rw.copy(n)
        return rw.finish(), rw.changes


def run(graph: Graph):
    return _Simplifier(graph).run()


def simplify(graph: Graph) -> Graph:
    """A copy of `graph` with the `RULES` rewrites applied in one forward sweep (nodes left
    unused are removed by `dce`; `optimize` repeats both to a fixed point)."""
    return run(graph)[0]
