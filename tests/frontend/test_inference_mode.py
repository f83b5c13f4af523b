"""Inference tensors (made in inference mode) and inference_mode's grad-mode rules, against
torch: is_inference(), the errors for saving them for backward, writing into them outside
inference mode and setting requires_grad on them, and nesting with inference_mode(False),
no_grad and enable_grad."""
import threading

import pytest
import torch

import ember

LIBS = (ember, torch)

SAVE_MSG = ("Inference tensors cannot be saved for backward. Please do not use Tensors created "
            "in inference mode in computation tracked by autograd. To work around this, you "
            "can make a clone to get a normal tensor and use it in autograd, or use "
            "`torch.no_grad()` instead of `torch.inference_mode()`.")
INPLACE_MSG = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can "
               "make a clone to get a normal tensor before doing inplace update.See "
               "https://github.com/pytorch/rfcs/pull/17 for more details.")
REQUIRES_GRAD_MSG = "Setting requires_grad=True on inference tensor outside InferenceMode is " \
                    "not allowed."


def _both(fn):
    return fn(ember), fn(torch)


def _error(fn):
    msgs = []
    for lib in LIBS:
        with pytest.raises(RuntimeError) as info:
            fn(lib)
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
    return msgs[0]


def _made_inside(lib):
    """Tensors made inside inference mode, from a normal tensor x and fresh."""
    x = lib.ones(3, 4)
    with lib.inference_mode():
        y = x * 2
        return x, {"op result": y, "factory": lib.zeros(3), "view of inference": y[0],
                   "view of normal": x[0], "detach of normal": x.detach(),
                   "randn": lib.randn(2), "tensor()": lib.tensor([1.0, 2.0]),
                   "arange": lib.arange(3)}


def test_is_inference_of_tensors_made_in_inference_mode():
    e, t = _both(lambda lib: {k: v.is_inference() for k, v in _made_inside(lib)[1].items()})
    assert e == t
    assert e["op result"] and not e["view of normal"]


def test_is_inference_of_tensors_derived_outside():
    def run(lib):
        x, made = _made_inside(lib)
        y = made["op result"]
        return (x.is_inference(), y.detach().is_inference(), y.view(12).is_inference(),
                y[1:].is_inference(), y.clone().is_inference(), (y * 2).is_inference(),
                y.data.is_inference(), y.is_leaf, y.requires_grad)
    e, t = _both(run)
    assert e == t


def test_inference_tensors_track_no_version():
    def run(lib):
        y = _made_inside(lib)[1]["op result"]
        return y._version if lib is torch else y._version_count
    assert _error(run) == "Inference tensors do not track version counter."


def test_in_place_inside_inference_mode():
    def run(lib):
        x = lib.ones(3)
        with lib.inference_mode():
            y = x * 2
            y.add_(1)
            y[0] = 7.0
            x.mul_(3)   # a normal tensor: allowed, and its version moves
        return y.tolist(), x.tolist(), (x._version if lib is torch else x._version_count)
    e, t = _both(run)
    assert e == t


WRITES = {
    "add_": lambda y: y.add_(1),
    "mul_scalar": lambda y: y.mul_(2),
    "zero_": lambda y: y.zero_(),
    "fill_": lambda y: y.fill_(2.0),
    "copy_": lambda y: y.copy_(y.clone()),
    "setitem": lambda y: y.__setitem__(0, 1.0),
    "view add_": lambda y: y[1:].add_(1),
    "exp_": lambda y: y.exp_(),
    "clamp_": lambda y: y.clamp_(min=0.0),
    "__iadd__": lambda y: y.__iadd__(1),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_in_place_outside_inference_mode(write):
    def run(lib):
        with lib.inference_mode():
            y = lib.ones(3, 4)
        WRITES[write](y)
    assert _error(run) == INPLACE_MSG


@pytest.mark.parametrize("write", ["add_", "setitem", "zero_"])
def test_in_place_under_nested_inference_mode_false(write):
    def run(lib):
        with lib.inference_mode():
            y = lib.ones(3, 4)
            with lib.inference_mode(False):
                WRITES[write](y)
    assert _error(run) == INPLACE_MSG


@pytest.mark.parametrize("op", ["mul", "div", "matmul", "exp_of_sum", "pow"])
def test_saving_an_inference_tensor_for_backward(op):
    ops = {"mul": lambda w, y: w * y, "div": lambda w, y: w / y,
           "matmul": lambda w, y: w @ y.t(), "exp_of_sum": lambda w, y: (w + y).exp() * y,
           "pow": lambda w, y: w ** y}

    def run(lib):
        w = lib.ones(3, 4, requires_grad=True)
        with lib.inference_mode():
            y = lib.full((3, 4), 2.0)
        ops[op](w, y)
    assert _error(run) == SAVE_MSG


def test_saving_under_nested_inference_mode_false():
    def run(lib):
        w = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            y = lib.ones(3)
            with lib.inference_mode(False):
                w * y
    assert _error(run) == SAVE_MSG


def test_inference_tensor_in_autograd_without_saving_and_after_clone():
    def run(lib):
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with lib.inference_mode():
            y = lib.tensor([3.0, 4.0, 5.0])
        z = (w + y).sum() + (w * y.clone()).sum()
        z.backward()
        return z.grad_fn.name(), w.grad.tolist()
    e, t = _both(run)
    assert e == t


def test_saving_inside_inference_mode_records_nothing():
    def run(lib):
        w = lib.ones(3, requires_grad=True)
        with lib.inference_mode():
            y = lib.ones(3)
            r = w * y
        return r.requires_grad, r.grad_fn, r.is_inference()
    e, t = _both(run)
    assert e == t == (False, None, True)


def test_requires_grad_on_inference_tensors():
    def run(lib):
        with lib.inference_mode():
            y = lib.ones(3)
            p = lib.zeros(2, requires_grad=True)
            y.requires_grad_()
            inside = (y.requires_grad, p.requires_grad, p.is_leaf, p.is_inference())
        y.requires_grad_(False)
        return inside, y.requires_grad
    e, t = _both(run)
    assert e == t
    for setter in (lambda y: y.requires_grad_(), lambda y: setattr(y, "requires_grad", True)):
        def run(lib, setter=setter):
            with lib.inference_mode():
                y = lib.ones(3)
            setter(y)
        assert _error(run) == REQUIRES_GRAD_MSG


def test_normal_view_made_in_inference_mode_of_a_tensor_requiring_grad():
    msg_tail = (" inference mode and {} modified inplace in normal mode. Given that this use "
                "case is ambiguous and error-prone, it is forbidden. You can clarify your code "
                "by moving both the view and the inplace either both inside the inference_mode "
                "block (if you don't want the inplace to be tracked) or both outside (if you "
                "want the inplace to be tracked).")

    def view(lib):
        a = lib.ones(3, 4, requires_grad=True).clone()
        with lib.inference_mode():
            v = a[0:2]
        return a, v
    e, t = _both(lambda lib: (lambda a, v: (v.is_inference(), v.requires_grad,
                                             v.grad_fn is None))(*view(lib)))
    assert e == t == (False, True, True)
    assert _error(lambda lib: view(lib)[1].mul_(2)) == \
        "A view was created in" + msg_tail.format("is being")

    def base_written(lib):
        a, v = view(lib)
        a.mul_(2)
        return v.grad_fn
    assert _error(base_written) == \
        "A view was created in" + msg_tail.format("its base or another view of its base has been")


def test_grad_mode_nesting():
    def run(lib):
        out = []
        w = lib.ones(2, requires_grad=True)
        with lib.inference_mode():
            out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
            with lib.enable_grad():   # grad mode on, yet nothing is recorded
                r = w * 2
                out.append((lib.is_grad_enabled(), r.requires_grad, r.is_inference()))
                with lib.no_grad():
                    out.append(lib.is_grad_enabled())
                out.append(lib.is_grad_enabled())
            with lib.inference_mode(False):   # a normal region: grad on, recorded, normal
                q = w * 2
                out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled(),
                            q.requires_grad, q.is_inference()))
                with lib.inference_mode():
                    out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
                with lib.no_grad():
                    out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
            out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
            lib.set_grad_enabled(True)
            out.append(lib.is_grad_enabled())
        out.append((lib.is_grad_enabled(), lib.is_inference_mode_enabled()))
        with lib.no_grad():
            with lib.inference_mode(False):
                out.append(lib.is_grad_enabled())
            out.append(lib.is_grad_enabled())
        return out
    e, t = _both(run)
    assert e == t


def test_inference_mode_false_outside_is_a_normal_region():
    def run(lib):
        with lib.inference_mode(False):
            w = lib.ones(2, requires_grad=True)
            y = w * 2
            return (y.requires_grad, y.is_inference(), lib.is_grad_enabled(),
                    lib.is_inference_mode_enabled())
    e, t = _both(run)
    assert e == t


def test_decorated_function_makes_inference_tensors():
    def run(lib):
        @lib.inference_mode()
        def f(x):
            return x * 2

        @lib.inference_mode(False)
        def g(x):
            return x * 2
        x = lib.ones(2)
        with lib.inference_mode():
            inner = g(x).is_inference()
        return f(x).is_inference(), g(x).is_inference(), inner
    e, t = _both(run)
    assert e == t


def test_inference_mode_is_per_thread():
    # a thread inside inference mode must not turn another thread's new tensors into
    # inference tensors
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with ember.inference_mode():
            seen["worker"] = ember.ones(2).is_inference()
            entered.set()
            done.wait(5)
    th = threading.Thread(target=worker)
    th.start()
    assert entered.wait(5)
    seen["main"] = ember.ones(2).is_inference()
    done.set()
    th.join()
    assert seen == {"worker": True, "main": False}
    assert not ember.ones(2).is_inference()
