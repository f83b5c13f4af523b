"""Constant folding."""
import numpy as np

from ember.compiler.passes import dce, fold_constants, optimize
from ember.ir.graph import Sym
from ember.runtime.interpreter import run_graph

from _pass_graphs import B, f32, f64, i64, lit, same_results


def _ops(g):
    return [n.op for n in g.nodes]


def test_folds_constant_subgraphs_bit_for_bit():
    g = B("fold")
    x = g.input((3,), name="x")
    c = g.const(np.array([0.1, 0.2, 0.3], np.float32))
    k = g.exp(g.mul(g.sin(c), lit(3.0)))         # all known: folds to one constant
    g.out(g.add(x, k))
    out = dce(fold_constants(g.graph)).verify()
    assert _ops(out) == ["add"]
    (arr,) = out.constants.values()
    expect = np.exp(np.sin(np.array([0.1, 0.2, 0.3], np.float32)) * np.float32(3.0))
    assert arr.dtype == np.float32 and arr.tobytes() == expect.tobytes()
    same_results(g.graph, out)


def test_uniform_results_become_full_nodes_of_any_size():
    g = B("uniform")
    x = g.input((64, 64), name="x")
    one = g.full(shape=(1,), dtype=f32, value=lit(2.0))
    big = g.expand(g.exp(one), shape=(64, 64))     # 4096 equal elements
    g.out(g.mul(x, big))
    out = optimize(g.graph)
    assert _ops(out) == ["full", "mul"]
    assert out.nodes[0].attrs["value"] == np.float32(np.exp(np.float32(2.0)))
    assert not out.constants
    same_results(g.graph, out)


def test_size_limit_keeps_huge_tables_out_of_the_graph():
    g = B("big")
    x = g.input((100, 100), name="x")
    iota = g.iota(shape=(10000,), dtype=f32, start=0, step=1)     # 40 kB of distinct values
    table = g.reshape(iota, shape=(100, 100))
    g.out(g.add(x, g.sin(table)))
    small = fold_constants(g.graph, max_bytes=1024)
    assert _ops(small) == ["iota", "reshape", "sin", "add"] and not small.constants
    folded = dce(fold_constants(g.graph, max_bytes=1 << 20))
    assert _ops(folded) == ["add"] and list(folded.constants.values())[0].shape == (100, 100)
    same_results(g.graph, folded)


def test_never_folds_random_or_symbolic_or_data_dependent_nodes():
    g = B("nofold")
    gen = np.random.default_rng(0)
    u = g.uniform(shape=(3,), dtype=f32, generator=gen)
    c = g.const(np.array([0.0, 1.0, 0.0], np.float32))
    nz = g.nonzero(c)
    s = g.input((Sym("B"), 3), name="s")
    g.out(g.mul(u, c), nz, g.add(s, c))
    out = fold_constants(g.graph)
    assert _ops(out) == _ops(g.graph)


def test_folds_multi_output_and_integer_nodes():
    g = B("multi")
    c = g.const(np.array([3, 1, 2], np.int64))
    vals, idx = g.sort(c, dim=0)
    x = g.input((3,), i64, name="x")
    g.out(g.add(x, vals), g.mul(x, idx))
    out = dce(fold_constants(g.graph))
    assert _ops(out) == ["add", "mul"]
    same_results(g.graph, out)


def test_leaves_nodes_whose_kernel_result_disagrees_with_their_type():
    g = B("promotes")
    c = g.const(np.array([1.0, 2.0], np.float32))
    # np.float64 literal: the kernel computes float64 while the node records float32
    y = g.graph.add_node("mul", [c, np.float64(2.0)]).outputs[0]
    g.out(y)
    out = fold_constants(g.graph)
    assert _ops(out) == ["mul"]


def test_failing_kernels_are_left_for_run_time():
    g = B("fails")
    c = g.const(np.array([1, 2], np.int64))
    z = g.const(np.array([0, 1], np.int64))
    g.out(g.floor_divide(c, z))                   # integer division by zero raises
    out = fold_constants(g.graph)
    assert _ops(out) == ["floor_divide"]


def test_fold_keeps_source_lines_and_float64():
    g = B("src")
    c = g.const(np.array([1.0, 4.0], np.float64))
    r = g.graph.add_node("sqrt", [c], source="model.py:7").outputs[0]
    x = g.input((2,), f64, name="x")
    g.out(g.add(x, r))
    out = dce(fold_constants(g.graph))
    np.testing.assert_array_equal(run_graph(out, [np.zeros(2)])[0], [1.0, 2.0])
