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


# ---------------------------------------------------------------- random graphs (hypothesis)

from hypothesis import strategies as st  # noqa: E402

_UNARY = ("exp", "neg", "abs", "tanh", "sigmoid", "sin", "floor", "rsqrt", "log1p", "expm1")
_BINARY = ("add", "sub", "mul", "maximum", "minimum")
_LITERALS = (0.0, 1.0, -1.0, 2.0, 0.5)


def _pick(draw, pool, dtype=None):
    cands = [v for v in pool if dtype is None or v.dtype is dtype]
    return draw(st.sampled_from(cands)) if cands else None


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _unary(draw, g, pool):
    x = _pick(draw, pool)
    op = draw(st.sampled_from(_UNARY))
    if op in ("rsqrt", "log1p"):            # keep the interesting range real
        x = g.abs(x)
    return g.node(op, x)


def _binary(draw, g, pool):
    a, b = _pick(draw, pool), _pick(draw, pool)
    return g.node(draw(st.sampled_from(_BINARY)), a, b)


def _literal(draw, g, pool):
    x = _pick(draw, pool)
    op = draw(st.sampled_from(("add", "sub", "mul", "div", "pow", "maximum")))
    value = draw(st.sampled_from(_LITERALS if op != "div" else (1.0, 2.0, 0.5)))
    form = draw(st.sampled_from(("typed", "python", "full", "constant")))
    if form == "typed":
        c = lit(value, x.dtype)
    elif form == "python":
        c = value
    else:  # a tensor of ones/zeros, maybe broadcasting x to a bigger shape
        shape = draw(st.sampled_from([x.shape, x.shape[1:], (2,) + tuple(x.shape), (1,)]))
        c = (g.full(shape=tuple(shape), dtype=x.dtype, value=lit(value, x.dtype))
             if form == "full" else g.const(np.full(shape, value, x.dtype.np)))
    if op == "pow":
        x = g.abs(x)
    return g.node(op, x, c) if draw(st.booleans()) or op in ("sub", "div", "pow") \
        else g.node(op, c, x)


def _view(draw, g, pool):
    x = _pick(draw, pool)
    shape = tuple(x.shape)
    kind = draw(st.sampled_from(("reshape", "permute", "expand", "slice", "unsqueeze")))
    if kind == "reshape":
        target = draw(st.sampled_from([(_numel(shape),), shape, (1,) + shape,
                                       tuple(d for d in shape if d != 1)]))
        return g.reshape(x, shape=tuple(target))
    if kind == "unsqueeze":
        k = draw(st.integers(0, len(shape)))
        return g.reshape(x, shape=shape[:k] + (1,) + shape[k:])
    if kind == "permute":
        dims = tuple(draw(st.permutations(range(len(shape)))))
        return g.permute(x, dims=dims)
    if kind == "expand":
        target = tuple(draw(st.sampled_from([2, 3])) if d == 1 else d for d in shape)
        if draw(st.booleans()):
            target = (2,) + target
        return g.expand(x, shape=target)
    if not shape:
        return g.reshape(x, shape=(1,))
    d = draw(st.integers(0, len(shape) - 1))
    n = shape[d]
    start = draw(st.integers(0, n - 1))
    stop = draw(st.integers(start + 1, n))
    step = draw(st.integers(1, 2))
    starts = tuple(start if i == d else 0 for i in range(len(shape)))
    stops = tuple(stop if i == d else s for i, s in enumerate(shape))
    steps = tuple(step if i == d else 1 for i in range(len(shape)))
    return g.slice(x, starts=starts, stops=stops, steps=steps)


def _reduce(draw, g, pool):
    x = _pick(draw, pool)
    nd = len(x.shape)
    if nd == 0:
        return g.sum(x, dims=None, keepdim=False)
    dims = tuple(sorted(draw(st.sets(st.integers(0, nd - 1), min_size=1))))
    op = draw(st.sampled_from(("sum", "amax")))
    return g.node(op, x, dims=dims, keepdim=draw(st.booleans()))


def _cast(draw, g, pool):
    x = _pick(draw, pool)
    to = draw(st.sampled_from((f64, f32, x.dtype)))
    y = g.convert(x, dtype=to)
    return g.convert(y, dtype=x.dtype) if draw(st.booleans()) else y


def _where(draw, g, pool):
    a, b = _pick(draw, pool), _pick(draw, pool)
    return g.where(g.gt(a, lit(0.0, a.dtype)), a, b)


def _matmul(draw, g, pool):
    x = _pick(draw, pool)
    if len(x.shape) < 2:
        x = g.reshape(x, shape=(1, _numel(x.shape)))
    # one nonzero per column: each product is exact and adding zeros is exact, so the
    # result does not depend on the summation order BLAS picks for a memory layout
    k = x.shape[-1]
    w = np.zeros((k, 3), x.dtype.np)
    for j in range(3 if k else 0):
        w[j % k, j] = (1.0, -1.0, 2.0)[j]
    return g.matmul(x, g.const(w))


def _opaque(draw, g, pool):
    x = _pick(draw, pool)
    if not x.shape:
        x = g.reshape(x, shape=(1,))
    return g.cumsum(x, dim=draw(st.integers(0, len(x.shape) - 1)))


_BUILDERS = {"unary": _unary, "binary": _binary, "literal": _literal, "view": _view,
             "reduce": _reduce, "cast": _cast, "where": _where, "matmul": _matmul,
             "opaque": _opaque}

_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def random_graphs(draw, max_nodes=10, kinds=tuple(_BUILDERS)):
    """A random graph over float inputs: elementwise ops with broadcasting, literals 0/1
    (and tensors of them) that trigger the simplifier, views, reductions, casts."""
    g = B("random")
    base = draw(_shapes)
    pool = [g.input(base, f32, name="x")]
    for k in range(draw(st.integers(0, 2))):
        # extra inputs broadcast against the first: a suffix of it with some dims set to 1
        suffix = base[draw(st.integers(0, len(base))):]
        shape = tuple(1 if draw(st.booleans()) else d for d in suffix)
        pool.append(g.input(shape, f32, name=f"y{k}"))
    n_inputs = len(pool)
    for _ in range(draw(st.integers(1, max_nodes))):
        kind = draw(st.sampled_from(kinds))
        try:
            pool.append(_BUILDERS[kind](draw, g, pool))
        except (RuntimeError, TypeError, IndexError, ValueError):
            pass   # the op's rule refused these shapes: no node was added for it
    produced = pool[n_inputs:] or pool
    outs = draw(st.lists(st.sampled_from(produced), min_size=1, max_size=3, unique_by=id))
    return g.out(*outs)
