"""The backward engine: graph walks, retain/create_graph, capture, hooks, against torch."""
import numpy as np
import pytest
import torch

import ember

LIBS = (ember, torch)


def _t(lib, data, rg=True):
    return lib.tensor(data, dtype=lib.float64, requires_grad=rg)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


def _same(fn):
    """fn(lib) returns a tuple of tensors/None; ember and torch must agree."""
    a, b = fn(ember), fn(torch)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if v is None or u is None:
            assert u is None and v is None
        else:
            np.testing.assert_allclose(_np(u), _np(v), rtol=1e-10, atol=1e-12)


def _cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (x * x) * 3 * g
    return Cube


def test_accumulates_into_grad():
    def f(lib):
        x = _t(lib, [1., 2.])
        (x * 3).sum().backward()
        (x * x).sum().backward()
        return (x.grad,)
    _same(f)


def test_diamond_and_shared_subgraph():
    def f(lib):
        x = _t(lib, [1., 2., 3.])
        y = _t(lib, [0.5, -1., 2.])
        h = x * y          # shared by two branches
        a = h * 2
        b = h * h
        c = (a + b) * h    # diamond back to h
        d = c.sum() + h.sum() + (x * x).sum()
        d.backward()
        return x.grad, y.grad
    _same(f)


def test_multi_output_node():
    def f(lib):
        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                return g1 * 2 + g2 * 3
        x = _t(lib, [1., 2.])
        p, q = Split.apply(x)
        (p * q).sum().backward()
        z = _t(lib, [1., 2.])
        Split.apply(z)[1].sum().backward()  # unused output: materialized as zeros
        return x.grad, z.grad
    _same(f)


def test_second_backward_errors_and_retain_graph():
    for lib in LIBS:
        x = _t(lib, [1., 2.])
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        assert x.grad.tolist() == [4., 8.]
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second "
                                               "time"):
            y.backward()


def test_create_graph_higher_order():
    def f(lib):
        Cube = _cube(lib)
        x = _t(lib, [0.5, -1.5])
        y = Cube.apply(x).sum()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        w = _t(lib, [2., 3.])
        (gw,) = lib.autograd.grad((w * w * x).sum(), w, create_graph=True)
        gw.sum().backward()
        return g1, g2, g3, x.grad, w.grad
    _same(f)


@pytest.mark.filterwarnings("ignore:Using backward")
def test_backward_create_graph_accumulates_graph():
    for lib in LIBS:
        x = _t(lib, [2.])
        (x * x).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        g.sum().backward()
        assert x.grad.item() == 2.


def test_autograd_grad_unused_and_materialize():
    for lib in LIBS:
        x, y = _t(lib, [1.]), _t(lib, [2.])
        z = (x * 2).sum()
        with pytest.raises(RuntimeError, match="not have been used in the graph"):
            lib.autograd.grad(z, (x, y), retain_graph=True)
        gx, gy = lib.autograd.grad(z, (x, y), allow_unused=True, retain_graph=True)
        assert gy is None and gx.item() == 2
        gx, gy = lib.autograd.grad(z, (x, y), materialize_grads=True)
        assert gy.tolist() == [0.] and x.grad is None


def test_autograd_grad_of_nonleaf_and_grad_outputs():
    def f(lib):
        x = _t(lib, [1., 2., 3.])
        h = x.exp()
        y = h * x
        gh, gx = lib.autograd.grad(y, (h, x), grad_outputs=lib.tensor([1., 0.5, 2.],
                                                                       dtype=lib.float64))
        return gh, gx
    _same(f)


def test_backward_inputs():
    def f(lib):
        x, y = _t(lib, [1., 2.]), _t(lib, [3., 4.])
        h = x * y
        (h * h).sum().backward(inputs=[x])
        out = (x.grad, y.grad)
        hh = x * y
        hh.retain_grad()
        z = (hh * 2).sum()
        z.backward(inputs=[hh])
        return out + (hh.grad,)
    _same(f)


def test_implicit_grad_needs_scalar_and_requires_grad():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
            (_t(lib, [1., 2.]) * 2).backward()
        with pytest.raises(RuntimeError, match="does not require grad"):
            _t(lib, [1.], rg=False).sum().backward()


def test_leaf_as_root():
    def f(lib):
        x = _t(lib, [1., 2.])
        x.backward(lib.tensor([3., 4.], dtype=lib.float64))
        return (x.grad,)
    _same(f)


def test_tensor_hooks():
    def f(lib):
        x = _t(lib, [1., 2.])
        seen = []
        hx = x.register_hook(lambda g: g * 10)
        h = x * x
        h.register_hook(lambda g: seen.append(g.clone()))
        h.register_hook(lambda g: g + 1)
        h.sum().backward()
        first = x.grad.clone()
        hx.remove()
        x.grad = None
        (x * x).sum().backward()
        return first, x.grad, seen[0]
    _same(f)
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            lib.tensor([1.]).register_hook(lambda g: g)


def test_hooks_apply_to_autograd_grad():
    def f(lib):
        x = _t(lib, [1., 2.])
        x.register_hook(lambda g: g * 10)
        h = x * 1
        h.register_hook(lambda g: g * 2)
        # (torch is inconsistent when a non-leaf and its inputs are captured together)
        return lib.autograd.grad((h * h).sum(), (x,)) + lib.autograd.grad((h * h).sum(), (h,))
    _same(f)


def test_retain_grad():
    def f(lib):
        x = _t(lib, [1., 2.])
        h = x * 3
        h.retain_grad()
        assert h.retains_grad and not x.retains_grad
        k = h * h
        k.sum().backward(retain_graph=True)
        k.sum().backward()
        return h.grad, x.grad
    _same(f)
    x = ember.tensor([1.])
    with pytest.raises(RuntimeError):
        x.retain_grad()


def test_node_hooks():
    def f(lib):
        x = _t(lib, [1., 2.])
        y = x * 2
        calls = []
        y.grad_fn.register_prehook(lambda gout: (gout[0] * 3,))
        h = y.grad_fn.register_hook(lambda gin, gout: calls.append(len(gin)))
        y.sum().backward()
        h.remove()
        return x.grad, lib.tensor(calls)
    _same(f)


def test_grads_stop_at_no_grad_parts():
    def f(lib):
        x, y = _t(lib, [1., 2.]), _t(lib, [3., 4.])
        with lib.no_grad():
            c = x * y
        z = (c * x).sum()
        z.backward()
        return x.grad, y.grad
    _same(f)


def test_long_chain_is_not_recursive():
    x = ember.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    assert x.grad.item() == 1.0


def test_expanded_and_dtype_grads_accumulate_to_leaf_shape():
    def f(lib):
        x = _t(lib, [1., 2.])
        y = x.reshape(1, 2).expand(3, 2) * lib.tensor([[1.], [2.], [3.]], dtype=lib.float64)
        z = x.float() * 2
        (y.sum() + z.sum()).backward()
        return (x.grad,)
    _same(f)


def test_create_graph_through_saved_nonleaf_values():
    def f(lib):
        x = _t(lib, [0.5, -1.5])
        (g1,) = lib.autograd.grad((x * x * x).exp().sum(), x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x)
        return g1, g2
    _same(f)
