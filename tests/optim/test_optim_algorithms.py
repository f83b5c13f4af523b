"""Each optimizer's update rule against PyTorch's: 20 steps on the same problem, the
parameter trajectory and the final state must agree within float32 tolerance."""
import numpy as np
import pytest
import torch

import ember
from _optim_problem import assert_close, assert_trajectories_close, make_params, run

CASES = {
    "SGD": [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.5),
            dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.1),
            dict(lr=0.01, momentum=0.8, weight_decay=0.1, nesterov=True, maximize=True)],
    "Adam": [dict(), dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.1),
             dict(lr=0.01, maximize=True), dict(lr=0.01, weight_decay=0.1,
                                                decoupled_weight_decay=True),
             dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, amsgrad=True, weight_decay=0.05)],
    "AdamW": [dict(), dict(lr=0.01, amsgrad=True), dict(lr=0.01, weight_decay=0.5),
              dict(lr=0.01, maximize=True, weight_decay=0)],
    "RMSprop": [dict(), dict(centered=True), dict(momentum=0.9), dict(alpha=0.9, eps=1e-4),
                dict(centered=True, momentum=0.5, weight_decay=0.1),
                dict(lr=0.005, maximize=True)],
    "Adagrad": [dict(), dict(lr=0.1, lr_decay=0.05), dict(initial_accumulator_value=0.3),
                dict(weight_decay=0.1, eps=1e-6), dict(lr=0.05, maximize=True)],
    "Adadelta": [dict(), dict(rho=0.5), dict(lr=0.5, weight_decay=0.1),
                 dict(maximize=True, eps=1e-4)],
    "Adamax": [dict(), dict(lr=0.01, weight_decay=0.1), dict(betas=(0.5, 0.9), maximize=True)],
    "NAdam": [dict(), dict(momentum_decay=0.01), dict(weight_decay=0.1),
              dict(weight_decay=0.1, decoupled_weight_decay=True), dict(maximize=True)],
    "RAdam": [dict(), dict(lr=0.01, weight_decay=0.1),
              dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
              dict(betas=(0.8, 0.99), maximize=True)],
}
PARAMS = [(name, kw) for name, kws in CASES.items() for kw in kws]


def _id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", PARAMS, ids=[_id(c) for c in PARAMS])
def test_trajectory_matches_torch(case):
    name, kwargs = case
    _, e_opt, e_traj = run("ember", name, kwargs)
    _, t_opt, t_traj = run("torch", name, kwargs)
    assert_trajectories_close(e_traj, t_traj)
    # the optimizer state agrees too, entry by entry
    e_sd, t_sd = e_opt.state_dict(), t_opt.state_dict()
    assert e_sd["state"].keys() == t_sd["state"].keys()
    for idx, t_state in t_sd["state"].items():
        e_state = e_sd["state"][idx]
        assert list(e_state) == list(t_state)
        for key, t_val in t_state.items():
            # (centered RMSprop's buffers carry a cancellation, hence the looser bound)
            assert_close(e_state[key], t_val, atol=1e-5, err_msg=f"state[{idx}][{key!r}]")


@pytest.mark.parametrize("name", list(CASES))
def test_float64_parameters(name):
    kwargs = CASES[name][1]
    _, _, e_traj = run("ember", name, kwargs, steps=5, dtype="float64")
    _, _, t_traj = run("torch", name, kwargs, steps=5, dtype="float64")
    assert e_traj[-1][0].dtype == np.float64
    assert_trajectories_close(e_traj, t_traj, rtol=1e-12, atol=1e-13)


def test_tensor_lr():
    _, _, e_traj = run("ember", "Adam", dict(lr=ember.tensor(0.01)), steps=5)
    _, _, t_traj = run("torch", "Adam", dict(lr=torch.tensor(0.01)), steps=5)
    assert_trajectories_close(e_traj, t_traj)


def test_per_group_options():
    def groups(params):
        return [{"params": params[:2], "lr": 0.05, "momentum": 0.5},
                {"params": params[2:], "weight_decay": 0.1}]
    e_params, t_params = make_params(ember), make_params(torch)
    _, _, e_traj = run("ember", None, None, params=e_params,
                       opt=ember.optim.SGD(groups(e_params), lr=0.1, momentum=0.9))
    _, _, t_traj = run("torch", None, None, params=t_params,
                       opt=torch.optim.SGD(groups(t_params), lr=0.1, momentum=0.9))
    assert_trajectories_close(e_traj, t_traj)


def test_parameter_objects_are_optimized():
    from ember.nn.parameter import Parameter
    params = [Parameter(p.detach()) for p in make_params(ember)]
    t_params = [torch.nn.Parameter(p.detach()) for p in make_params(torch)]
    _, _, e_traj = run("ember", None, None, params=params, opt=ember.optim.Adam(params, lr=0.01))
    _, _, t_traj = run("torch", None, None, params=t_params,
                       opt=torch.optim.Adam(t_params, lr=0.01))
    assert_trajectories_close(e_traj, t_traj)
