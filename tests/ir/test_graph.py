"""The graph IR: building, printing, verification, JSON and DOT, and the interpreter."""
import json

import numpy as np
import pytest

from ember.ir import dtypes as D
from ember.ir.graph import Graph, GraphError, Sym, SCHEMA_VERSION
from ember.ir.ops import TensorType
from ember.runtime.interpreter import GraphRuntimeError, run_graph


def _mlp_graph():
    g = Graph("mlp")
    x = g.add_input(TensorType((Sym("B"), 3), D.float32), "x")
    w = g.add_input(TensorType((4, 3), D.float32), "w")
    b = g.add_constant(np.arange(4, dtype=np.float32))
    wt = g.add_node("permute", [w], {"dims": (1, 0)}, source="model.py:3").outputs[0]
    h = g.add_node("matmul", [x, wt], out_types=[TensorType((Sym("B"), 4), D.float32)],
                   source="model.py:4").outputs[0]
    y = g.add_node("add", [h, b], out_types=[TensorType((Sym("B"), 4), D.float32)]).outputs[0]
    z = g.add_node("maximum", [y, np.float32(0)],
                   out_types=[TensorType((Sym("B"), 4), D.float32)]).outputs[0]
    g.set_outputs([z])
    return g


def test_print_is_one_line_per_node_with_types_and_sources():
    text = str(_mlp_graph())
    assert text.splitlines()[0] == "mlp(%x: f32[B,3], %w: f32[4,3]) {"
    assert "= permute %w {dims=(1,0)}    # model.py:3" in text
    assert "f32[B,4] = matmul %x," in text and "maximum" in text
    assert text.splitlines()[-2].startswith("  return (")


def test_interpreter_matches_numpy_and_binds_symbols():
    g = _mlp_graph().verify()
    rng = np.random.default_rng(0)
    for batch in (1, 5):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        w = rng.standard_normal((4, 3)).astype(np.float32)
        (out,) = run_graph(g, [x, w])
        np.testing.assert_allclose(out, np.maximum(x @ w.T + np.arange(4), 0), rtol=1e-6)
    with pytest.raises(GraphRuntimeError, match=r"input 0 \(%x\) expects f32\[B,3\]"):
        run_graph(g, [np.zeros((2, 5), np.float32), w])


def test_runtime_error_names_the_source_line():
    g = Graph()
    a = g.add_input(TensorType((3,), D.int64))
    idx = g.add_input(TensorType((1,), D.int64))
    out = g.add_node("index", [a, idx], {"positions": (0,)}, source="user.py:42").outputs[0]
    g.set_outputs([out])
    with pytest.raises(GraphRuntimeError, match="user.py:42"):
        run_graph(g, [np.arange(3), np.array([7])])


def test_json_round_trip_keeps_everything():
    g = _mlp_graph()
    text = g.to_json()
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION
    h = Graph.from_json(text).verify()
    assert str(h) == str(g)
    x = np.ones((2, 3), np.float32)
    w = np.full((4, 3), 0.5, np.float32)
    np.testing.assert_array_equal(run_graph(h, [x, w])[0], run_graph(g, [x, w])[0])


@pytest.mark.parametrize("bad, msg", [
    ("not json", "not valid JSON"),
    ('{"nodes": []}', "no schema_version"),
    ('{"schema_version": 99}', "schema_version 99 is not supported"),
    ('{"schema_version": 1, "inputs": [{"id": 0}]}', "malformed"),
])
def test_json_errors(bad, msg):
    with pytest.raises(GraphError, match=msg):
        Graph.from_json(bad)


def test_verifier_rejects_ill_formed_and_ill_typed_graphs():
    g = Graph()
    x = g.add_input(TensorType((2, 3), D.float32))
    n = g.add_node("exp", [x])
    n.outputs[0].type = TensorType((3, 2), D.float32)
    with pytest.raises(GraphError, match=r"'exp' should produce f32\[2,3\]"):
        g.verify()

    g = Graph()
    x = g.add_input(TensorType((2,), D.float32))
    other = Graph().add_input(TensorType((2,), D.float32))
    g.add_node("add", [x, other], out_types=[TensorType((2,), D.float32)], source="f.py:9")
    with pytest.raises(GraphError, match=r"used before it is defined"):
        g.verify()

    with pytest.raises(GraphError, match="not a primitive"):
        g.add_node("softmax_of_doom", [x])

    g = Graph()
    x = g.add_input(TensorType((2,), D.float32))
    y = g.add_input(TensorType((2,), D.int64))
    with pytest.raises(TypeError):
        g.add_node("add", [x, y])  # the rule itself refuses mixed dtypes
    g.add_node("add", [x, y], out_types=[TensorType((2,), D.float32)], source="m.py:1")
    with pytest.raises(GraphError, match=r"ill-typed 'add'.*m.py:1|created at m.py:1"):
        g.verify()

    g = Graph()
    x = g.add_input(TensorType((2,), D.float32))
    g.set_outputs([g.add_node("exp", [x]).outputs[0], Graph().add_input(TensorType((1,), D.float32))])
    with pytest.raises(GraphError, match="not defined by the graph"):
        g.verify()


def test_dot_output():
    dot = _mlp_graph().to_dot()
    assert dot.startswith('digraph "mlp" {') and dot.rstrip().endswith("}")
    assert "matmul" in dot and "-> out0" in dot and "f32[B,3]" in dot


def test_stop_gradient_marks_survive_json():
    g = Graph()
    x = g.add_input(TensorType((2,), D.float32))
    y = g.add_node("exp", [x]).outputs[0]
    g.stop_gradient.add(y)
    g.set_outputs([y])
    h = Graph.from_json(g.to_json())
    assert [v.id for v in h.stop_gradient] == [h.outputs[0].id]


def test_values_carry_a_device_label_checked_by_the_verifier():
    g = Graph()
    x = g.add_input(TensorType((2,), D.float32), "x", device="cuda:0")
    y = g.add_node("exp", [x]).outputs[0]
    assert y.device == "cuda:0"
    g.set_outputs([y])
    assert "f32[2]@cuda:0" in str(g)
    h = Graph.from_json(g.to_json()).verify()
    assert h.outputs[0].device == "cuda:0"
    c = g.add_input(TensorType((2,), D.float32), "c")
    g.add_node("add", [x, c], out_types=[TensorType((2,), D.float32)])
    with pytest.raises(GraphError, match="different devices"):
        g.verify()
