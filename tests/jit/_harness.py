"""Shared helpers for the jit tests: run a module eagerly and traced from the same state and
the same random seed, and compare outputs, gradients and buffers."""
import numpy as np

import ember


def _leaves(obj):
    out = []
    if isinstance(obj, ember.Tensor):
        out.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            out += _leaves(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            out += _leaves(o)
    return out


def _state(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def _run(fn, module, inputs, seed):
    """Outputs, input grads, parameter grads and buffers after one forward + backward."""
    ember.manual_seed(seed)
    ins = [t.detach().clone().requires_grad_(t.dtype.is_floating_point) for t in inputs]
    for p in module.parameters():
        p.grad = None
    outs = _leaves(fn(*ins))
    loss = sum((o.float() * (k + 1.0)).sin().sum() for k, o in enumerate(outs)
               if o.requires_grad)
    if isinstance(loss, ember.Tensor):
        loss.backward()
    grads = [t.grad for t in ins if t.requires_grad]
    pgrads = [p.grad for p in module.parameters()]
    bufs = [b.detach().clone() for b in module.buffers()]
    return [o.detach() for o in outs], grads, pgrads, bufs


def _same(a, b, rtol, atol, what):
    assert len(a) == len(b), (what, len(a), len(b))
    for k, (x, y) in enumerate(zip(a, b)):
        assert (x is None) == (y is None), (what, k, x, y)
        if x is None:
            continue
        assert tuple(x.shape) == tuple(y.shape) and x.dtype == y.dtype, (what, k)
        np.testing.assert_allclose(np.asarray(x._data, np.float64),
                                   np.asarray(y._data, np.float64), rtol=rtol, atol=atol,
                                   err_msg=f"{what} {k}")


def check_module(module, inputs, train, rtol=1e-5, atol=1e-6, seed=0):
    """Trace `module` in the given mode and check trace == eager, forward and backward."""
    module.train(train)
    start = _state(module)
    traced = ember.jit.trace(module, tuple(inputs))
    for _ in range(2):   # a second call: reuses the graph and its gradient plan
        module.load_state_dict(start)
        eager = _run(module, module, inputs, seed)
        module.load_state_dict(start)
        got = _run(traced, module, inputs, seed)
        for what, a, b in zip(("output", "input grad", "param grad", "buffer"), eager, got):
            _same(a, b, rtol, atol, what)
        seed += 1
    return traced
