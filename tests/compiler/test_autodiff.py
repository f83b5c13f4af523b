"""Graph autodiff (ember.compiler.autodiff): joint graphs give the gradients eager autograd
gives, for every differentiable primitive and for whole models; the partition's forward
and backward graphs compose to the same gradients and save fewer bytes than saving every
value the backward reads."""
import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.compiler.autodiff import (differentiable_dependence, grad_graph, partition,
                                     saved_bytes)
from ember.frontend.dispatch import dispatch
from ember.frontend.ops.indexing import dispatch_indexed
from ember.ir import dtypes as D
from ember.ir.graph import Graph
from ember.ir.ops import PRIMITIVES
from ember.runtime.interpreter import run_graph

rng = np.random.default_rng(0)


def _f(*shape, lo=None, hi=None):
    if lo is not None:
        return rng.uniform(lo, hi, shape)
    return rng.standard_normal(shape)


def _i(*vals):
    return np.array(vals, np.int64)


def _spd(n):
    a = _f(n, n)
    return a @ a.T + n * np.eye(n)


_UNARY_POS = ("exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin",
              "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "erf",
              "erfinv", "reciprocal", "lgamma", "digamma", "i0", "i1")
_UNARY_ANY = ("neg", "abs", "sign", "floor", "ceil", "round", "trunc", "frexp")
_BINARY = ("add", "sub", "mul", "maximum", "minimum", "fmod", "remainder", "floor_divide",
           "div", "atan2")
_CONV = {"stride": (1, 2), "padding": ((1, 0), (0, 1)), "lhs_dilation": (1, 1),
         "rhs_dilation": (1, 2), "groups": 1}

# primitive -> (operand arrays, attrs); every float operand is differentiated
CASES = {
    **{n: ([_f(2, 3, lo=0.1, hi=0.9)], {}) for n in _UNARY_POS},
    **{n: ([_f(2, 3)], {}) for n in _UNARY_ANY},
    **{n: ([_f(2, 3), _f(3, lo=0.5, hi=2.0)], {}) for n in _BINARY},
    "polygamma": ([_f(2, 3, lo=0.5, hi=2.0)], {"n": 1}),
    "pow": ([_f(2, 3, lo=0.5, hi=2.0), _f(2, 3)], {}),
    "where": ([rng.random((2, 3)) > 0.5, _f(2, 3), _f(3)], {}),
    "convert": ([_f(2, 3)], {"dtype": D.float32}),
    "sum": ([_f(2, 3, 4)], {"dims": (0, 2), "keepdim": False}),
    "prod": ([_f(2, 3)], {"dims": (1,), "keepdim": True}),
    "amax": ([_f(2, 3)], {"dims": (1,), "keepdim": False}),
    "amin": ([_f(2, 3)], {"dims": None, "keepdim": False}),
    "cumsum": ([_f(2, 3)], {"dim": 1}),
    "cumprod": ([_f(2, 3)], {"dim": 0}),
    "cummax": ([_f(2, 4)], {"dim": 1}),
    "cummin": ([_f(2, 4)], {"dim": 1}),
    "logcumsumexp": ([_f(2, 4)], {"dim": 1}),
    "reshape": ([_f(2, 3)], {"shape": (3, 2)}),
    "permute": ([_f(2, 3, 4)], {"dims": (2, 0, 1)}),
    "expand": ([_f(3, 1)], {"shape": (2, 3, 4)}),
    "slice": ([_f(4, 5)], {"starts": (1, 0), "stops": (4, 5), "steps": (2, 2)}),
    "pad": ([_f(2, 3)], {"pads": ((1, 0, 0), (-1, 2, 1)), "value": 0.5}),
    "cat": ([_f(2, 3), _f(1, 3)], {"dim": 0}),
    "flip": ([_f(2, 3)], {"dims": (1,)}),
    "diagonal": ([_f(3, 4, 2)], {"offset": 1, "dim1": 0, "dim2": 1}),
    "copy": ([_f(2, 3)], {}),
    "as_strided": ([_f(3, 4)], {"size": (2, 2), "stride": (4, 1), "storage_offset": 1,
                                "in_stride": (4, 1), "in_offset": 0}),
    "unfold": ([_f(2, 7)], {"dimension": 1, "size": 3, "step": 2}),
    "gather": ([_f(3, 4), _i([0, 2], [1, 1], [3, 0])], {"dim": 1}),
    "scatter": ([_f(3, 4), _i([0, 2], [1, 3], [3, 0]), _f(3, 2)], {"dim": 1}),
    "index_select": ([_f(3, 4), _i(2, 0, 2)], {"dim": 0}),
    "index": ([_f(3, 4), _i(2, 0, 2)], {"positions": (0,)}),
    "index_put": ([_f(3, 4), _f(2, 4), _i(2, 2)], {"positions": (0,), "accumulate": True}),
    "matmul": ([_f(2, 3, 4), _f(4, 5)], {}),
    "inv": ([_spd(3)], {}),
    "solve": ([_spd(3), _f(3, 2)], {}),
    "det": ([_f(2, 3, 3)], {}),
    "slogdet": ([_spd(3)], {}),
    "cholesky": ([_spd(3)], {"upper": False}),
    "qr": ([_f(4, 3)], {"mode": "reduced"}),
    "eigh": ([_spd(3)], {"UPLO": "L"}),
    "svd": ([_f(3, 3)], {"full_matrices": False}),
    "conv": ([_f(2, 3, 5, 6), _f(4, 3, 2, 2)], _CONV),
    "sort": ([_f(2, 5)], {"dim": 1, "descending": True, "stable": False}),
    "topk": ([_f(2, 5)], {"k": 2, "dim": 1, "largest": True, "sorted": True}),
}


def test_every_differentiable_primitive_has_a_case():
    diff = {n for n, o in PRIMITIVES.items() if o.differentiable}
    assert diff - set(CASES) == set()


def _eager_grads(op, arrays, attrs, cots):
    ins = [ember.tensor(a) for a in arrays]
    wrt = [t for t in ins if t.dtype.is_floating_point]
    for t in wrt:
        t.requires_grad_()
    fn = dispatch_indexed if op in ("index", "index_put") else dispatch
    out = fn(op, *ins, **attrs)
    outs = out if isinstance(out, tuple) else (out,)
    pairs = [(o, ember.tensor(c)) for o, c in zip(outs, cots)
             if c is not None and o.requires_grad]
    grads = ember.autograd.grad([o for o, _ in pairs], wrt, [c for _, c in pairs],
                                allow_unused=True)
    return [o.detach()._data for o in outs], [
        np.zeros(t.shape) if g is None else g._data for t, g in zip(wrt, grads)]


@pytest.mark.parametrize("op", sorted(CASES))
def test_primitive_gradients_equal_eager(op):
    arrays, attrs = CASES[op]
    arrays = [np.asarray(a) for a in arrays]
    g = Graph(op)
    ins = [g.add_input((a.shape, D.from_numpy_dtype(a.dtype)), f"x{k}")
           for k, a in enumerate(arrays)]
    g.set_outputs(g.add_node(op, ins, attrs).outputs)
    wrt = [k for k, a in enumerate(arrays) if a.dtype.kind == "f"]
    joint = grad_graph(g, wrt, example=arrays).verify()
    cots = [rng.standard_normal(v.shape).astype(v.dtype.np) if v.dtype.category == D.FLOAT
            else None for v in g.outputs]
    got = run_graph(joint, arrays + [c for c in cots if c is not None])
    want_outs, want_grads = _eager_grads(op, arrays, attrs, cots)
    nf = len(g.outputs)
    for a, b in zip(got[:nf], want_outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert len(got) - nf == len(want_grads)
    for a, b in zip(got[nf:], want_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    # the partition computes the same gradients, in two graphs
    fwd, bwd, saved = partition(joint)
    res = run_graph(fwd, arrays)
    grads = run_graph(bwd, res[nf:] + [c for c in cots if c is not None])
    for a, b in zip(grads, want_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


# ---------------------------------------------------------------- whole models

class _WithLoss(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, y):
        return nn.functional.cross_entropy(self.model(x), y)


class _Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(self.encoder(x).mean(1))


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(36, 16), nn.ReLU(),
                                  nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 5)),
            lambda: ember.randn(4, 1, 6, 6, dtype=ember.float64)),
    "cnn": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Linear(8 * 2 * 2, 5)),
            lambda: ember.randn(4, 1, 8, 8, dtype=ember.float64)),
    "transformer": (_Encoder, lambda: ember.randn(3, 6, 16, dtype=ember.float64)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_gradients_equal_eager(name):
    ember.manual_seed(0)
    make, data = MODELS[name]
    model = _WithLoss(make().double())
    x, y = data(), ember.tensor([0, 4, 2, 1][:data().shape[0]])
    g = ember.jit.trace(model, (x, y)).graph
    wrt = [k for k, v in enumerate(g.inputs) if v.dtype.category == D.FLOAT]
    arrays = [x._data, y._data] + [p._data for p in model.parameters()]
    joint = grad_graph(g, wrt, example=arrays).verify()
    got = run_graph(joint, arrays + [np.ones((), np.float64)])
    xr = x.clone().requires_grad_()
    loss = model(xr, y)
    loss.backward()
    want = [xr.grad] + [p.grad for p in model.parameters()]
    np.testing.assert_allclose(got[0], loss._data, rtol=1e-12)
    assert len(got) == 1 + len(want)
    for a, b in zip(got[1:], want):
        np.testing.assert_allclose(a, b._data, rtol=1e-9, atol=1e-12)
    fwd, bwd, saved = partition(joint)
    res = run_graph(fwd, arrays)
    for a, b in zip(run_graph(bwd, res[1:] + [np.ones((), np.float64)]), want):
        np.testing.assert_allclose(a, b._data, rtol=1e-9, atol=1e-12)


def test_partition_recomputes_cheap_values_to_save_fewer_bytes():
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.1, batch_first=True)
    x = ember.randn(2, 5, 16)
    g = ember.jit.trace(layer, (x,)).graph
    wrt = [k for k, v in enumerate(g.inputs) if v.dtype.category == D.FLOAT]
    joint = grad_graph(g, wrt, example=[x._data] + [p._data for p in layer.parameters()])
    report = saved_bytes(joint)
    assert 0 < report["min_cut"] < report["save_all"]
    fwd, bwd, saved = partition(joint)
    # what the forward hands over is exactly the cut (plus graph inputs, held anyway)
    primals = set(joint.inputs[:joint.num_primals])
    assert sum(v.dtype.itemsize * int(np.prod(v.shape)) for v in saved
               if v not in primals) == report["min_cut"]
    # dropout masks are computed once, in the forward: no random draw in the backward
    assert any(n.op == "bernoulli" for n in fwd.nodes)
    assert not any(PRIMITIVES[n.op].kind == "random" for n in bwd.nodes)
    # the backward recomputes some forward values, all with cheap ops
    dep = set(bwd.inputs[len(saved):])
    recomputed = []
    for n in bwd.nodes:
        if any(v in dep for v in n.value_inputs()):
            dep.update(n.outputs)
        else:
            recomputed.append(n.op)
    assert recomputed
    assert all(PRIMITIVES[op].kind in ("elementwise", "cast", "movement", "creation")
               for op in recomputed), recomputed


def test_differentiable_dependence_and_stop_gradient():
    def f(x, w, i):
        return (x * w).sum(), (x.detach() * 3).sum(), (x > 0).sum(), w[i]
    x, w = ember.randn(3), ember.randn(3)
    g = ember.jit.trace(f, (x, w, ember.tensor([1]))).graph
    assert differentiable_dependence(g, [0, 1]) == [{0, 1}, set(), set(), {1}]


def test_symbolic_dims_get_example_sizes():
    from ember.ir.graph import Sym
    g = Graph("sym")
    x = g.add_input(((Sym("B"), 3), D.float64), "x")
    s = g.add_node("sum", [x], {"dims": (1,), "keepdim": False}).outputs[0]
    g.set_outputs([g.add_node("exp", [s], out_types=[((Sym("B"),), D.float64)]).outputs[0]])
    joint = grad_graph(g, [0])
    assert joint.bindings == {"B": joint.inputs[0].shape[0]}
    a = rng.standard_normal(joint.inputs[0].shape)
    cot = np.ones(joint.inputs[0].shape[0])
    out, grad = run_graph(joint, [a, cot])
    np.testing.assert_allclose(grad, np.exp(a.sum(1))[:, None] * np.ones_like(a))
