"""The Optimizer base: parameter groups, state dicts (layout, round trips, casting), zero_grad,
closures, hooks, repr and the argument errors, each against PyTorch."""
import copy
import warnings

import numpy as np
import pytest
import torch

import ember
from _optim_problem import LIBS, closure_for, make_params, run, snapshot
from ember.optim.optimizer import required

# one representative configuration per optimizer (stateful options on)
CONFIGS = {
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True),
    "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.1),
    "AdamW": dict(lr=0.01),
    "RMSprop": dict(centered=True, momentum=0.5),
    "Adagrad": dict(lr_decay=0.01, initial_accumulator_value=0.1),
    "Adadelta": dict(),
    "Adamax": dict(),
    "NAdam": dict(decoupled_weight_decay=True, weight_decay=0.01),
    "RAdam": dict(),
    "LBFGS": dict(lr=0.5, max_iter=3, history_size=4, line_search_fn="strong_wolfe"),
}


def _step_n(lib, opt, params, n, dtype="float32"):
    closure = closure_for(lib, opt, params, dtype)
    for _ in range(n):
        opt.step(closure)


def _structure(sd):
    """What a state dict looks like without the numbers: state keys and types, group keys."""
    def kind(v):
        if isinstance(v, (ember.Tensor, torch.Tensor)):
            return ("tensor", tuple(v.shape), str(v.dtype).split(".")[-1])
        if isinstance(v, list):
            return ("list", len(v))
        return type(v).__name__
    state = {i: {k: kind(v) for k, v in s.items()} for i, s in sd["state"].items()}
    return state, [list(g) for g in sd["param_groups"]]


# ------------------------------------------------------------------ state dicts

@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_structure_matches_torch(name):
    sds = {}
    for libname, (lib, optim) in LIBS.items():
        params = make_params(lib)
        opt = getattr(optim, name)(params, **CONFIGS[name])
        before = _structure(opt.state_dict())
        _step_n(lib, opt, params, 3)
        sds[libname] = (before, _structure(opt.state_dict()), opt.state_dict())
    assert sds["ember"][0] == sds["torch"][0]
    assert sds["ember"][1] == sds["torch"][1]
    e_groups, t_groups = sds["ember"][2]["param_groups"], sds["torch"][2]["param_groups"]
    assert e_groups == t_groups  # plain values: options and parameter indices


@pytest.mark.parametrize("name", list(CONFIGS))
def test_state_dict_round_trip_resumes_bit_identically(name):
    kwargs = CONFIGS[name]
    # 20 uninterrupted steps
    params = make_params(ember)
    opt = getattr(ember.optim, name)(params, **kwargs)
    _step_n(ember, opt, params, 20)
    expected = snapshot(params)
    # 10 steps, save, a fresh optimizer over fresh parameters with the saved values, 10 more
    first = make_params(ember)
    opt1 = getattr(ember.optim, name)(first, **kwargs)
    _step_n(ember, opt1, first, 10)
    saved = copy.deepcopy(opt1.state_dict())
    second = [ember.tensor(a, requires_grad=True) for a in snapshot(first)]
    opt2 = getattr(ember.optim, name)(second, **kwargs)
    opt2.load_state_dict(saved)
    _step_n(ember, opt2, second, 10)
    for a, b in zip(snapshot(second), expected):
        np.testing.assert_array_equal(a, b)


def test_step_state_is_a_float32_scalar_tensor():
    params, opt, _ = run("ember", "Adam", {}, steps=2)
    step = opt.state_dict()["state"][0]["step"]
    assert isinstance(step, ember.Tensor) and step.shape == () and step.dtype == ember.float32
    assert step.item() == 2.0


def test_load_state_dict_casts_state_to_the_parameter_dtype():
    for libname, (lib, optim) in LIBS.items():
        p64 = make_params(lib, "float64")
        opt = optim.Adam(p64, lr=0.01)
        _step_n(lib, opt, p64, 2, "float64")
        p32 = make_params(lib)
        opt32 = optim.Adam(p32, lr=0.01)
        opt32.load_state_dict(opt.state_dict())
        st = opt32.state[p32[0]]
        assert str(st["exp_avg"].dtype).endswith("float32"), libname
        assert str(st["step"].dtype).endswith("float32"), libname  # 'step' is never cast
        if libname == "ember":
            np.testing.assert_array_equal(st["exp_avg"].numpy(),
                                          opt.state[p64[0]]["exp_avg"].numpy().astype(np.float32))


def test_load_state_dict_takes_group_options_and_keeps_params():
    params = make_params(ember)
    opt = ember.optim.SGD(params, lr=0.1, momentum=0.9)
    other = ember.optim.SGD(make_params(ember), lr=0.5, momentum=0.1)
    opt.load_state_dict(other.state_dict())
    group = opt.param_groups[0]
    assert group["lr"] == 0.5 and group["momentum"] == 0.1
    assert all(a is b for a, b in zip(group["params"], params))


def test_load_state_dict_fills_group_keys_missing_from_old_checkpoints():
    opt = ember.optim.Adam(make_params(ember))
    sd = opt.state_dict()
    for key in ("amsgrad", "maximize", "foreach", "capturable", "differentiable", "fused",
                "decoupled_weight_decay"):
        del sd["param_groups"][0][key]
    opt.load_state_dict(sd)
    t_opt = torch.optim.Adam(make_params(torch))
    assert set(opt.param_groups[0]) == set(t_opt.param_groups[0])
    adamw = ember.optim.AdamW(make_params(ember))
    adamw.load_state_dict(sd)
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True


def test_load_state_dict_turns_number_steps_into_tensors():
    params = make_params(ember)
    opt = ember.optim.Adam(params)
    _step_n(ember, opt, params, 1)
    sd = opt.state_dict()
    sd["state"][0]["step"] = 1  # as older checkpoints stored it
    opt.load_state_dict(sd)
    assert isinstance(opt.state[params[0]]["step"], ember.Tensor)


@pytest.mark.parametrize("change, message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])),
     "loaded state dict has a different number of parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(),
     "loaded state dict contains a parameter group that doesn't match the size of "
     "optimizer's group"),
])
def test_load_state_dict_errors(change, message):
    for lib, optim in LIBS.values():
        opt = optim.SGD(make_params(lib), lr=0.1)
        sd = opt.state_dict()
        change(sd)
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(sd)


def test_named_parameters_are_recorded():
    sds = []
    for lib, optim in LIBS.values():
        named = [(f"p{i}", p) for i, p in enumerate(make_params(lib))]
        opt = optim.SGD(named, lr=0.1)
        sds.append(opt.state_dict()["param_groups"])
    assert sds[0] == sds[1]


# ------------------------------------------------------------------ parameter groups

def _errors(fn):
    """(type, message) of what fn raises in each library, the library passed in."""
    out = []
    for lib, optim in LIBS.values():
        with pytest.raises(Exception) as info:
            fn(lib, optim)
        out.append((type(info.value), str(info.value)))
    return out


@pytest.mark.parametrize("build", [
    lambda lib, optim: optim.SGD([], lr=0.1),
    lambda lib, optim: optim.SGD(make_params(lib)[0], lr=0.1),
    lambda lib, optim: optim.SGD([1.0], lr=0.1),
    lambda lib, optim: optim.SGD([make_params(lib)[0] * 2], lr=0.1),
    lambda lib, optim: optim.SGD([{"params": {make_params(lib)[0]}}], lr=0.1),
    lambda lib, optim: optim.SGD([{"params": [p]} for p in [make_params(lib)[0]] * 2], lr=0.1),
    lambda lib, optim: optim.SGD([("a", make_params(lib)[0]), make_params(lib)[1]], lr=0.1),
    lambda lib, optim: optim.SGD(make_params(lib), lr=0.1).add_param_group([1]),
    lambda lib, optim: optim.LBFGS([{"params": [p]} for p in make_params(lib)[:2]]),
], ids=["empty", "tensor", "non-tensor", "non-leaf", "set", "duplicate-across-groups",
        "names-missing", "group-not-dict", "lbfgs-groups"])
def test_parameter_errors_match_torch(build):
    e, t = _errors(build)
    assert e[0] is t[0]
    # torch names tensor types 'torch.FloatTensor'; the rest of each message is the same
    assert e[1].replace("ember.", "torch.") == t[1]


def test_duplicate_parameter_in_a_group_warns():
    p = make_params(ember)[0]
    with pytest.warns(UserWarning, match="duplicate parameters"):
        ember.optim.SGD([p, p], lr=0.1)


def test_add_param_group_and_step_it():
    results = []
    for libname in LIBS:
        lib, optim = LIBS[libname]
        params = make_params(lib)
        opt = optim.Adagrad(params[:2], lr=0.1)
        opt.add_param_group({"params": params[2:], "lr": 0.05})
        assert opt.param_groups[1]["lr"] == 0.05
        assert opt.param_groups[1]["lr_decay"] == 0  # defaults filled in
        _step_n(lib, opt, params, 3)
        results.append(snapshot(params))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_required_default_is_enforced():
    class Custom(ember.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": required})

    with pytest.raises(ValueError, match="didn't specify a value of required optimization "
                                         "parameter lr"):
        Custom(make_params(ember))
    assert Custom([{"params": make_params(ember), "lr": 1.0}]).param_groups[0]["lr"] == 1.0


# ------------------------------------------------------------------ stepping

def test_zero_grad():
    params = make_params(ember)
    opt = ember.optim.SGD(params, lr=0.1)
    closure_for(ember, opt, params)()
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in params[:4])
    assert params[4].grad is None
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_step_returns_the_closure_loss_and_records_no_history():
    params = make_params(ember)
    opt = ember.optim.Adam(params)
    seen = []

    def closure():
        seen.append(ember.is_grad_enabled())
        opt.zero_grad()
        loss = (params[0] ** 2).sum()
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert isinstance(loss, ember.Tensor) and loss.grad_fn is not None
    assert all(p.is_leaf and p.requires_grad for p in params)
    assert opt.step() is None


def test_foreach_fused_flags_are_accepted_and_checked():
    params = make_params(ember)
    ember.optim.SGD(params, foreach=True)
    ember.optim.Adam(params, fused=True, capturable=False, differentiable=False)
    e, t = _errors(lambda lib, optim: optim.Adam(make_params(lib), fused=True, foreach=True))
    assert e == t


def test_step_hooks():
    calls = []
    params = make_params(ember)
    opt = ember.optim.SGD(params, lr=0.1)
    pre = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    handle = ember.optim.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("global"))
    try:
        opt.step()
    finally:
        handle.remove()
    pre.remove()
    opt.step()
    assert calls == ["global", "pre", "post", "post"]


def test_state_dict_hooks():
    params = make_params(ember)
    opt = ember.optim.SGD(params, lr=0.1)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    assert opt.state_dict()["extra"] == 1
    loaded = []
    opt.register_load_state_dict_post_hook(lambda o: loaded.append(True))
    opt.load_state_dict(ember.optim.SGD(make_params(ember), lr=0.1).state_dict())
    assert loaded == [True]


@pytest.mark.parametrize("name", ["SGD", "Adam", "LBFGS"])
def test_repr_matches_torch(name):
    reprs = [repr(getattr(optim, name)(make_params(lib))) for lib, optim in LIBS.values()]
    assert reprs[0] == reprs[1]


# ------------------------------------------------------------------ argument errors

INVALID = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(momentum=-1)), ("SGD", dict(weight_decay=-1)),
    ("SGD", dict(nesterov=True)), ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=-1)), ("Adam", dict(eps=-1)), ("Adam", dict(betas=(1.0, 0.9))),
    ("Adam", dict(betas=(0.9, -0.1))), ("Adam", dict(weight_decay=-1)),
    ("Adam", dict(betas=(0, 0.9))), ("AdamW", dict(betas=(0.9, 1.5))),
    ("RMSprop", dict(lr=-1)), ("RMSprop", dict(eps=-1)), ("RMSprop", dict(momentum=-1)),
    ("RMSprop", dict(weight_decay=-1)), ("RMSprop", dict(alpha=-1)),
    ("Adagrad", dict(lr=-1)), ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(weight_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-1)), ("Adagrad", dict(eps=-1)),
    ("Adadelta", dict(lr=-1)), ("Adadelta", dict(rho=1.1)), ("Adadelta", dict(eps=-1)),
    ("Adadelta", dict(weight_decay=-1)),
    ("Adamax", dict(lr=-1)), ("Adamax", dict(eps=-1)), ("Adamax", dict(betas=(0.9, 1.0))),
    ("Adamax", dict(weight_decay=-1)),
    ("NAdam", dict(lr=-1)), ("NAdam", dict(betas=(-0.1, 0.9))), ("NAdam", dict(momentum_decay=-1)),
    ("RAdam", dict(lr=-1)), ("RAdam", dict(eps=-1)), ("RAdam", dict(weight_decay=-1)),
    ("LBFGS", dict(lr=-1)),
]


@pytest.mark.parametrize("name, kwargs", INVALID,
                         ids=[f"{n}-{next(iter(k))}" for n, k in INVALID])
def test_invalid_arguments_match_torch(name, kwargs):
    e, t = _errors(lambda lib, optim: getattr(optim, name)(make_params(lib), **kwargs))
    assert e == t


def test_tensor_lr_must_have_one_element():
    e, t = _errors(lambda lib, optim: optim.SGD(make_params(lib), lr=lib.tensor([0.1, 0.2])))
    assert e == t


def test_no_warnings_in_normal_use():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run("ember", "AdamW", {}, steps=2)
