"""Memory planning: liveness, reuse, outputs and inputs, views, symbolic sizes."""
import numpy as np
import pytest

from ember.compiler.passes import MemoryPlanError, plan_fusion, plan_memory, run_planned
from ember.compiler.passes.report import fusion_report
from ember.ir.graph import Sym
from ember.runtime.interpreter import run_graph

from _pass_graphs import B, assert_same, f32, layer_norm_graph, random_inputs


def _chain(n=5, size=16):
    g = B("chain")
    x = g.input((size,), name="x")
    vals = [x]
    for k in range(n):
        vals.append(g.node(("exp", "sin", "neg", "tanh", "abs")[k % 5], vals[-1]))
    g.out(vals[-1])
    return g.graph, vals


def test_a_chain_reuses_two_buffers():
    graph, vals = _chain(6)
    mem = plan_memory(graph, alignment=64)
    # 5 intermediates of 64 bytes alternate between two slots; the output is apart
    assert mem.unplanned_bytes == 6 * 64 and mem.output_bytes == 64
    assert mem.arena_bytes == 2 * 64 and mem.peak_bytes == 3 * 64
    offsets = [mem.buffer_of(v).offset for v in vals[1:-1]]
    assert offsets[0::2] == [offsets[0]] * len(offsets[0::2])
    assert offsets[0] != offsets[1]
    assert mem.buffer_of(vals[-1]).is_output and mem.buffer_of(vals[0]) is None
    args = random_inputs(graph)
    assert_same(run_graph(graph, args), run_planned(mem, args))


def test_best_fit_puts_a_small_buffer_in_a_freed_gap():
    g = B("gaps")
    x = g.input((64,), name="x")
    big = g.exp(x)                           # 256 B, dies at the sum
    s = g.sum(big, dims=(0,), keepdim=True)  # 4 B
    small = g.sin(g.reshape(s, shape=(1,)))
    g.out(g.add(x, g.exp(small)))
    mem = plan_memory(g.graph, alignment=4)
    assert mem.arena_bytes == 256 + 4
    assert mem.peak_bytes <= mem.unplanned_bytes


def test_views_alias_their_base_and_keep_it_alive():
    g = B("views")
    x = g.input((4, 6), name="x")
    a = g.exp(x)
    t = g.permute(a, dims=(1, 0))            # a view: no buffer, a lives while t is read
    b = g.sin(x)
    c = g.add(g.permute(b, dims=(1, 0)), t)
    g.out(c)
    mem = plan_memory(g.graph, alignment=8)
    assert mem.buffer_of(t) is mem.buffer_of(a)
    assert mem.buffer_of(a).end == mem.buffer_of(b).end     # both read by the add
    assert mem.buffer_of(a).offset != mem.buffer_of(b).offset
    args = random_inputs(g.graph)
    assert_same(run_graph(g.graph, args), run_planned(mem, args))


def test_outputs_and_views_returned_as_outputs_get_their_own_memory():
    g = B("outs")
    x = g.input((8,), name="x")
    a = g.exp(x)
    v = g.reshape(a, shape=(2, 4))           # returned: pins a
    b = g.sin(g.neg(x))
    g.out(v, b, x)                           # x itself: the caller's memory
    mem = plan_memory(g.graph)
    assert mem.buffer_of(a).is_output and mem.buffer_of(b).is_output
    assert mem.buffer_of(x) is None
    assert [bf.value for bf in mem.buffers if not bf.is_output] == [b.node.inputs[0]]


def test_fused_schedule_materialises_only_group_outputs():
    graph = layer_norm_graph((4, 6, 8))
    plan = plan_fusion(graph)
    mem = plan_memory(plan)
    assert len(mem.buffers) == 1 and mem.buffers[0].is_output
    unfused = plan_memory(graph)
    assert unfused.unplanned_bytes > mem.unplanned_bytes
    args = random_inputs(graph)
    assert_same(run_graph(graph, args), run_planned(mem, args))


def test_symbolic_dims_need_bindings():
    g = B("sym")
    x = g.input((Sym("B"), 3), name="x")
    g.out(g.sin(g.exp(x)))
    with pytest.raises(MemoryPlanError, match=r"symbolic dim 'B'.*bindings=\{'B': 32\}"):
        plan_memory(g.graph)
    mem = plan_memory(g.graph, bindings={"B": 5})
    assert mem.buffers[0].size == 5 * 3 * 4
    args = [np.ones((5, 3), np.float32)]
    assert_same(run_graph(g.graph, args), run_planned(mem, args))
    with pytest.raises(MemoryPlanError, match="other symbolic sizes"):
        run_planned(mem, [np.ones((7, 3), np.float32)])


def test_data_dependent_sizes_are_left_to_run_time():
    g = B("dyn")
    x = g.input((6,), name="x")
    nz = g.nonzero(g.exp(x))
    g.out(g.neg(g.convert(nz, dtype=f32)))
    mem = plan_memory(g.graph)
    assert len(mem.dynamic) == 3 and "sized at run time" in str(mem)
    args = random_inputs(g.graph)
    assert_same(run_graph(g.graph, args), run_planned(mem, args))


def test_plan_memory_rejects_other_sources():
    with pytest.raises(TypeError, match="expected a Graph or a FusionPlan"):
        plan_memory("graph")


def test_fusion_report_counts_and_bytes():
    graph = layer_norm_graph((4, 6, 8))
    r = fusion_report(graph)
    assert (r.nodes, r.kernels_before, r.kernels_after) == (13, 11, 1)
    assert r.planned_peak_bytes == r.unplanned_bytes == 4 * 6 * 8 * 4
    assert r.unfused_unplanned_bytes > r.unplanned_bytes
    assert "kernels 11 -> 1 after fusion" in str(r)
