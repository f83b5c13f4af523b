"""Learning-rate schedulers against PyTorch's: 35 steps of lr values (and momentum/betas
where the scheduler cycles them) must be identical, state dicts must have PyTorch's keys,
and a scheduler restored from a state dict must continue exactly as the original."""
import copy
import math
import warnings

import pytest

import ember
from _optim_problem import LIBS, make_params

STEPS = 35


def _optimizer(optim, lib, name="SGD", **kwargs):
    params = make_params(lib)
    defaults = dict(lr=0.1, momentum=0.9) if name == "SGD" else dict(lr=0.1)
    defaults.update(kwargs)
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]
    return getattr(optim, name)(groups, **defaults)


def _sched(lib, optim, spec):
    opt_name, opt_kwargs, build = spec
    opt = _optimizer(optim, lib, opt_name, **opt_kwargs)
    return opt, build(optim.lr_scheduler, opt)


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]


def _record(opt, sched, steps=STEPS, metrics=None):
    out = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups], _momenta(opt))]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        out.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                    _momenta(opt)))
    return out


def _lambda(epoch):
    return 0.95 ** epoch


def _mult(epoch):
    return 0.9 if epoch % 3 else 1.0


SPECS = {
    "StepLR": ("SGD", {}, lambda s, o: s.StepLR(o, step_size=4, gamma=0.5)),
    "MultiStepLR": ("SGD", {}, lambda s, o: s.MultiStepLR(o, milestones=[3, 8, 8, 20], gamma=0.3)),
    "ExponentialLR": ("SGD", {}, lambda s, o: s.ExponentialLR(o, gamma=0.9)),
    "CosineAnnealingLR": ("SGD", {}, lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    "CosineAnnealingLR-T7": ("SGD", {}, lambda s, o: s.CosineAnnealingLR(o, T_max=7)),
    "CosineAnnealingWarmRestarts": ("SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=5, T_mult=2, eta_min=0.01)),
    "CosineAnnealingWarmRestarts-1": ("SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=4)),
    "LambdaLR": ("SGD", {}, lambda s, o: s.LambdaLR(o, lr_lambda=_lambda)),
    "LambdaLR-list": ("SGD", {}, lambda s, o: s.LambdaLR(o, lr_lambda=[_lambda, _mult])),
    "MultiplicativeLR": ("SGD", {}, lambda s, o: s.MultiplicativeLR(o, lr_lambda=_mult)),
    "LinearLR": ("SGD", {}, lambda s, o: s.LinearLR(o, start_factor=0.25, end_factor=0.9,
                                                     total_iters=12)),
    "ConstantLR": ("SGD", {}, lambda s, o: s.ConstantLR(o, factor=0.5, total_iters=6)),
    "PolynomialLR": ("SGD", {}, lambda s, o: s.PolynomialLR(o, total_iters=20, power=2.0)),
    "OneCycleLR": ("SGD", {}, lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR-linear-3phase-adam": ("Adam", {}, lambda s, o: s.OneCycleLR(
        o, max_lr=0.3, epochs=5, steps_per_epoch=7, anneal_strategy="linear", three_phase=True,
        base_momentum=0.8, max_momentum=0.92, div_factor=10.0, final_div_factor=100.0)),
    "OneCycleLR-no-momentum": ("SGD", {}, lambda s, o: s.OneCycleLR(
        o, max_lr=0.2, total_steps=40, pct_start=0.25, cycle_momentum=False)),
    "CyclicLR-triangular": ("SGD", {}, lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "CyclicLR-triangular2": ("SGD", {}, lambda s, o: s.CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.2], step_size_up=3, step_size_down=5,
        mode="triangular2")),
    "CyclicLR-exp_range-adam": ("Adam", {}, lambda s, o: s.CyclicLR(
        o, base_lr=0.001, max_lr=0.01, step_size_up=5, mode="exp_range", gamma=0.97)),
    "CyclicLR-scale_fn": ("SGD", {}, lambda s, o: s.CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 1 / (1 + 0.1 * x),
        scale_mode="iterations", cycle_momentum=False)),
    "SequentialLR": ("SGD", {}, lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, start_factor=0.1, total_iters=5), s.CosineAnnealingLR(o, T_max=20)],
        milestones=[5])),
    "SequentialLR-3": ("SGD", {}, lambda s, o: s.SequentialLR(
        o, [s.ConstantLR(o, factor=0.5, total_iters=2), s.ExponentialLR(o, gamma=0.9),
            s.StepLR(o, step_size=3, gamma=0.5)], milestones=[3, 10])),
    "ChainedScheduler": ("SGD", {}, lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.1, total_iters=4), s.ExponentialLR(o, gamma=0.9)])),
}


def _both(spec):
    return [_sched(lib, optim, spec) for lib, optim in LIBS.values()]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@pytest.mark.parametrize("name", list(SPECS))
def test_values_match_torch(name):
    (e_opt, e_s), (t_opt, t_s) = _both(SPECS[name])
    assert _record(e_opt, e_s) == _record(t_opt, t_s)
    assert e_opt.param_groups[0].keys() - {"params"} == t_opt.param_groups[0].keys() - {"params"}


def _keys(sd):
    out = set(sd)
    for sub in sd.get("_schedulers", []):
        out |= {"_schedulers." + k for k in sub}
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_state_dict_matches_torch_and_round_trips(name):
    (e_opt, e_s), (t_opt, t_s) = _both(SPECS[name])
    _record(e_opt, e_s, 10)
    _record(t_opt, t_s, 10)
    e_sd, t_sd = e_s.state_dict(), t_s.state_dict()
    assert _keys(e_sd) == _keys(t_sd)
    # the saved values themselves (functions are not saved, in either)
    assert e_sd == t_sd
    # a fresh optimizer and scheduler, restored, continue exactly like the original
    saved_opt, saved = copy.deepcopy(e_opt.state_dict()), copy.deepcopy(e_sd)
    opt2, s2 = _sched(ember, ember.optim, SPECS[name])
    opt2.load_state_dict(saved_opt)
    s2.load_state_dict(saved)
    assert _record(opt2, s2, 20) == _record(e_opt, e_s, 20)


def test_closed_form_epochs_match_torch():
    for name in ("StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                 "ConstantLR", "PolynomialLR"):
        values = []
        for opt, sched in _both(SPECS[name]):
            values.append([(sched.step(epoch), sched.get_last_lr())[1]
                           for epoch in (3, 7, 4, 12, 25, 0)])
        assert values[0] == values[1], name


def test_warm_restarts_fractional_epochs():
    spec = ("SGD", {}, lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                    eta_min=0.001))
    runs = []
    for opt, sched in _both(spec):
        out = []
        for epoch in range(12):
            for i in range(4):
                sched.step(epoch + i / 4)
                out.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        runs.append(out)
    assert runs[0] == runs[1]


METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.9, 0.89, 0.9, 0.9, 0.9, 0.95, 0.8, 0.8, 0.8, 0.8, 0.85,
           0.7999, 0.8, 0.81, 0.82, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
           0.6, 0.6, 0.6]
PLATEAU = [
    dict(patience=2),
    dict(mode="max", patience=1, factor=0.5),
    dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(patience=0, factor=0.5, min_lr=[0.02, 0.01]),
    dict(patience=1, factor=0.5, min_lr=0.03, eps=0.01),
    dict(mode="max", threshold_mode="abs", threshold=0.0, patience=3, cooldown=1),
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=[str(k) for k in PLATEAU])
def test_reduce_lr_on_plateau(kwargs):
    spec = ("SGD", {}, lambda s, o: s.ReduceLROnPlateau(o, **kwargs))
    (e_opt, e_s), (t_opt, t_s) = _both(spec)
    assert _record(e_opt, e_s, metrics=METRICS) == _record(t_opt, t_s, metrics=METRICS)
    assert e_s.state_dict() == t_s.state_dict()


def test_reduce_lr_on_plateau_round_trip_and_tensor_metric():
    spec = ("SGD", {}, lambda s, o: s.ReduceLROnPlateau(o, patience=1, cooldown=1))
    opt, sched = _sched(ember, ember.optim, spec)
    _record(opt, sched, 12, metrics=[ember.tensor(m) for m in METRICS])
    opt2, sched2 = _sched(ember, ember.optim, spec)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    sched2.load_state_dict(copy.deepcopy(sched.state_dict()))
    rest = METRICS[12:]
    assert _record(opt2, sched2, len(rest), rest) == _record(opt, sched, len(rest), rest)


def test_lambda_objects_keep_their_state():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = _optimizer(ember.optim, ember)
    sched = ember.optim.lr_scheduler.LambdaLR(opt, [Decay(0.5), _lambda])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"rate": 0.5}, None]
    other = ember.optim.lr_scheduler.LambdaLR(_optimizer(ember.optim, ember),
                                              [Decay(0.9), _lambda])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].rate == 0.5


def test_tensor_lr_is_updated_in_place():
    lrs = []
    for lib, optim in LIBS.values():
        lr = lib.tensor(0.1)
        opt = optim.SGD(make_params(lib), lr=lr)
        sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        for _ in range(3):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] is lr
        lrs.append([float(v) for v in sched.get_last_lr()] + [float(lr)])
    assert lrs[0] == lrs[1]


def test_resume_with_last_epoch():
    runs = []
    for lib, optim in LIBS.values():
        opt = _optimizer(optim, lib)
        for g in opt.param_groups:
            g["initial_lr"] = g["lr"]
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, last_epoch=4)
        runs.append(_record(opt, sched, 8))
    assert runs[0] == runs[1]


def _step_times(sched, n):
    for _ in range(n):
        sched.step()


def _errors(build):
    out = []
    for lib, optim in LIBS.values():
        with pytest.raises(Exception) as info:
            build(optim.lr_scheduler, _optimizer(optim, lib), _optimizer(optim, lib, "Adagrad"))
        out.append((type(info.value), str(info.value)))
    return out


@pytest.mark.parametrize("build", [
    lambda s, o, a: s.StepLR(object(), 3),
    lambda s, o, a: s.CosineAnnealingLR(o, T_max=5, last_epoch=3),
    lambda s, o, a: s.ConstantLR(o, factor=1.5),
    lambda s, o, a: s.LinearLR(o, start_factor=0),
    lambda s, o, a: s.LinearLR(o, end_factor=1.5),
    lambda s, o, a: s.LambdaLR(o, [_lambda]),
    lambda s, o, a: s.MultiplicativeLR(o, 0.5),
    lambda s, o, a: s.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda s, o, a: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=1.5),
    lambda s, o, a: s.CosineAnnealingWarmRestarts(o, T_0=2).step(-1),
    lambda s, o, a: s.OneCycleLR(o, max_lr=1.0),
    lambda s, o, a: s.OneCycleLR(o, max_lr=1.0, total_steps=0),
    lambda s, o, a: s.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
    lambda s, o, a: s.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
    lambda s, o, a: s.OneCycleLR(o, max_lr=[1.0], total_steps=10),
    lambda s, o, a: s.OneCycleLR(a, max_lr=1.0, total_steps=10),
    lambda s, o, a: _step_times(s.OneCycleLR(o, max_lr=1.0, total_steps=3), 4),
    lambda s, o, a: s.CyclicLR(o, 0.01, 0.1, mode="sine"),
    lambda s, o, a: s.CyclicLR(a, 0.01, 0.1),
    lambda s, o, a: s.ReduceLROnPlateau(o, factor=1.0),
    lambda s, o, a: s.ReduceLROnPlateau(o, mode="middle"),
    lambda s, o, a: s.ReduceLROnPlateau(o, threshold_mode="pct"),
    lambda s, o, a: s.ReduceLROnPlateau(o, min_lr=[0.1]),
    lambda s, o, a: s.SequentialLR(o, [], milestones=[]),
    lambda s, o, a: s.SequentialLR(o, [s.StepLR(o, 2), s.StepLR(o, 3)], milestones=[]),
    lambda s, o, a: s.SequentialLR(o, [s.StepLR(o, 2), s.ReduceLROnPlateau(o)], milestones=[2]),
    lambda s, o, a: s.ChainedScheduler([]),
])
def test_errors_match_torch(build):
    e, t = _errors(build)
    assert e == t


def test_step_order_warning():
    for lib, optim in LIBS.values():
        opt = _optimizer(optim, lib)
        sched = optim.lr_scheduler.StepLR(opt, 2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.step()
        assert any("before `optimizer.step()`" in str(w.message) for w in caught)


def test_cosine_annealing_stays_on_the_closed_form():
    opt = _optimizer(ember.optim, ember)
    sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for epoch in range(1, 31):
        opt.step()
        sched.step()
        expected = 0.01 + (0.1 - 0.01) * (1 + math.cos(math.pi * epoch / 10)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-12, abs=1e-15)
