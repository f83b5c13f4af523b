"""Dead-code elimination and common-subexpression elimination."""
import numpy as np

from ember.compiler.passes import cse, dce
from ember.ir.graph import Graph
from ember.runtime.interpreter import run_graph

from _pass_graphs import B, f32, lit, same_results


def _ops(g):
    return [n.op for n in g.nodes]


# ---------------------------------------------------------------- DCE

def test_dce_removes_dead_nodes_and_unused_constants_keeps_inputs():
    g = B("dce")
    x = g.input((3,), name="x")
    unused_in = g.input((2,), name="unused")
    c_dead = g.const(np.arange(3, dtype=np.float32))
    c_live = g.const(np.ones(3, np.float32))
    g.exp(g.add(x, c_dead))               # dead chain
    y = g.mul(x, c_live)
    g.out(y)
    before = str(g.graph)
    out = dce(g.graph).verify()
    assert str(g.graph) == before          # the input graph is not edited
    assert _ops(out) == ["mul"]
    assert len(out.constants) == 1 and len(out.inputs) == 2
    assert [v.name for v in out.inputs] == ["x", "unused"]
    same_results(g.graph, out)


def test_dce_drops_unused_random_draws_and_keeps_used_ones():
    g = B("rng")
    x = g.input((4,), name="x")
    gen = np.random.default_rng(0)
    g.uniform(shape=(4,), dtype=f32, generator=gen)                  # unused: dead
    p = g.bernoulli(g.full(shape=(4,), dtype=f32, value=lit(0.5)), generator=gen)
    g.out(g.mul(x, p))
    out = dce(g.graph)
    assert _ops(out) == ["full", "bernoulli", "mul"]


def test_dce_keeps_multi_output_nodes_when_one_output_is_used():
    g = B("multi")
    x = g.input((5,), name="x")
    vals, idx = g.sort(x, dim=0)
    g.out(idx)
    out = dce(g.graph)
    assert _ops(out) == ["sort"]
    same_results(g.graph, out)


def test_dce_carries_stop_gradient_marks():
    g = B("sg")
    x = g.input((3,), name="x")
    s = g.reshape(x, shape=(3,))
    g.exp(x)
    g.out(g.mul(s, x))
    g.graph.stop_gradient = {s}
    out = dce(g.graph)
    (kept,) = out.stop_gradient
    assert kept.node.op == "reshape"


# ---------------------------------------------------------------- CSE

def test_cse_merges_repeated_computations():
    g = B("cse")
    x = g.input((2, 3), name="x")
    y = g.input((3,), name="y")
    a1 = g.exp(g.add(x, y))
    a2 = g.exp(g.add(x, y))
    b1 = g.mul(x, y)
    b2 = g.mul(y, x)                       # commutative: the same product
    c1 = g.sum(x, dims=(1,), keepdim=False)
    c2 = g.sum(x, dims=(1,), keepdim=True)  # other attributes: not the same
    g.out(g.add(a1, a2), g.sub(b1, b2), c1, c2)
    out = cse(g.graph).verify()
    assert _ops(out) == ["add", "exp", "mul", "sum", "sum", "add", "sub"]
    (sub,) = [n for n in out.nodes if n.op == "sub"]
    assert sub.inputs[0] is sub.inputs[1]
    (add_exp,) = [n for n in out.nodes if n.op == "add" and n.inputs[0].node is not None]
    assert add_exp.inputs[0] is add_exp.inputs[1]
    same_results(g.graph, out)


def test_cse_keeps_operand_order_of_non_commutative_ops_and_literal_types():
    g = B("order")
    x = g.input((3,), name="x")
    y = g.input((3,), name="y")
    outs = [g.sub(x, y), g.sub(y, x),
            g.maximum(x, y), g.maximum(y, x),      # signed zeros: order matters
            g.mul(x, lit(2.0)), g.mul(x, 2.0), g.mul(x, np.float64(2.0)),
            g.add(x, lit(0.0)), g.add(x, lit(-0.0))]
    g.out(*outs)
    out = cse(g.graph)
    assert len(out.nodes) == len(g.graph.nodes)


def test_cse_never_merges_random_draws_and_merges_nan_literals():
    g = B("rand")
    gen = np.random.default_rng(0)
    u1 = g.uniform(shape=(3,), dtype=f32, generator=gen)
    u2 = g.uniform(shape=(3,), dtype=f32, generator=gen)
    x = g.input((3,), name="x")
    n1 = g.add(x, lit(np.nan))
    n2 = g.add(x, lit(np.nan))
    g.out(u1, u2, n1, n2)
    out = cse(g.graph)
    assert _ops(out) == ["uniform", "uniform", "add"]


def test_cse_merges_equal_constants_but_not_different_ones():
    g = B("consts")
    x = g.input((3,), name="x")
    c1 = g.const(np.array([1, 2, 3], np.float32))
    c2 = g.const(np.array([1, 2, 3], np.float32))
    c3 = g.const(np.array([1, 2, 3], np.float64))
    c4 = g.const(np.array([1, 2, 4], np.float32))
    g.out(g.add(x, c1), g.add(x, c2), c3, g.add(x, c4))
    out = cse(g.graph)
    assert len(out.constants) == 3
    assert _ops(out) == ["add", "add"]
    same_results(g.graph, out)


def test_cse_does_not_merge_a_gradient_cut_with_a_plain_value():
    g = B("sg")
    x = g.input((3,), name="x")
    a = g.reshape(x, shape=(3,))
    b = g.reshape(x, shape=(3,))
    g.out(g.add(a, b))
    g.graph.stop_gradient = {a}
    out = cse(g.graph)
    assert _ops(out) == ["reshape", "reshape", "add"]
    g.graph.stop_gradient = set()
    assert _ops(cse(g.graph)) == ["reshape", "add"]


def test_cse_merges_multi_output_nodes():
    g = B("multi")
    x = g.input((4,), name="x")
    v1, i1 = g.sort(x, dim=0)
    v2, i2 = g.sort(x, dim=0)
    g.out(g.add(v1, v2), g.sub(i1, i2))
    out = cse(g.graph)
    assert _ops(out) == ["sort", "add", "sub"]
    args = [np.array([3.0, 1.0, 2.0, 0.5], np.float32)]
    np.testing.assert_array_equal(run_graph(out, args)[1], np.zeros(4, np.int64))


def test_passes_keep_graph_subclass_and_attachments():
    from ember.compiler.passes import optimize

    class Tagged(Graph):
        def __init__(self, name="graph"):
            super().__init__(name)
            self.bindings = {}

    g = Tagged("t")
    x = g.add_input(((2,), f32), "x")
    g.bindings = {"B": 3}
    g.set_outputs([g.add_node("exp", [x]).outputs[0]])
    out = optimize(g)
    assert type(out) is Tagged and out.bindings == {"B": 3}
    assert _ops(out) == ["exp"]
