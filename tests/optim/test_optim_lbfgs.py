"""L-BFGS against PyTorch's: fixed steps and the strong-Wolfe line search, with a short
history (so old curvature pairs are dropped), over several outer steps."""
import numpy as np
import pytest

from _optim_problem import LIBS, assert_trajectories_close, closure_for, make_params, snapshot

CASES = [
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(lr=1, max_iter=10, history_size=100),
    dict(lr=1, max_iter=6, history_size=3, line_search_fn="strong_wolfe"),
    dict(lr=1, max_iter=20, max_eval=15, line_search_fn="strong_wolfe"),
    dict(lr=0.8, max_iter=8, tolerance_change=1e-4, line_search_fn="strong_wolfe"),
]


def _run(libname, kwargs, dtype, outer=4):
    lib, optim = LIBS[libname]
    params = make_params(lib, dtype)
    opt = optim.LBFGS(params, **kwargs)
    closure = closure_for(lib, opt, params, dtype)
    losses, trajectory = [], []
    for _ in range(outer):
        losses.append(opt.step(closure).item())
        trajectory.append(snapshot(params))
    state = opt.state[params[0]]
    return losses, trajectory, (state["func_evals"], state["n_iter"])


@pytest.mark.parametrize("kwargs", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items())
                                               for c in CASES])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lbfgs_matches_torch(kwargs, dtype):
    # float32 rounding differences (dot products sum in another order) grow quickly as
    # L-BFGS converges, so float32 is compared over two outer steps, float64 over four
    outer, tol = (2, dict(rtol=1e-4, atol=1e-4)) if dtype == "float32" else \
        (4, dict(rtol=1e-10, atol=1e-11))
    e_loss, e_traj, e_counts = _run("ember", kwargs, dtype, outer)
    t_loss, t_traj, t_counts = _run("torch", kwargs, dtype, outer)
    assert e_counts == t_counts  # same iterations and function evaluations
    np.testing.assert_allclose(e_loss, t_loss, **tol)
    assert_trajectories_close(e_traj, t_traj, **tol)


def test_lbfgs_reduces_the_loss():
    losses, _, _ = _run("ember", CASES[2], "float32", outer=3)
    assert losses[-1] < 0.5 * losses[0]


def test_lbfgs_rejects_unknown_line_search():
    import ember
    params = make_params(ember)
    opt = ember.optim.LBFGS(params, line_search_fn="backtracking")
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure_for(ember, opt, params))
