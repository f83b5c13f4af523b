"""A tiny regression problem run identically in ember and torch, for optimizer tests.

The parameters are a 4-6-3 tanh MLP plus one parameter the loss never touches (its grad
stays None, so optimizers must skip it). Everything is float32 unless a test asks otherwise.
"""
import numpy as np
import torch

import ember
import ember.optim  # noqa: F401  (the package is not imported by `ember` itself yet)

_rng = np.random.default_rng(1234)
INIT = [(_rng.standard_normal(s) * 0.5).astype(np.float32)
        for s in [(6, 4), (6,), (3, 6), (3,), (2,)]]
X = _rng.standard_normal((16, 4)).astype(np.float32)
Y = _rng.standard_normal((16, 3)).astype(np.float32)

LIBS = {"ember": (ember, ember.optim), "torch": (torch, torch.optim)}


def make_params(lib, dtype="float32"):
    """Fresh leaf parameters with the shared initial values."""
    return [lib.tensor(a.astype(dtype), requires_grad=True) for a in INIT]


def loss_of(lib, params, dtype="float32"):
    w1, b1, w2, b2, _unused = params
    x = lib.tensor(X.astype(dtype))
    y = lib.tensor(Y.astype(dtype))
    h = (x @ w1.t() + b1).tanh()
    return ((h @ w2.t() + b2 - y) ** 2).mean()


def closure_for(lib, opt, params, dtype="float32"):
    def closure():
        opt.zero_grad()
        loss = loss_of(lib, params, dtype)
        loss.backward()
        return loss
    return closure


def snapshot(params):
    return [np.array(p.detach().numpy(), copy=True) for p in params]


def run(libname, opt_name, kwargs, steps=20, params=None, opt=None, dtype="float32"):
    """Step an optimizer `steps` times; returns (params, optimizer, per-step snapshots)."""
    lib, optim = LIBS[libname]
    params = make_params(lib, dtype) if params is None else params
    opt = getattr(optim, opt_name)(params, **kwargs) if opt is None else opt
    closure = closure_for(lib, opt, params, dtype)
    trajectory = []
    for _ in range(steps):
        closure()
        opt.step()
        trajectory.append(snapshot(params))
    return params, opt, trajectory


def to_numpy(x):
    if isinstance(x, (ember.Tensor, torch.Tensor)):
        return np.asarray(x.detach().numpy())
    return x


def assert_close(actual, desired, rtol=1e-5, atol=2e-6, err_msg=""):
    """Within float32 rounding: the absolute tolerance scales with the array's magnitude,
    since a few ulps of its largest entries can cancel into a small one."""
    actual, desired = to_numpy(actual), to_numpy(desired)
    scale = max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol * scale, err_msg=err_msg)


def assert_trajectories_close(a, b, rtol=1e-5, atol=2e-6):
    assert len(a) == len(b)
    for step, (sa, sb) in enumerate(zip(a, b)):
        for i, (pa, pb) in enumerate(zip(sa, sb)):
            assert pa.dtype == pb.dtype
            assert_close(pa, pb, rtol, atol, err_msg=f"step {step + 1}, parameter {i}")
