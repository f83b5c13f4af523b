"""binary_cross_entropy traced and under create_graph: PyTorch's gradients (which ignore the
-100 clamp of the forward's logs and clamp the denominator at 1e-12) at saturated and
ordinary probabilities, for input and target."""
import pytest
import torch

import ember

PROBS = [0.0, 1e-50, 0.3, 0.5, 1.0 - 1e-16, 1.0, 0.9]
TARGETS = [1.0, 1.0, 0.2, 0.0, 0.3, 0.0, 1.0]


def _torch_grads(reduction):
    x = torch.tensor(PROBS, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(TARGETS, dtype=torch.float64, requires_grad=True)
    out = torch.nn.functional.binary_cross_entropy(x, t, reduction=reduction)
    return out.detach().numpy(), [g.numpy() for g in torch.autograd.grad(out, (x, t))]


def _inputs():
    return (ember.tensor(PROBS, dtype=ember.float64, requires_grad=True),
            ember.tensor(TARGETS, dtype=ember.float64, requires_grad=True))


@pytest.mark.parametrize("mode", ["traced", "create_graph"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gradients_match_torch(mode, reduction):
    def f(x, t):
        return ember.nn.functional.binary_cross_entropy(x, t, reduction=reduction)
    x, t = _inputs()
    fn = ember.jit.trace(f, (x, t)) if mode == "traced" else f
    out = fn(x, t)
    grads = ember.autograd.grad(out, (x, t), create_graph=mode == "create_graph")
    want_out, want = _torch_grads(reduction)
    torch.testing.assert_close(torch.tensor(out.detach().numpy()), torch.tensor(want_out))
    for g, w in zip(grads, want):
        torch.testing.assert_close(torch.tensor(g.detach().numpy()), torch.tensor(w))


def test_second_derivative_where_unclamped():
    x = ember.tensor([0.2, 0.7], dtype=ember.float64, requires_grad=True)
    t = ember.tensor([0.0, 0.4], dtype=ember.float64)
    assert ember.autograd.gradgradcheck(
        lambda x: ember.nn.functional.binary_cross_entropy(x, t), (x,))
