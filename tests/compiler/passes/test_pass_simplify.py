"""Algebraic simplification: each rule, the cases it must leave alone, and exactness."""
import numpy as np
import pytest

from ember.compiler.passes import dce, optimize, simplify
from ember.compiler.passes.simplify import exact_cast
from ember.ir import dtypes as D

from _pass_graphs import B, b8, f32, f64, i64, lit, same_results


def _after(build, shape=(2, 3), dtype=f32):
    g = B("s")
    x = g.input(shape, dtype, name="x")
    g.out(build(g, x))
    out = dce(simplify(g.graph)).verify()
    same_results(g.graph, out)
    return out


def _ops(g):
    return [n.op for n in g.nodes]


def _returns_input(g):
    return g.outputs[0] is g.inputs[0]


IDENTITIES = {
    "x+0": lambda g, x: g.add(x, lit(0.0)),
    "0+x": lambda g, x: g.add(lit(0.0), x),
    "x-0": lambda g, x: g.sub(x, lit(0.0)),
    "x*1": lambda g, x: g.mul(x, lit(1.0)),
    "1*x": lambda g, x: g.mul(lit(1.0), x),
    "x/1": lambda g, x: g.div(x, lit(1.0)),
    "x**1": lambda g, x: g.pow(x, lit(1.0)),
    "x*python 1.0": lambda g, x: g.mul(x, 1.0),
    "x*ones (full)": lambda g, x: g.mul(x, g.full(shape=(3,), dtype=f32, value=lit(1.0))),
    "x+zeros (constant)": lambda g, x: g.add(x, g.const(np.zeros((1, 3), np.float32))),
    "neg neg": lambda g, x: g.neg(g.neg(x)),
    "max(x, x)": lambda g, x: g.maximum(x, x),
    "min(x, x)": lambda g, x: g.minimum(x, x),
    "where(c, x, x)": lambda g, x: g.where(g.gt(x, lit(0.0)), x, x),
    "where(True, x, y)": lambda g, x: g.where(g.full(shape=(2, 3), dtype=b8, value=True), x,
                                              g.exp(x)),
    "permute twice": lambda g, x: g.permute(g.permute(x, dims=(1, 0)), dims=(1, 0)),
    "identity permute": lambda g, x: g.permute(x, dims=(0, 1)),
    "reshape to same": lambda g, x: g.reshape(x, shape=(2, 3)),
    "reshape chain back": lambda g, x: g.reshape(g.reshape(x, shape=(6,)), shape=(2, 3)),
    "expand to same": lambda g, x: g.expand(x, shape=(2, 3)),
    "convert to same": lambda g, x: g.convert(x, dtype=f32),
    "f32->f64->f32": lambda g, x: g.convert(g.convert(x, dtype=f64), dtype=f32),
    "whole slice": lambda g, x: g.slice(x, starts=(0, 0), stops=(2, 3), steps=(1, 1)),
    "zero pad": lambda g, x: g.pad(x, pads=((0, 0, 0), (0, 0, 0))),
    "cat of one": lambda g, x: g.cat(x, dim=0),
    "flip twice": lambda g, x: g.flip(g.flip(x, dims=(1, 0)), dims=(0, 1)),
    "flip nothing": lambda g, x: g.flip(x, dims=()),
    "copy": lambda g, x: g.copy(x),
    "long chain": lambda g, x: g.sub(g.mul(g.div(g.add(g.neg(g.neg(x)), lit(0.0)), lit(1.0)),
                                           lit(1.0)), lit(0.0)),
}


@pytest.mark.parametrize("name", list(IDENTITIES))
def test_identities_return_the_operand(name):
    out = _after(IDENTITIES[name])
    assert _returns_input(out) and not out.nodes, str(out)


@pytest.mark.parametrize("dtype, build", [
    (i64, lambda g, x: g.add(x, 0)),
    (i64, lambda g, x: g.bitwise_or(x, lit(0, i64))),
    (i64, lambda g, x: g.bitwise_xor(lit(0, i64), x)),
    (i64, lambda g, x: g.pow(x, lit(1, i64))),
    (b8, lambda g, x: g.logical_not(g.logical_not(x))),
    (b8, lambda g, x: g.logical_and(x, True)),
    (b8, lambda g, x: g.logical_or(False, x)),
    (b8, lambda g, x: g.mul(x, True)),
    (i64, lambda g, x: g.bitwise_not(g.bitwise_not(x))),
    (i64, lambda g, x: g.convert(g.convert(x, dtype=i64), dtype=i64)),
    (D.int16, lambda g, x: g.convert(g.convert(x, dtype=f32), dtype=D.int16)),
])
def test_integer_and_bool_identities(dtype, build):
    out = _after(build, dtype=dtype)
    assert _returns_input(out) and not out.nodes, str(out)


NOT_IDENTITIES = {
    # the zero broadcasts x to a bigger shape
    "broadcasting 0": (f32, lambda g, x: g.add(x, g.full(shape=(4, 2, 3), dtype=f32,
                                                         value=lit(0.0)))),
    "0 - x": (f32, lambda g, x: g.sub(lit(0.0), x)),
    "1 / x": (f32, lambda g, x: g.div(lit(1.0), x)),
    "x * 2": (f32, lambda g, x: g.mul(x, lit(2.0))),
    "x * 0": (f32, lambda g, x: g.mul(x, lit(0.0))),      # nan * 0 is nan
    "x * mixed ones": (f32, lambda g, x: g.mul(x, g.const(np.array([1, 1, 2], np.float32)))),
    # the literal promotes in the runtime: bfloat16 * 1.0 is float32
    "bf16 * 1.0": (D.bfloat16, lambda g, x: g.mul(x, 1.0)),
    # bool + 0 is an int64 sum in the runtime
    "bool + 0": (b8, lambda g, x: g.add(x, 0)),
    # f64 -> f32 is lossy, so the round trip is not x
    "f64->f32->f64": (f64, lambda g, x: g.convert(g.convert(x, dtype=f32), dtype=f64)),
    "reshape to other": (f32, lambda g, x: g.reshape(x, shape=(3, 2))),
    "one flip": (f32, lambda g, x: g.flip(x, dims=(0,))),
    "sub x x": (f32, lambda g, x: g.sub(x, x)),            # inf - inf is nan
    "half slice": (f32, lambda g, x: g.slice(x, starts=(0, 0), stops=(1, 3), steps=(1, 1))),
}


@pytest.mark.parametrize("name", list(NOT_IDENTITIES))
def test_rewrites_that_would_change_type_or_value_are_refused(name):
    dtype, build = NOT_IDENTITIES[name]
    g = B("n")
    x = g.input((2, 3), dtype, name="x")
    g.out(build(g, x))
    out = dce(simplify(g.graph))
    assert str(out) == str(dce(g.graph)), str(out)


def test_composed_rewrites():
    out = _after(lambda g, x: g.permute(g.permute(x, dims=(1, 2, 0)), dims=(1, 2, 0)),
                 shape=(2, 3, 4))
    (n,) = out.nodes
    assert n.op == "permute" and n.attrs["dims"] == (2, 0, 1)

    out = _after(lambda g, x: g.reshape(g.reshape(x, shape=(6,)), shape=(3, 2)))
    (n,) = out.nodes
    assert n.op == "reshape" and n.inputs[0] is out.inputs[0] and n.attrs["shape"] == (3, 2)

    out = _after(lambda g, x: g.expand(g.expand(x, shape=(2, 2, 3)), shape=(5, 2, 2, 3)))
    (n,) = out.nodes
    assert n.op == "expand" and n.inputs[0] is out.inputs[0]

    out = _after(lambda g, x: g.convert(g.convert(x, dtype=f64), dtype=D.float16))
    (n,) = out.nodes
    assert n.op == "convert" and n.inputs[0] is out.inputs[0] and n.attrs["dtype"] is D.float16

    out = _after(lambda g, x: g.abs(g.neg(x)))
    assert _ops(out) == ["abs"] and out.nodes[0].inputs[0] is out.inputs[0]

    out = _after(lambda g, x: g.floor(g.floor(g.abs(g.abs(x)))))
    assert _ops(out) == ["abs", "floor"]


@pytest.mark.parametrize("outer", [((0,), (3,), (1,)), ((1,), (4,), (2,)), ((2,), (2,), (1,)),
                                   ((0,), (5,), (3,))])
def test_slice_of_slice_composes(outer):
    starts, stops, steps = outer
    g = B("sl")
    x = g.input((11,), name="x")
    inner = g.slice(x, starts=(1,), stops=(11,), steps=(2,))          # 5 elements
    g.out(g.slice(inner, starts=starts, stops=stops, steps=steps))
    out = dce(simplify(g.graph)).verify()
    assert _ops(out) == ["slice"] and out.nodes[0].inputs[0] is out.inputs[0]
    same_results(g.graph, out)


def test_float_to_int_cast_chains_are_not_collapsed():
    out = _after(lambda g, x: g.convert(g.convert(x, dtype=f64), dtype=D.int32))
    assert _ops(out) == ["convert", "convert"]


def test_abs_of_neg_is_kept_for_unsigned():
    g = B("u8")
    x = g.input((4,), D.uint8, name="x")
    g.out(g.abs(g.neg(x)))
    out = dce(simplify(g.graph))
    assert _ops(out) == ["neg", "abs"]


def test_gradient_cuts_are_never_replaced():
    g = B("sg")
    x = g.input((3,), name="x")
    stopped = g.reshape(x, shape=(3,))
    g.out(g.mul(stopped, x))
    g.graph.stop_gradient = {stopped}
    out = optimize(g.graph)
    assert _ops(out) == ["reshape", "mul"]
    assert {v.node.op for v in out.stop_gradient} == {"reshape"}


def test_exact_cast_table():
    assert exact_cast(D.int32, D.float64) and not exact_cast(D.int32, D.float32)
    assert exact_cast(D.int16, D.float32) and not exact_cast(D.int16, D.float16)
    assert exact_cast(D.uint8, D.bfloat16) and exact_cast(D.int8, D.float16)
    assert not exact_cast(D.int64, D.float64) and exact_cast(D.bool_, D.int8)
    assert exact_cast(D.float16, D.float32) and not exact_cast(D.float16, D.bfloat16)
    assert not exact_cast(D.bfloat16, D.float16) and exact_cast(D.bfloat16, D.float64)
    assert exact_cast(D.uint8, D.int16) and not exact_cast(D.int8, D.uint8)
    assert not exact_cast(D.float32, D.int64)


def test_optimize_reaches_a_fixed_point_on_a_mixed_graph():
    g = B("mixed")
    x = g.input((4, 5), name="x")
    w = g.const(np.full((5,), 2.0, np.float32))
    a = g.exp(g.mul(g.add(x, lit(0.0)), lit(1.0)))
    b = g.exp(g.mul(x, lit(1.0)))                      # the same as a once simplified
    scale = g.sum(g.mul(w, w), dims=(0,), keepdim=False)   # constant: folds to 20
    y = g.div(g.add(a, b), scale)
    z = g.permute(g.permute(y, dims=(1, 0)), dims=(1, 0))
    g.out(z)
    out = optimize(g.graph)
    assert _ops(out) == ["exp", "add", "div"], str(out)
    (scale_value,) = out.constants.values()
    assert scale_value == np.float32(20.0)
    assert str(optimize(out)) == str(out)
    same_results(g.graph, out)
