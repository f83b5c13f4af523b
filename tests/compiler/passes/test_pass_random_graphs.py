"""Random op graphs (hypothesis): every pass keeps the results, fusion plans are legal and
run correctly group by group, memory plans are sound when run in their arena."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from ember.compiler.passes import (decompose, optimize, plan_fusion, plan_memory, run_plan,
                                   run_planned)
from ember.runtime.interpreter import run_graph

from _pass_graphs import assert_same, random_graphs, random_inputs

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@_SETTINGS
@given(random_graphs())
def test_optimize_keeps_results_exactly(g):
    g.verify()
    args = random_inputs(g, seed=1)
    want = run_graph(g, args)
    out = optimize(g).verify()
    assert_same(want, run_graph(out, args))
    assert len(out.nodes) <= len(g.nodes)
    assert str(optimize(out)) == str(out)          # a fixed point


@_SETTINGS
@given(random_graphs(kinds=("unary", "binary", "literal", "view", "reduce", "where")))
def test_decompose_everything_keeps_results(g):
    args = random_inputs(g, seed=2)
    out = decompose(g).verify()
    assert_same(run_graph(g, args), run_graph(out, args), rtol=2e-5, atol=1e-6)


@_SETTINGS
@given(random_graphs(max_nodes=14))
def test_fusion_plans_are_legal_and_run_group_by_group(g):
    for graph in (g, optimize(g)):
        plan = plan_fusion(graph)                  # checked inside, checked again here
        plan.check()
        assert plan.num_kernels <= sum(n.op not in ("reshape", "permute", "expand", "slice")
                                       for n in graph.nodes) or not graph.nodes
        args = random_inputs(graph, seed=3)
        assert_same(run_graph(graph, args), run_plan(plan, args))


@_SETTINGS
@given(random_graphs(max_nodes=14))
def test_memory_plans_are_sound_in_their_arena(g):
    args = random_inputs(g, seed=4)
    want = run_graph(g, args)
    for source in (g, plan_fusion(g)):
        mem = plan_memory(source, alignment=8).check()
        assert mem.peak_bytes <= mem.unplanned_bytes + 8 * len(mem.buffers)
        assert mem.live_peak_bytes <= mem.peak_bytes
        assert_same(want, run_planned(mem, args))
        for b in mem.buffers:                      # inputs are never planned
            assert b.value not in g.inputs


def test_arena_execution_catches_an_unsound_plan():
    from _pass_graphs import B
    g = B("chain")
    x = g.input((8,), name="x")
    a = g.exp(x)
    b = g.sin(a)
    c = g.add(a, b)                   # a is still live when b is written
    g.out(g.mul(c, c))
    mem = plan_memory(g.graph, alignment=8)
    args = random_inputs(g.graph)
    assert_same(run_graph(g.graph, args), run_planned(mem, args))
    buf_a, buf_b = mem.buffer_of(a), mem.buffer_of(b)
    buf_b.offset = buf_a.offset       # corrupt: b overwrites a while a is live
    with pytest.raises(Exception, match="overlap"):
        mem.check()
    bad = run_planned(mem, args)
    assert not np.array_equal(bad[0], run_graph(g.graph, args)[0])
