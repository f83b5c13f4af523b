"""Helpers for the pass tests: a terse graph builder, the composite graphs the tracer
records for softmax / layer_norm / cross-entropy (built by hand, primitive for primitive,
as ember's eager composites compute them), random inputs, and result comparison."""
import numpy as np

from ember.ir import dtypes as D
from ember.ir.graph import Graph, Sym
from ember.ir.ops import TensorType
from ember.runtime.interpreter import run_graph

f32, f64, i64, b8 = D.float32, D.float64, D.int64, D.bool_


class B:
    """g = B("name"); x = g.input((2, 3)); y = g.exp(x); g.out(y); g.graph"""

    def __init__(self, name="g"):
        self.graph = Graph(name)

    def input(self, shape, dtype=f32, name=None):
        return self.graph.add_input(TensorType(tuple(shape), dtype), name)

    def const(self, array):
        return self.graph.add_constant(np.asarray(array))

    def out(self, *values):
        self.graph.set_outputs(list(values))
        return self.graph

    def node(self, op, *args, **attrs):
        n = self.graph.add_node(op, list(args), attrs)
        return n.outputs[0] if len(n.outputs) == 1 else n.outputs

    def __getattr__(self, op):
        if op.startswith("_"):
            raise AttributeError(op)
        return lambda *args, **attrs: self.node(op, *args, **attrs)


def lit(value, dtype=f32):
    return dtype.np.type(value)


def random_inputs(graph, seed=0, bindings=None):
    rng = np.random.default_rng(seed)
    out = []
    for v in graph.inputs:
        shape = tuple((bindings or {}).get(d, d) if isinstance(d, str) else d for d in v.shape)
        if v.dtype.category == D.FLOAT:
            out.append(rng.standard_normal(shape).astype(v.dtype.np))
        elif v.dtype is D.bool_:
            out.append(rng.random(shape) < 0.5)
        else:
            out.append(rng.integers(0, 3, shape).astype(v.dtype.np))
    return out


def assert_same(a_list, b_list, rtol=0.0, atol=0.0):
    assert len(a_list) == len(b_list)
    for a, b in zip(a_list, b_list):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, a.shape, b.dtype, b.shape)
        if rtol == 0 and atol == 0:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol,
                                       atol=atol, equal_nan=True)


def same_results(g1, g2, seed=0, **tol):
    args = random_inputs(g1, seed)
    assert_same(run_graph(g1, args), run_graph(g2, args), **tol)


# ---------------------------------------------------------------- composites, by hand

def softmax_graph(shape=(4, 8), dim=-1, log=False):
    g = B("log_softmax" if log else "softmax")
    x = g.input(shape, name="x")
    d = dim % len(shape)
    stopped = g.reshape(x, shape=tuple(shape))      # the tracer's detach(): an identity view
    m = g.amax(stopped, dims=(d,), keepdim=True)
    shifted = g.sub(x, m)
    e = g.exp(shifted)
    s = g.sum(e, dims=(d,), keepdim=True)
    out = g.sub(shifted, g.log(s)) if log else g.div(e, s)
    return g.out(out)


def layer_norm_graph(shape=(4, 6, 8), eps=1e-5):
    """_normalize_forward: mean, centred, var of the centred squares, rsqrt, affine."""
    g = B("layer_norm")
    x = g.input(shape, name="x")
    w = g.input(shape[-1:], name="weight")
    b = g.input(shape[-1:], name="bias")
    d = (len(shape) - 1,)
    n = lit(1.0 / shape[-1])
    mean = g.mul(g.sum(x, dims=d, keepdim=True), n)
    xc = g.sub(x, mean)
    var = g.mul(g.sum(g.mul(xc, xc), dims=d, keepdim=True), n)
    rstd = g.rsqrt(g.add(var, lit(eps)))
    xhat = g.mul(xc, rstd)
    wshape = (1,) * (len(shape) - 1) + shape[-1:]
    y = g.add(g.mul(xhat, g.reshape(w, shape=wshape)), g.reshape(b, shape=wshape))
    return g.out(y)


def cross_entropy_graph(n=6, c=5):
    """mean over rows of -log_softmax(x)[row, target[row]]."""
    g = B("cross_entropy")
    x = g.input((n, c), name="logits")
    t = g.input((n,), i64, name="target")
    m = g.amax(x, dims=(1,), keepdim=True)
    shifted = g.sub(x, m)
    lse = g.log(g.sum(g.exp(shifted), dims=(1,), keepdim=True))
    logp = g.sub(shifted, lse)
    picked = g.gather(logp, g.reshape(t, shape=(n, 1)), dim=1)
    loss = g.mul(g.sum(g.neg(g.reshape(picked, shape=(n,))), dims=(0,), keepdim=False),
                 lit(1.0 / n))
    return g.out(loss)


def linear_gelu_graph(batch=Sym("B")):
    """x @ w.T + b, tanh-gelu, + residual: one matmul with an elementwise epilogue."""
    g = B("linear_gelu")
    x = g.input((batch, 8), name="x")
    w = g.input((8, 8), name="w")
    b = g.input((8,), name="b")
    h = g.add(g.matmul(x, g.permute(w, dims=(1, 0))), b)
    inner = g.mul(g.add(h, g.mul(g.mul(g.mul(h, h), h), lit(0.044715))), lit(0.7978845608))
    y = g.mul(g.mul(h, lit(0.5)), g.add(g.tanh(inner), lit(1.0)))
    return g.out(g.add(y, x))
