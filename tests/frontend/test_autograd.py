"""autograd.Function, gradcheck/gradgradcheck, anomaly mode and grad_fn names, against torch."""
import re
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.autograd import gradcheck, gradgradcheck

LIBS = (ember, torch)


def _t(lib, data, rg=True):
    return lib.tensor(data, dtype=lib.float64, requires_grad=rg)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=1e-10)


# ------------------------------------------------------------------ autograd.Function

def _classes(lib):
    class ScaledExp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            y = x.exp() * k
            ctx.save_for_backward(y)
            ctx.k = k
            return y

        @staticmethod
        def backward(ctx, g):
            assert ctx.needs_input_grad == (True, False)
            (y,) = ctx.saved_tensors
            return g * y, None

    class MulPair(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b, (a + b).argmax(), "label"

        @staticmethod
        def backward(ctx, g, g_idx, g_label=None):
            a, b = ctx.saved_tensors
            return g * b, g * a

    class NewStyle(lib.autograd.Function):
        @staticmethod
        def forward(x, y):
            return x * y.sin()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return g * y.sin(), g * x * y.cos()
    return ScaledExp, MulPair, NewStyle


def test_function_forward_backward_and_names():
    res = []
    for lib in LIBS:
        ScaledExp, MulPair, NewStyle = _classes(lib)
        x = _t(lib, [0.5, 1.5])
        y = ScaledExp.apply(x, 2.0)
        assert y.grad_fn.name() == "ScaledExpBackward" and not y.is_leaf
        assert "ScaledExpBackward object at" in repr(y.grad_fn)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        g.sum().backward()
        a, b = _t(lib, [1., 2.]), _t(lib, [3., -1.])
        p, idx, label = MulPair.apply(a, b)
        assert label == "label" and not idx.requires_grad and p.requires_grad
        p.sum().backward()
        u, v = _t(lib, [1., 2.]), _t(lib, [0.3, 0.7])
        NewStyle.apply(u, v).sum().backward()
        res.append((y, g, x.grad, a.grad, b.grad, u.grad, v.grad))
    for e, t in zip(*res):
        _close(e, t)


def test_function_under_no_grad_and_without_grad_inputs():
    ScaledExp = _classes(ember)[0]
    x = _t(ember, [1.], rg=False)
    assert ScaledExp.apply(x, 1.0).grad_fn is None
    with ember.no_grad():
        assert ScaledExp.apply(_t(ember, [1.]), 1.0).grad_fn is None


def test_function_wrong_number_of_grads():
    for lib in LIBS:
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b):
                return a * b

            @staticmethod
            def backward(ctx, g):
                return g

        with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients "
                                               r"\(expected 2, got 1\)"):
            Bad.apply(_t(lib, [1.]), _t(lib, [2.])).sum().backward()

        class Extra(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                return a * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None  # trailing Nones are allowed
        a = _t(lib, [1.])
        Extra.apply(a).sum().backward()
        assert a.grad.item() == 2


def test_function_saved_tensor_version_check_and_free():
    for lib in LIBS:
        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a):
                ctx.save_for_backward(a)
                return a * a

            @staticmethod
            def backward(ctx, g):
                (a,) = ctx.saved_tensors
                return 2 * g * a
        x = _t(lib, [1., 2.])
        h = x * 1
        y = Sq.apply(h)
        h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
        y = Sq.apply(x * 1)
        y.sum().backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.sum().backward()


def test_function_mark_non_differentiable_and_materialize():
    res = []
    for lib in LIBS:
        class Sort(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                s = x * 2
                mask = x > 0
                ctx.mark_non_differentiable(mask)
                return s, mask

            @staticmethod
            def backward(ctx, g, g_mask):
                return g * 2

        class TwoOut(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 1, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                assert g1 is None
                return g2 * 3
        x = _t(lib, [1., -2.])
        s, m = Sort.apply(x)
        assert not m.requires_grad and s.requires_grad
        s.sum().backward()
        z = _t(lib, [1., 2.])
        TwoOut.apply(z)[1].sum().backward()
        res.append((x.grad, z.grad))
    for e, t in zip(*res):
        _close(e, t)


def test_function_mark_dirty():
    res = []
    for lib in LIBS:
        class AddOne(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.add_(1)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g
        x = _t(lib, [1., 2.])
        h = x * 2
        r = AddOne.apply(h)
        assert r is h and h.grad_fn.name() == "AddOneBackward"
        (r * r).sum().backward()
        res.append((r, x.grad))
        with pytest.raises(RuntimeError, match="leaf Variable"):
            AddOne.apply(_t(lib, [1.]))
    for e, t in zip(*res):
        _close(e, t)


def test_function_returns_input_and_wrong_shape():
    for lib in LIBS:
        class Ident(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 5
        x = _t(lib, [1., 2.])
        y = Ident.apply(x)
        assert y is not x and y.grad_fn is not None
        y.sum().backward()
        assert x.grad.tolist() == [5., 5.]

        class BadShape(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return lib.ones(3, dtype=lib.float64)
        with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
            BadShape.apply(_t(lib, [1., 2.])).sum().backward()


def test_once_differentiable():
    from ember.autograd.function import once_differentiable

    class F(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x
    x = _t(ember, [3.])
    (g,) = ember.autograd.grad(F.apply(x).sum(), x, create_graph=True)
    assert g.item() == 6 and g.grad_fn is None


# ------------------------------------------------------------------ gradcheck

def test_gradcheck_passes_on_correct_grads():
    x = _t(ember, [[0.3, 0.5], [1.2, -0.4]])
    y = _t(ember, [0.7, 0.9])
    assert gradcheck(lambda a, b: (a * b).exp() / (a + 3), (x, y))
    assert gradcheck(lambda a: a.sum(0), x)
    assert gradgradcheck(lambda a, b: a * b + a * a, (x, y))
    ScaledExp, MulPair, NewStyle = _classes(ember)
    assert gradcheck(lambda a: ScaledExp.apply(a, 3.0), (y,))
    assert gradcheck(NewStyle.apply, (x, _t(ember, [[0.1, 0.2], [0.3, 0.4]])))


def test_gradcheck_reports_mismatch():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 2, a + b

        @staticmethod
        def backward(ctx, g1, g2):
            return g1 * 2 + g2, g2 * 1.5

    x, y = _t(ember, [1., 2.]), _t(ember, [3., 4.])
    with pytest.raises(RuntimeError, match=r"(?s)Jacobian mismatch for output 1 with respect to "
                                           r"input 1.*max difference 0\.5"):
        gradcheck(Bad.apply, (x, y))
    assert gradcheck(Bad.apply, (x, y), raise_exception=False) is False


def test_gradcheck_warns_on_float32_and_needs_inputs():
    x = ember.tensor([1., 2.], requires_grad=True)
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (ember.tensor([1.]),))


# ------------------------------------------------------------------ anomaly mode

def test_anomaly_nan_names_node_and_user_line():
    x = _t(ember, [0., 1.])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with ember.autograd.detect_anomaly():
            assert ember.autograd.is_anomaly_enabled()
            z = x * 0
            q = z / z  # the line that creates the NaN-producing node
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward0' returned nan values "
                                                   r"in its 1th output\."):
                q.sum().backward()
    assert not ember.autograd.is_anomaly_enabled()
    msgs = [str(m.message) for m in w]
    trace = [m for m in msgs if m.startswith("Error detected in DivBackward0")]
    assert trace and "q = z / z" in trace[0] and "test_autograd.py" in trace[0]
    assert "ember/frontend" not in trace[0]


def test_anomaly_same_message_as_torch():
    msgs = []
    for lib in LIBS:
        x = _t(lib, [0., 1.])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                z = x.sqrt() * 0
                try:
                    (z / z).sum().backward()
                except RuntimeError as e:
                    msgs.append(str(e))
    assert msgs[0] == msgs[1]


def test_set_detect_anomaly_and_check_nan_off():
    x = _t(ember, [0.])
    ember.autograd.set_detect_anomaly(True, check_nan=False)
    try:
        z = x * 0
        (z / z).sum().backward()  # no error when check_nan is off
        assert np.isnan(x.grad.item())
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not ember.autograd.is_anomaly_enabled()
    with ember.autograd.set_detect_anomaly(True):
        assert ember.autograd.is_anomaly_enabled()
    assert not ember.autograd.is_anomaly_enabled()


# ------------------------------------------------------------------ grad_fn names

NAME_CASES = [
    lambda x, w: x.exp(), lambda x, w: x.log(), lambda x, w: x.sigmoid(), lambda x, w: x.tanh(),
    lambda x, w: x + x, lambda x, w: x - x, lambda x, w: x * x, lambda x, w: x / x,
    lambda x, w: -x, lambda x, w: x.abs(), lambda x, w: x.sum(), lambda x, w: x.sum(0),
    lambda x, w: x ** x, lambda x, w: x.reshape(12), lambda x, w: x.permute(1, 0),
    lambda x, w: x.reshape(1, 3, 4).expand(2, 3, 4), lambda x, w: x.sqrt(), lambda x, w: x.sin(),
    lambda x, w: x.log1p(), lambda x, w: x.clone(), lambda x, w: x.float(),
    lambda x, w: ember.maximum(x, x) if isinstance(x, ember.Tensor) else torch.maximum(x, x),
]


@pytest.mark.parametrize("i", range(len(NAME_CASES)))
def test_grad_fn_names(i):
    f = NAME_CASES[i]
    names = []
    for lib in LIBS:
        x = _t(lib, np.arange(1., 13.).reshape(3, 4).tolist())
        fn = f(x, None).grad_fn
        names.append(fn.name())
        assert re.fullmatch(r"<\w+ object at 0x[0-9a-f]+>", repr(fn))
    assert names[0] == names[1]


def test_next_functions_match_torch():
    shapes = []
    for lib in LIBS:
        x = _t(lib, [1., 2.])
        y = (x * 2).exp()
        nf = y.grad_fn.next_functions
        inner = nf[0][0].next_functions
        shapes.append((len(nf), nf[0][0].name(), len(inner), inner[0][0].name(), inner[1]))
        assert inner[0][0].variable is x
        assert nf[0][0].next_functions[0][0] is inner[0][0]
    assert shapes[0] == shapes[1]


def test_gradgradcheck_through_saved_nonleaf():
    x = _t(ember, [[0.3, 0.5], [1.2, -0.4]])
    y = _t(ember, [0.7, 0.9])
    assert gradgradcheck(lambda a, b: (a * a * b).exp() / (a + 3), (x, y))
