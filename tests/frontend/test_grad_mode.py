"""Grad modes as context managers and decorators, against torch."""
import pytest
import torch

import ember


def _scenario(lib):
    x = lib.tensor([1.], requires_grad=True)
    out = []

    @lib.no_grad
    def f1():
        return (x * 2).requires_grad

    @lib.no_grad()
    def f2():
        return (x * 2).requires_grad

    @lib.enable_grad
    def f3():
        return (x * 2).requires_grad

    @lib.set_grad_enabled(False)
    def f4():
        return (x * 2).requires_grad
    out.append(lib.is_grad_enabled())  # decorating must not change the mode

    @lib.inference_mode
    def f5():
        return (x * 2).requires_grad, lib.is_inference_mode_enabled()

    @lib.inference_mode()
    def f6():
        return (x * 2).requires_grad
    out += [f1(), f2(), f3(), f4(), f5(), f6(), lib.is_grad_enabled(), f1.__name__]
    with lib.no_grad():
        out.append(f3())
        with lib.enable_grad():
            out.append((x * 2).requires_grad)
        out.append((x * 2).requires_grad)
        out.append(lib.is_grad_enabled())
    lib.set_grad_enabled(False)
    out.append(lib.is_grad_enabled())
    lib.set_grad_enabled(True)
    with lib.set_grad_enabled(False):
        out.append(lib.is_grad_enabled())
    out.append(lib.is_grad_enabled())
    with lib.autograd.set_grad_enabled(True):
        out.append(lib.is_grad_enabled())

    @lib.no_grad()
    def gen():
        for _ in range(2):
            r = yield lib.is_grad_enabled()
            out.append(("sent", r))
        return "done"
    g = gen()
    out += [lib.is_grad_enabled(), next(g), lib.is_grad_enabled(), g.send(5), lib.is_grad_enabled()]
    with pytest.raises(StopIteration):
        g.send(6)
    with lib.inference_mode():
        y = x * 2
        out.append((y.requires_grad, lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        with lib.inference_mode(False):
            out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
    out.append(lib.is_inference_mode_enabled())
    try:
        with lib.no_grad():
            raise KeyError
    except KeyError:
        out.append(lib.is_grad_enabled())
    return out


def test_grad_modes_match_torch():
    assert _scenario(ember) == _scenario(torch)
    assert ember.is_grad_enabled() and not ember.is_inference_mode_enabled()


def test_no_grad_results_are_leaves():
    x = ember.tensor([1., 2.], requires_grad=True)
    with ember.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_modes_are_thread_local():
    import threading
    seen = []
    with ember.no_grad():
        t = threading.Thread(target=lambda: seen.append(ember.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_decorated_method_and_exception_restore():
    class M:
        @ember.no_grad()
        def f(self, x):
            raise ValueError(str(ember.is_grad_enabled()))
    with pytest.raises(ValueError, match="False"):
        M().f(1)
    assert ember.is_grad_enabled()
