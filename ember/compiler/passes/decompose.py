"""Decomposition: rewrite ops a backend lacks in terms of simpler primitives.

`decompose(graph, keep=ops)` replaces every node whose op is not in `keep` and has an
applicable entry in `DECOMPOSITIONS`; the ops the formulas produce are decomposed again
when they are not kept either. `keep=None` decomposes everything the table can.

The table is data: each entry is a formula over the node's operands written in primitive
names (`x` for a unary op's operand, `a`, `b` for a binary op's, `c, a, b` for where's),
with `name = expr;` steps, number literals (typed like the call's tensor operands), `inf`,
`**attrs` (the node's attributes, e.g. a reduction's dims) and `dtype=dtype` (the node's
result dtype). A guard says for which operand dtypes the formula is right. A formula
keeps the node's result type exactly; the tests check each entry against the op's kernel
on random and special values (inf, nan, signed zeros, extremes).

Most entries are exact (a comparison swapped, `isnan(x) = x != x`, `rsqrt(x) =
reciprocal(sqrt(x))`, `neg(x) = x * -1`, maximum through where with NaN propagation...).
The transcendental ones (sigmoid, tan, tanh, sinh, cosh, expm1, log1p, exp2, log2, log10)
agree within a few ulps: expm1/log1p use Kahan's formulas, which stay accurate near 0
where the naive exp(x) - 1 would lose every digit.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

from ...ir import dtypes as D
from ...ir.graph import Graph, Value
from ...ir.ops import PRIMITIVES
from ...runtime.registry import KERNELS
from .rewrite import Rewriter, has_static_shape, kernel_result_dtype, same_type

__all__ = ["decompose", "Decomposition", "DECOMPOSITIONS", "GUARDS", "DecompositionError"]


class DecompositionError(RuntimeError):
    """strict decomposition left an op the backend does not keep."""


def _tensors(operands):
    return [v for v in operands if isinstance(v, Value)]


def _reduced_dims_nonempty(operands, attrs):
    (x,) = _tensors(operands)
    if not has_static_shape(x.shape):
        return False
    dims = attrs.get("dims")
    dims = range(len(x.shape)) if dims is None else dims
    return all(x.shape[d] > 0 for d in dims)


# guard name -> predicate(operands, attrs); operands are Values or literals
GUARDS = {
    "any": lambda ops, attrs: True,
    "float": lambda ops, attrs: _tensors(ops)[0].dtype.category == D.FLOAT,
    "signed": lambda ops, attrs: _tensors(ops)[0].dtype.category == D.FLOAT
    or _tensors(ops)[0].dtype.name in ("int8", "int16", "int32", "int64"),
    "integer": lambda ops, attrs: _tensors(ops)[0].dtype.category in (D.INT, D.BOOL),
    "numeric": lambda ops, attrs: _tensors(ops)[0].dtype is not D.bool_,
    "bool": lambda ops, attrs: all(v.dtype is D.bool_ for v in _tensors(ops)),
    "float square": lambda ops, attrs: _tensors(ops)[0].dtype.category == D.FLOAT
    and not isinstance(ops[1], Value) and ops[1] == 2,
    "nonempty reduction": lambda ops, attrs: _reduced_dims_nonempty(ops, attrs),
    "nonempty float reduction": lambda ops, attrs: _reduced_dims_nonempty(ops, attrs)
    and _tensors(ops)[0].dtype.category == D.FLOAT,
}


@dataclass(frozen=True)
class Decomposition:
    formula: str
    when: str = "any"


_D = Decomposition

DECOMPOSITIONS: dict[str, list[Decomposition]] = {
    # exact
    "rsqrt": [_D("reciprocal(sqrt(x))", "float")],
    "reciprocal": [_D("div(1, x)", "float")],
    "neg": [_D("mul(x, -1)", "signed")],
    "sub": [_D("add(a, neg(b))", "numeric")],
    "gt": [_D("lt(b, a)")],
    "le": [_D("ge(b, a)")],
    "ne": [_D("logical_not(eq(a, b))")],
    "logical_not": [_D("eq(x, 0)")],
    "logical_and": [_D("bitwise_and(a, b)", "bool")],
    "logical_or": [_D("bitwise_or(a, b)", "bool")],
    "logical_xor": [_D("ne(a, b)", "bool")],
    "bitwise_not": [_D("logical_not(x)", "bool")],
    "isnan": [_D("ne(x, x)", "float")],
    "isinf": [_D("eq(abs(x), inf)", "float")],
    # x + 0 turns -0.0 into +0.0, which abs must return (where alone would keep -0.0)
    "abs": [_D("where(lt(x, 0), neg(x), add(x, 0))", "signed")],
    "sign": [_D("sub(convert(gt(x, 0), dtype=dtype), convert(lt(x, 0), dtype=dtype))",
                "signed")],
    "trunc": [_D("where(lt(x, 0), ceil(x), floor(x))", "float")],
    "maximum": [_D("where(logical_or(gt(a, b), isnan(a)), a, b)", "float"),
                _D("where(gt(a, b), a, b)", "integer")],
    "minimum": [_D("where(logical_or(lt(a, b), isnan(a)), a, b)", "float"),
                _D("where(lt(a, b), a, b)", "integer")],
    "pow": [_D("mul(a, a)", "float square")],
    "amin": [_D("neg(amax(neg(x), **attrs))", "nonempty float reduction")],
    "any": [_D("amax(ne(x, 0), **attrs)", "nonempty reduction")],
    "all": [_D("amin(ne(x, 0), **attrs)", "nonempty reduction")],
    # within a few ulps
    "sigmoid": [_D("reciprocal(add(exp(neg(x)), 1))", "float")],
    "tan": [_D("div(sin(x), cos(x))", "float")],
    "exp2": [_D("pow(2, x)", "float")],
    "log2": [_D("mul(log(x), 1.4426950408889634)", "float")],
    "log10": [_D("mul(log(x), 0.4342944819032518)", "float")],
    "expm1": [_D("u = exp(x); um1 = sub(u, 1);"
                 "where(eq(u, 1), x, where(eq(um1, -1), -1,"
                 " where(eq(u, inf), u, div(mul(um1, x), log(u)))))", "float")],
    "log1p": [_D("u = add(x, 1); d = sub(u, 1);"
                 "where(eq(d, 0), x, where(eq(u, inf), u, div(mul(log(u), x), d)))", "float")],
    "sinh": [_D("mul(sub(expm1(x), expm1(neg(x))), 0.5)", "float")],
    "cosh": [_D("mul(add(exp(x), exp(neg(x))), 0.5)", "float")],
    "tanh": [_D("e = expm1(mul(abs(x), -2)); t = div(neg(e), add(e, 2));"
                "where(lt(x, 0), neg(t), t)", "float")],
}

_PARAMS = {1: ("x",), 2: ("a", "b"), 3: ("c", "a", "b")}


class _Lit(float):
    """An untyped number of a formula: it takes the dtype of the call's tensor operands."""


def _parse(formula):
    body = ast.parse("\n".join(part.strip() for part in formula.split(";")), mode="exec").body
    *steps, last = body
    if not isinstance(last, ast.Expr) or not all(isinstance(s, ast.Assign) for s in steps):
        raise ValueError(f"decomposition formula must be 'name = expr;'... then an "
                         f"expression: {formula!r}")
    return steps, last.value


class _Decomposer:
    def __init__(self, graph, keep, table):
        self.rw = Rewriter(graph)
        self.keep = keep
        self.table = table
        self.parsed = {}

    # -------------------------------------------------------------- choosing
    def entry(self, op, operands, attrs):
        """The applicable decomposition of op for these operands, or None."""
        if self.keep is not None and op in self.keep:
            return None
        for d in self.table.get(op, ()):
            if GUARDS[d.when](operands, attrs):
                return d
        return None

    # -------------------------------------------------------------- evaluating formulas
    def expand(self, op, operands, attrs, out_dtype, source, stack):
        """The value of `op(operands)` built from the formula of its entry."""
        d = self.entry(op, operands, attrs)
        if d is None or op in stack:
            return None
        if d.formula not in self.parsed:
            self.parsed[d.formula] = _parse(d.formula)
        steps, result = self.parsed[d.formula]
        env = dict(zip(_PARAMS[len(operands)], operands))
        ctx = (attrs, out_dtype, source, stack | {op})
        for s in steps:
            env[s.targets[0].id] = self.eval(s.value, env, ctx)
        return self.eval(result, env, ctx)

    def eval(self, e, env, ctx):
        if isinstance(e, ast.Name):
            return env[e.id] if e.id != "inf" else _Lit("inf")
        if isinstance(e, ast.Constant):
            return _Lit(e.value)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
            return _Lit(-self.eval(e.operand, env, ctx))
        if isinstance(e, ast.Call):
            attrs, out_dtype, source, stack = ctx
            args = [self.eval(a, env, ctx) for a in e.args]
            kw = {}
            for k in e.keywords:
                if k.arg is None:           # **attrs: the decomposed node's attributes
                    kw.update(attrs)
                elif isinstance(k.value, ast.Name) and k.value.id == "dtype":
                    kw[k.arg] = out_dtype
                else:
                    raise ValueError(f"decomposition formulas only pass **attrs and "
                                     f"dtype=dtype, got {ast.unparse(k)}")
            return self.call(e.func.id, args, kw, source, stack)
        raise ValueError(f"unsupported construct in a decomposition formula: {ast.unparse(e)}")

    def call(self, op, args, attrs, source, stack):
        tensors = _tensors(args[1:] if op == "where" else args) or _tensors(args)
        if not tensors:  # all literals: compute the scalar now
            out = KERNELS["cpu"][op](*args, **attrs)
            return out
        dt = tensors[0].dtype
        args = [dt.np.type(a) if isinstance(a, _Lit) else a for a in args]
        rule_types = PRIMITIVES[op].rule(*[a.type if isinstance(a, Value) else a for a in args],
                                         **attrs)
        v = self.expand(op, args, attrs, rule_types[0].dtype, source, stack)
        if v is not None:
            return v
        return self.rw.emit(op, args, attrs, out_types=rule_types, source=source)

    # -------------------------------------------------------------- the pass
    def candidate(self, n):
        return (n.op in self.table and (self.keep is None or n.op not in self.keep)
                and len(n.outputs) == 1 and not self.rw.pinned(n.outputs[0]))

    def node_operands(self, n):
        """n's new operands with literals typed like its tensors; None if a literal would
        promote (the formula could not keep the node's type)."""
        args = self.rw.operands(n)
        if all(isinstance(a, Value) for a in args):
            return args
        tensors = _tensors(args)
        if not tensors or kernel_result_dtype(n.op, args, n.attrs) != n.outputs[0].dtype.np:
            return None
        dt = tensors[-1].dtype
        return [a if isinstance(a, Value) else dt.np.type(a) for a in args]

    def run(self):
        rw = self.rw
        for n in rw.old.nodes:
            v = None
            if self.candidate(n):
                args = self.node_operands(n)
                if args is not None:
                    v = self.expand(n.op, args, n.attrs, n.outputs[0].dtype, n.source,
                                    frozenset())
            if v is None:
                rw.copy(n)
                continue
            if not isinstance(v, Value) or not same_type(v, n.outputs[0]):
                raise AssertionError(f"decompose: the formula for '{n.op}' does not keep the "
                                     f"type of {n}")
            rw.replace(n, [v])
        return rw.finish(), rw.changes


def remaining(graph: Graph, keep) -> list:
    """The nodes of graph whose op is not in keep."""
    return [n for n in graph.nodes if n.op not in keep]


def decompose(graph: Graph, keep=None, *, strict=False, table=None) -> Graph:
    """A copy of `graph` in which every op outside `keep` (a collection of primitive names;
    None: keep nothing the table can decompose) is replaced by its decomposition.

    Ops outside `keep` that the table cannot decompose (no entry, or no entry for those
    dtypes) stay as they are; with `strict=True` they raise DecompositionError naming the
    op and the user line instead."""
    keep = None if keep is None else frozenset(keep)
    out, _ = _Decomposer(graph, keep, DECOMPOSITIONS if table is None else table).run()
    if strict and keep is not None:
        left = remaining(out, keep)
        if left:
            where = "; ".join(f"'{n.op}'" + (f" at {n.source}" if n.source else "")
                              for n in left[:8])
            raise DecompositionError(f"decompose: {len(left)} node(s) use ops outside the "
                                     f"kept set that have no decomposition: {where}")
    return out
