"""Traced BatchNorm with momentum=None (a cumulative moving average, factor 1 / batches seen):
strict tracing records the factor as tensor ops on num_batches_tracked, so every call of
the traced module folds its batch in with the count at that call, and running_mean,
running_var and num_batches_tracked follow eager ember and PyTorch step by step, with and
without gradients, in float32 and float64."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn

SHAPES = {1: (4, 3), 2: (2, 3, 2, 3), 3: (2, 3, 2, 1, 2)}
STEPS = 3


def _batches(dims, dtype):
    rng = np.random.default_rng(dims)
    # batches with different means and scales, so each step's factor matters
    return [(rng.standard_normal(SHAPES[dims]) * (k + 1) + k).astype(dtype)
            for k in range(STEPS + 1)]


def _buffers(m):
    return [np.asarray(b.detach().numpy(), np.float64) for b in
            (m.running_mean, m.running_var, m.num_batches_tracked)]


def _modules(dims, dtype, affine):
    name = f"BatchNorm{dims}d"
    ours = [getattr(nn, name)(3, momentum=None, affine=affine).to(getattr(ember, dtype))
            for _ in range(2)]
    theirs = getattr(torch.nn, name)(3, momentum=None, affine=affine).to(getattr(torch, dtype))
    return ours, theirs


@pytest.mark.parametrize("grad", [True, False], ids=["grad", "no_grad"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("dims", [1, 2, 3])
def test_cumulative_average_matches_eager_and_torch(dims, dtype, grad):
    (eager, bn), ref = _modules(dims, dtype, affine=dims != 3)
    xs = _batches(dims, dtype)
    traced = ember.jit.trace(bn, (ember.tensor(xs[-1]),))   # strict: no .item() left
    bn.load_state_dict(eager.state_dict())                  # undo the tracing call's update
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    for step, x in enumerate(xs[:STEPS], 1):
        outs = []
        for run, t in ((eager, ember.tensor(x)), (traced, ember.tensor(x)),
                       (ref, torch.tensor(x))):
            t.requires_grad_(grad)
            with torch.set_grad_enabled(grad), ember.set_grad_enabled(grad):
                out = run(t)
                if grad:
                    out.sin().sum().backward()
            outs.append((out.detach().numpy(), t.grad.numpy() if grad else None))
        for k, (o, g) in enumerate(outs[:2]):
            np.testing.assert_allclose(o, outs[2][0], **tol, err_msg=f"output {k}, step {step}")
            if grad:
                np.testing.assert_allclose(g, outs[2][1], **tol, err_msg=f"grad {k}")
        want = _buffers(ref)
        assert want[2] == step
        for name, got in (("eager", _buffers(eager)), ("traced", _buffers(bn))):
            for what, a, b in zip(("running_mean", "running_var", "count"), got, want):
                np.testing.assert_allclose(a, b, **tol, err_msg=f"{name} {what}, step {step}")


def test_the_factor_is_computed_in_the_graph():
    bn = nn.BatchNorm1d(3, momentum=None)
    x = ember.randn(5, 3)
    traced = ember.jit.trace(bn, (x,))
    # 1 / float(count + 1): the count input feeds the factor, no constant stands for it
    count = traced.graph.inputs[-1]
    bumped = next(n for n in traced.graph.nodes if count in n.inputs).outputs[0]
    factor = next(n for n in traced.graph.nodes if n.op == "convert" and bumped in n.inputs)
    assert any(n.op == "div" and factor.outputs[0] in n.inputs for n in traced.graph.nodes)
    # the count is a graph input updated in place: each traced call writes it back
    assert int(bn.num_batches_tracked) == 1
    bn.running_mean.fill_(2.0)
    bn.num_batches_tracked.fill_(3)   # three batches seen: this one weighs 1/4
    with ember.no_grad():
        traced(x)
    assert int(bn.num_batches_tracked) == 4
    want = 2.0 * 0.75 + x.mean(0) * 0.25
    np.testing.assert_allclose(bn.running_mean.numpy(), want.numpy(), rtol=1e-6)


def test_eval_mode_leaves_the_buffers_alone():
    bn = nn.BatchNorm2d(3, momentum=None)
    bn.num_batches_tracked.fill_(2)
    bn.running_mean.fill_(0.5)
    traced = ember.jit.trace(bn.eval(), (ember.randn(2, 3, 2, 2),))
    with ember.no_grad():
        want = bn(ember.ones(2, 3, 2, 2) * 3)
        np.testing.assert_allclose(traced(ember.ones(2, 3, 2, 2) * 3).numpy(), want.numpy())
    assert int(bn.num_batches_tracked) == 2
    assert bn.running_mean.tolist() == [0.5] * 3
