"""Fusion planning: golden plans for the composites, the view policy, legality checks."""
import copy

import numpy as np
import pytest

from ember.compiler.passes import FusionError, plan_fusion, run_plan
from ember.ir.graph import Sym
from ember.runtime.interpreter import run_graph

from _pass_graphs import (B, assert_same, cross_entropy_graph, f32, i64, layer_norm_graph,
                          linear_gelu_graph, lit, random_inputs, softmax_graph)


def _kinds(plan):
    return [g.kind for g in plan.groups]


def _runs_the_same(graph, plan, bindings=None):
    args = random_inputs(graph, bindings=bindings)
    assert_same(run_graph(graph, args), run_plan(plan, args))


@pytest.mark.parametrize("shape, dim, log", [((4, 8), -1, False), ((4, 8), -1, True),
                                             ((3, 5, 7), 1, False), ((6,), 0, False)])
def test_softmax_is_one_reduction_kernel(shape, dim, log):
    g = softmax_graph(shape, dim, log)
    plan = plan_fusion(g)
    assert _kinds(plan) == ["reduction"]
    (grp,) = plan.groups
    assert grp.shape == shape and grp.reduce_dims == (dim % len(shape),)
    assert grp.inputs == g.inputs and grp.outputs == g.outputs
    d = dim % len(shape)
    row_sum = [n for n in plan.members(grp) if n.op == "sum"][0].outputs[0]
    assert grp.dim_maps[row_sum] == tuple(None if k == d or n == 1 else k
                                          for k, n in enumerate(shape))
    assert grp.dim_maps[g.outputs[0]] == tuple(range(len(shape)))
    _runs_the_same(g, plan)


def test_layer_norm_is_one_kernel_with_its_affine_epilogue():
    g = layer_norm_graph((4, 6, 8))
    plan = plan_fusion(g)
    assert _kinds(plan) == ["reduction"] and plan.groups[0].reduce_dims == (2,)
    # weight and bias are read through their reshape views: loads, not kernels
    assert set(plan.groups[0].inputs) == set(g.inputs)
    _runs_the_same(g, plan)


def test_cross_entropy_is_two_kernels():
    g = cross_entropy_graph()
    plan = plan_fusion(g)
    assert _kinds(plan) == ["reduction", "reduction"]
    first, second = plan.groups
    assert first.reduce_dims == (1,) and second.shape == (6,) and second.reduce_dims == (0,)
    assert [n.op for n in plan.members(second)][:3] == ["reshape", "gather", "reshape"]
    _runs_the_same(g, plan)


def test_matmul_with_bias_activation_and_residual_is_one_kernel():
    g = linear_gelu_graph(Sym("B"))
    plan = plan_fusion(g)
    assert _kinds(plan) == ["matmul_epilogue"]
    assert plan.members(plan.groups[0])[0].op == "permute"   # w.T: a strided load
    _runs_the_same(g, plan, bindings={"B": 5})


def test_conv_with_bias_and_relu_is_one_kernel():
    g = B("conv")
    x = g.input((2, 3, 8, 8), name="x")
    w = g.input((4, 3, 3, 3), name="w")
    b = g.input((4,), name="b")
    y = g.conv(x, w, stride=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
               rhs_dilation=(1, 1), groups=1)
    y = g.add(y, g.reshape(b, shape=(1, 4, 1, 1)))
    g.out(g.maximum(y, lit(0.0)))
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["matmul_epilogue"] and plan.groups[0].shape == (2, 4, 8, 8)
    _runs_the_same(g.graph, plan)


def test_plan_prints_readably():
    text = str(plan_fusion(softmax_graph()))
    lines = text.splitlines()
    assert lines[0] == "FusionPlan 'softmax': 6 nodes -> 1 kernel(s) (1 reduction)"
    assert lines[1] == "  group 0 reduction [4,8] reduce (1,): (%x) -> (%6)"
    assert "amax" in lines[3] and "div" in lines[-1]


def test_view_policy():
    g = B("views")
    x = g.input((4, 6), name="x")
    y = g.input((6, 4), name="y")
    a = g.exp(x)
    # a reshape merging dims of an in-group value is a boundary: a second kernel reads it
    flat = g.reshape(a, shape=(24,))
    b = g.sin(flat)
    # a view of an input used by two kernels, and one returned: `view` groups, no kernel
    yt = g.permute(y, dims=(1, 0))
    c = g.add(a, yt)
    d = g.sum(yt, dims=(0,), keepdim=False)
    g.out(b, c, d, yt)
    plan = plan_fusion(g.graph)
    by_op = {plan.members(grp)[0].op: grp for grp in plan.groups}
    assert by_op["permute"].kind == "view"
    assert plan.num_kernels == len(plan.groups) - 1
    flat_group = [grp for grp in plan.groups if "reshape" in [n.op for n in plan.members(grp)]]
    assert [n.op for n in plan.members(flat_group[0])] == ["reshape", "sin"]
    _runs_the_same(g.graph, plan)


def test_row_values_are_broadcast_back_inside_a_reduction_group():
    g = B("bcast")
    x = g.input((5, 7), name="x")
    s = g.sum(x, dims=(1,), keepdim=False)                 # (5,)
    back = g.expand(g.reshape(s, shape=(5, 1)), shape=(5, 7))
    g.out(g.mul(x, back))
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["reduction"]
    _runs_the_same(g.graph, plan)


def test_a_row_value_is_never_read_by_column_index():
    g = B("square")
    x = g.input((5, 5), name="x")
    s = g.sum(x, dims=(1,), keepdim=False)                 # a value per row, shape (5,)
    g.out(g.add(x, s))                                     # broadcasting reads it per column
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["reduction", "elementwise"]
    _runs_the_same(g.graph, plan)


def test_different_reduced_dims_are_different_kernels():
    g = B("two")
    x = g.input((4, 6), name="x")
    e = g.exp(x)
    g.out(g.sum(e, dims=(0,), keepdim=False), g.sum(e, dims=(1,), keepdim=False))
    plan = plan_fusion(g.graph)
    assert sorted(_kinds(plan)) == ["reduction", "reduction"]
    _runs_the_same(g.graph, plan)


def test_fusing_never_creates_a_cycle_between_groups():
    g = B("cycle")
    x = g.input((8,), name="x")
    e = g.exp(x)
    s = g.cumsum(e, dim=0)          # opaque: between e and the add
    g.out(g.add(e, s))              # joining e's group would make e -> cumsum -> e
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["elementwise", "opaque", "elementwise"]
    _runs_the_same(g.graph, plan)


def test_opaque_and_multi_output_nodes_are_alone():
    g = B("opaque")
    x = g.input((3, 4), name="x")
    vals, idx = g.sort(g.exp(x), dim=1)
    g.out(g.neg(vals), idx)
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["elementwise", "opaque", "elementwise"]
    assert plan.groups[1].outputs == [vals, idx]
    _runs_the_same(g.graph, plan)


def test_check_rejects_broken_plans():
    g = cross_entropy_graph()
    plan = plan_fusion(g)

    broken = copy.deepcopy(plan)
    broken.groups[0].nodes.append(broken.groups[1].nodes[0])
    with pytest.raises(FusionError, match="in groups"):
        broken.check()

    broken = copy.deepcopy(plan)
    broken.groups.reverse()
    with pytest.raises(FusionError, match="cycle|does not run before"):
        broken.check()

    broken = copy.deepcopy(plan)
    broken.groups[0].outputs = []
    with pytest.raises(FusionError, match="outputs"):
        broken.check()

    broken = copy.deepcopy(plan)
    broken.groups[1].nodes = broken.groups[1].nodes[:-1]
    with pytest.raises(FusionError, match="in no group"):
        broken.check()

    broken = copy.deepcopy(plan)
    merged = broken.groups[0].nodes + broken.groups[1].nodes
    broken.groups = [broken.groups[0]]
    broken.groups[0].nodes = merged          # two different reductions in one kernel
    with pytest.raises(FusionError, match="not a legal kernel"):
        broken.check()


def test_creation_nodes_fuse_into_their_consumer():
    g = B("full")
    x = g.input((3, 4), name="x")
    ones = g.full(shape=(3, 4), dtype=f32, value=lit(1.0))
    pos = g.iota(shape=(3, 1), dtype=i64, start=0, step=1)
    g.out(g.add(g.mul(x, ones), g.convert(pos, dtype=f32)))
    plan = plan_fusion(g.graph)
    assert _kinds(plan) == ["elementwise"]
    _runs_the_same(g.graph, plan)


def test_traced_composites_fuse_like_the_hand_built_ones():
    jit = pytest.importorskip("ember.jit")
    import ember
    F = pytest.importorskip("ember.nn.functional")
    try:
        x = ember.randn(4, 8)
        t = ember.tensor([1, 0, 3, 2])
        w, b = ember.randn(8), ember.randn(8)
        graphs = {
            "softmax": jit.trace(lambda x: ember.softmax(x, -1), (x,)).graph,
            "layer_norm": jit.trace(lambda x, w, b: F.layer_norm(x, (8,), w, b), (x, w, b)).graph,
            "cross_entropy": jit.trace(lambda x, t: F.cross_entropy(x, t), (x, t)).graph,
        }
    except Exception as e:  # noqa: BLE001 - the tracer is optional for this test
        pytest.skip(f"tracing unavailable: {type(e).__name__}: {e}")
    from ember.compiler.passes import optimize
    for name, graph in graphs.items():
        graph = optimize(graph)
        plan = plan_fusion(graph)
        assert 1 <= plan.num_kernels <= 2, f"{name}:\n{plan}"
        args = [a.numpy() if hasattr(a, "numpy") else np.asarray(a) for a in
                random_inputs(graph)]
        assert_same(run_graph(graph, args), run_plan(plan, args))
