"""Decomposition: every table entry against the op's own kernel, on random and special
values of each dtype its guard admits; `keep`, recursion and strict mode."""
import numpy as np
import pytest

from ember.compiler.passes import DECOMPOSITIONS, Decomposition, DecompositionError, decompose
from ember.compiler.passes.decompose import GUARDS, _parse
from ember.ir import dtypes as D
from ember.ir.ops import PRIMITIVES
from ember.runtime.interpreter import run_graph

from _pass_graphs import B, assert_same, lit

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

APPROXIMATE = {"sigmoid", "tan", "exp2", "log2", "log10", "expm1", "log1p", "sinh", "cosh",
               "tanh"}
REDUCTIONS = {"amin", "any", "all"}

DTYPES_FOR_GUARD = {
    "any": [D.float32, D.int64, D.bool_],
    "float": [D.float32, D.float64],
    "signed": [D.float32, D.float64, D.int8, D.int32, D.int64],
    "integer": [D.int32, D.uint8, D.bool_],
    "numeric": [D.float32, D.int64, D.uint8],
    "bool": [D.bool_],
    "float square": [D.float32, D.float64],
    "nonempty reduction": [D.float32, D.int64, D.bool_],
    "nonempty float reduction": [D.float32, D.float64],
}

_FLOAT_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-8, -1e-8, 3e-39, 80.0, -80.0, 1e30,
                   -1e30, np.inf, -np.inf, np.nan]


def _values(dtype, rng, n=12):
    if dtype.category == D.FLOAT:
        base = np.array(_FLOAT_SPECIALS, np.float64)
        return np.concatenate([base, rng.standard_normal(n) * 3]).astype(dtype.np)
    if dtype is D.bool_:
        return np.array([True, False, True])
    info = np.iinfo(dtype.np)
    base = [0, 1, 2, 7, info.max, info.min] + ([-1, -7] if info.min < 0 else [128, 255])
    return np.array(base, dtype.np)


def _cases():
    for op, entries in DECOMPOSITIONS.items():
        for entry in entries:
            for dt in DTYPES_FOR_GUARD[entry.when]:
                yield pytest.param(op, dt, id=f"{op}-{dt.name}")


def _graph_and_args(op, dt, rng):
    g = B(op)
    vals = _values(dt, rng)
    arity = PRIMITIVES[op].arity
    if op in REDUCTIONS:
        x = g.input((4, 5), dt, name="x")
        arr = rng.choice(vals, (4, 5))
        return g.out(g.node(op, x, dims=(1,), keepdim=False),
                     g.node(op, x, dims=(0, 1), keepdim=True)), [arr]
    if op == "pow":
        x = g.input((len(vals),), dt, name="x")
        return g.out(g.pow(x, lit(2, dt))), [vals]
    if arity == 1:
        x = g.input((len(vals),), dt, name="x")
        return g.out(g.node(op, x)), [vals]
    a = g.input((len(vals), 1), dt, name="a")
    b = g.input((1, len(vals)), dt, name="b")
    return g.out(g.node(op, a, b)), [vals[:, None], vals[None, :]]


@pytest.mark.parametrize("op, dt", list(_cases()))
def test_entry_matches_the_kernel(op, dt):
    rng = np.random.default_rng(0)
    graph, args = _graph_and_args(op, dt, rng)
    out = decompose(graph).verify()
    assert op not in {n.op for n in out.nodes}, str(out)
    want, got = run_graph(graph, args), run_graph(out, args)
    if op in APPROXIMATE:
        rtol = 4 * np.finfo(dt.np).eps
        assert_same(want, got, rtol=rtol, atol=np.finfo(dt.np).tiny)
    else:
        assert_same(want, got)


def test_literal_operands_are_typed_and_folded():
    g = B("lit")
    x = g.input((5,), D.float32, name="x")
    g.out(g.sub(x, 2.0), g.gt(x, 0.5), g.maximum(x, lit(0.0)))
    out = decompose(g.graph, keep={"add", "lt", "where", "logical_or", "isnan", "mul"})
    add = [n for n in out.nodes if n.op == "add"][0]
    assert add.inputs[1] == np.float32(-2.0) and type(add.inputs[1]) is np.float32
    args = [np.array([-1.0, 0.0, 0.5, 3.0, np.nan], np.float32)]
    assert_same(run_graph(g.graph, args), run_graph(out, args))


def test_keep_decides_what_is_decomposed_and_recursion_reaches_kept_ops():
    g = B("keep")
    x = g.input((6,), D.float32, name="x")
    g.out(g.sigmoid(x), g.rsqrt(g.abs(x)))
    same = decompose(g.graph, keep={"sigmoid", "rsqrt", "abs"})
    assert [n.op for n in same.nodes] == ["sigmoid", "abs", "rsqrt"]
    # no reciprocal and no neg: sigmoid's formula is decomposed again down to kept ops
    kept = {"exp", "mul", "add", "div", "sqrt", "abs"}
    out = decompose(g.graph, keep=kept, strict=True).verify()
    assert {n.op for n in out.nodes} <= kept
    args = [np.linspace(-4, 4, 6).astype(np.float32)]
    assert_same(run_graph(g.graph, args), run_graph(out, args), rtol=1e-6)


def test_strict_mode_names_the_op_and_the_user_line():
    g = B("strict")
    x = g.input((3,), D.float32, name="x")
    y = g.graph.add_node("erf", [x], source="model.py:12").outputs[0]
    g.out(g.exp(y))
    assert [n.op for n in decompose(g.graph, keep={"exp"}).nodes] == ["erf", "exp"]
    with pytest.raises(DecompositionError, match=r"'erf' at model.py:12"):
        decompose(g.graph, keep={"exp"}, strict=True)


def test_guards_leave_other_dtypes_alone():
    g = B("guards")
    u = g.input((3,), D.uint8, name="u")
    e = g.input((0, 3), D.float32, name="empty")
    g.out(g.neg(u), g.amin(e, dims=(0,), keepdim=False), g.pow(g.convert(u, dtype=D.float32),
                                                              lit(3.0)))
    out = decompose(g.graph)
    assert [n.op for n in out.nodes] == ["neg", "amin", "convert", "pow"]


def test_promoting_literals_are_not_decomposed():
    g = B("promote")
    x = g.input((3,), D.bfloat16, name="x")
    g.out(g.graph.add_node("sub", [x, 1.0]).outputs[0])       # bf16 - 1.0 is f32 at run time
    assert [n.op for n in decompose(g.graph).nodes] == ["sub"]


def test_the_table_is_well_formed():
    for op, entries in DECOMPOSITIONS.items():
        assert op in PRIMITIVES
        for e in entries:
            assert e.when in GUARDS
            steps, result = _parse(e.formula)
            import ast
            calls = {c.func.id for c in ast.walk(ast.Module(body=[*steps, ast.Expr(result)],
                                                            type_ignores=[]))
                     if isinstance(c, ast.Call)}
            assert calls <= set(PRIMITIVES), (op, calls - set(PRIMITIVES))


def test_a_custom_table_and_bad_formulas():
    g = B("custom")
    x = g.input((3,), D.float32, name="x")
    g.out(g.exp(x))
    table = {"exp": [Decomposition("pow(2.718281828459045, x)", "float")]}
    out = decompose(g.graph, table=table)
    assert [n.op for n in out.nodes] == ["pow"]
    with pytest.raises(ValueError, match="unsupported construct"):
        decompose(g.graph, table={"exp": [Decomposition("x[0]", "float")]})
    with pytest.raises(ValueError, match="formula must be"):
        decompose(g.graph, table={"exp": [Decomposition("y = x; z = y", "float")]})
