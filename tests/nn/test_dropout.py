"""Dropout family: identity in eval mode / p=0, statistics in training (drop rate, 1/(1-p)
scaling, zero-mean unit-variance for alpha dropout), channel-wise masks, gradients equal
to the mask, in-place forms, warnings and errors. The RNG differs from torch's, so masks
are compared by their statistics, not element by element."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _nn_compare import module_pair, same_error, same_repr, same_state_keys

FUNCS = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
         "feature_alpha_dropout"]
# a batched input each function accepts without warning
SHAPES = {"dropout1d": (2, 3, 4), "dropout3d": (2, 3, 4, 5, 2)}


@pytest.mark.parametrize("name", FUNCS)
def test_identity_when_not_training_or_p_zero(name):
    x = ember.randn(*SHAPES.get(name, (2, 3, 4, 5)))
    assert getattr(F, name)(x, 0.5, training=False) is x
    assert getattr(F, name)(x, 0.0, training=True) is x


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_probability(name, p):
    shape = SHAPES.get(name, (2, 3, 4, 5))
    same_error(lambda: getattr(F, name)(ember.randn(*shape), p),
               lambda: getattr(TF, name)(torch.randn(*shape), p), ValueError)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_statistics_and_gradient(p):
    x = ember.ones(200, 500, requires_grad=True)
    y = F.dropout(x, p)
    kept = (y != 0).to(ember.float64).mean().item()
    assert abs(kept - (1 - p)) < 0.01
    np.testing.assert_allclose(np.unique(y.detach().numpy()), [0.0, 1 / (1 - p)], rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # d/dx = mask / (1-p)
    t = TF.dropout(torch.ones(200, 500), p)
    assert abs(kept - (t != 0).double().mean().item()) < 0.015


def test_dropout_p_one_zeroes_with_zero_gradient():
    x = ember.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert y.abs().sum().item() == 0.0
    y.sum().backward()
    assert x.grad.abs().sum().item() == 0.0


@pytest.mark.parametrize("name,shape,lead", [("dropout1d", (20, 30, 7), 2),
                                             ("dropout1d", (300, 7), 1),
                                             ("dropout2d", (20, 30, 3, 4), 2),
                                             ("dropout3d", (20, 30, 2, 2, 3), 2),
                                             ("dropout3d", (300, 2, 2, 3), 1)])
def test_channel_dropout_masks_whole_channels(name, shape, lead):
    """`lead` dims index a channel (sample and channel, or channel alone when unbatched)."""
    y = getattr(F, name)(ember.ones(*shape), 0.4).numpy()
    chans = y.reshape(*y.shape[:lead], -1)
    assert np.all(chans.min(-1) == chans.max(-1))  # one value per channel
    assert set(np.unique(chans)) <= {0.0, np.float32(1 / 0.6)}
    assert abs((chans[..., 0] == 0).mean() - 0.4) < 0.12


def test_dropout_warnings_and_errors():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        F.dropout2d(ember.randn(2, 3, 4))
        F.dropout2d(ember.randn(2, 3))
        F.dropout3d(ember.randn(2, 3))
    msgs = [str(w.message) for w in rec]
    assert any("assuming that channel-wise 1D dropout behavior" in m for m in msgs)
    assert any("Received a 2-D input to dropout2d" in m for m in msgs)
    assert any("Received a 2-D input to dropout3d" in m for m in msgs)
    same_error(lambda: F.dropout1d(ember.randn(2, 3, 4, 5)),
               lambda: TF.dropout1d(torch.randn(2, 3, 4, 5)))


@pytest.mark.parametrize("name", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_selu_statistics(name):
    x = ember.randn(200, 300, 2)
    y = getattr(F, name)(x, 0.3, training=True)
    assert abs(y.mean().item()) < 0.05
    assert abs(y.std().item() - 1.0) < 0.05
    t = getattr(TF, name)(torch.tensor(x.numpy()), 0.3, training=True)
    assert abs(y.std().item() - t.std().item()) < 0.05


def test_alpha_dropout_gradient_is_the_scale():
    x = ember.randn(50, 40, dtype=ember.float64, requires_grad=True)
    y = F.alpha_dropout(x, 0.5, training=True)
    y.sum().backward()
    a = 1.0 / np.sqrt((1.7580993408473766 ** 2 * 0.5 + 1) * 0.5)
    np.testing.assert_allclose(np.unique(x.grad.numpy()), [0.0, a], rtol=1e-12)


def test_inplace_dropout():
    x = ember.ones(100, 100)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and 0.4 < (x == 0).to(ember.float32).mean().item() < 0.6
    z = ember.ones(10, 20, 3)
    assert F.dropout1d(z, 0.5, inplace=True) is z


LAYERS = [(lambda nn: nn.Dropout(), (40, 50, 4)),
          (lambda nn: nn.Dropout(0.2, inplace=True), (40, 50)),
          (lambda nn: nn.Dropout1d(0.3), (40, 50, 4)), (lambda nn: nn.Dropout2d(), (40, 50, 4, 5)),
          (lambda nn: nn.Dropout3d(0.1), (40, 50, 4, 5, 2)),
          (lambda nn: nn.AlphaDropout(0.2), (40, 50)),
          (lambda nn: nn.FeatureAlphaDropout(0.4), (40, 50, 4))]


@pytest.mark.parametrize("build,shape", LAYERS, ids=range(len(LAYERS)))
def test_layers_repr_and_eval_identity(build, shape):
    em, tm = module_pair(build)
    same_repr(em, tm)
    same_state_keys(em, tm)
    em.eval()
    x = ember.randn(*shape, dtype=ember.float64)
    assert em(x) is x
    em.train()
    y = em(ember.ones(*shape))
    assert (y != 1).any().item()


def test_layer_bad_probability():
    same_error(lambda: nn.Dropout(1.2), lambda: torch.nn.Dropout(1.2))
