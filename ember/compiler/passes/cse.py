"""Common-subexpression elimination: a node that applies the same op to the same operands
with equal attributes (and gives the same types) as an earlier node is replaced by it;
constants with equal dtype, shape and bytes are merged too.

- Operands are equal when they are the same value, or literals of the same type and value
  (`1`, `1.0` and `np.float32(1)` differ: they can promote differently; NaN equals NaN,
  +0.0 and -0.0 differ).
- Operands of exactly commutative ops (add, mul, comparisons for equality, logical and
  bitwise and/or/xor) are compared as a multiset. maximum/minimum are not: which zero
  they return for (+0.0, -0.0) depends on the order.
- Random draws are never merged: two draws are two samples. Nodes whose attributes cannot
  be compared (an unhashable object) are left alone.
- A value the tracer marked as a gradient cut is merged only with another cut value.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ...ir import dtypes as D
from ...ir.graph import Graph, Value
from ...ir.ops import PRIMITIVES
from .rewrite import Rewriter

__all__ = ["cse", "COMMUTATIVE"]

COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "logical_and", "logical_or", "logical_xor",
                         "bitwise_and", "bitwise_or", "bitwise_xor"})


class _Unhashable(Exception):
    pass


def _freeze(a):
    """A hashable key for an attribute or literal that distinguishes types and values."""
    if isinstance(a, D.DType):
        return ("dtype", a.name)
    if isinstance(a, (bool, int, str)) or a is None:
        return (type(a).__name__, a)
    if isinstance(a, (float, np.generic)):
        return (type(a).__name__, repr(a))   # repr keeps NaN == NaN and -0.0 != 0.0
    if isinstance(a, (tuple, list)):
        return (type(a).__name__,) + tuple(_freeze(x) for x in a)
    if isinstance(a, dict):
        return ("dict",) + tuple(sorted((k, _freeze(v)) for k, v in a.items()))
    raise _Unhashable(type(a).__name__)


def _operand_key(rw, a):
    return ("v", rw[a].id) if isinstance(a, Value) else ("l", _freeze(a))


def _node_key(rw, n):
    ops = [_operand_key(rw, a) for a in n.inputs]
    if n.op in COMMUTATIVE:
        ops.sort(key=repr)
    return (n.op, tuple(ops), _freeze(n.attrs),
            tuple((o.dtype.name, tuple(o.shape), o in rw.stop) for o in n.outputs))


def _constant_key(arr):
    return (arr.dtype.str, arr.shape, hashlib.sha1(np.ascontiguousarray(arr).tobytes()).digest())


def run(graph: Graph):
    rw = Rewriter(graph, copy_constants=False)
    seen_consts = {}
    for v, arr in graph.constants.items():
        key = _constant_key(arr)
        if key in seen_consts and v not in rw.stop:
            rw.env[v] = seen_consts[key]
            rw.changes += 1
        else:
            rw.env[v] = rw.new.add_constant(arr)
            seen_consts.setdefault(key, rw.env[v])
    seen = {}
    for n in graph.nodes:
        if PRIMITIVES[n.op].kind == "random":
            rw.copy(n)
            continue
        try:
            key = _node_key(rw, n)
        except _Unhashable:
            rw.copy(n)
            continue
        if key in seen:
            rw.replace(n, seen[key])
        else:
            seen[key] = rw.copy(n).outputs
    return rw.finish(), rw.changes


def cse(graph: Graph) -> Graph:
    """A copy of `graph` with repeated computations and duplicate constants merged."""
    return run(graph)[0]
