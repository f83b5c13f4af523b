"""Traced nn layers and losses equal eager, forward and backward, in train and eval mode:
outputs, input gradients, parameter gradients and buffers (running statistics) after the
call, on two calls (the second reuses the graph and its gradient plan), with the same
random seed so train-mode dropout draws the same masks."""
import pytest

import ember
import ember.nn as nn

from _harness import check_module

R = ember.randn


def _idx(*rows):
    return ember.tensor(list(rows))


LAYERS = {
    "Linear": (lambda: nn.Linear(4, 3), lambda: [R(2, 4)]),
    "Bilinear": (lambda: nn.Bilinear(3, 4, 2), lambda: [R(2, 3), R(2, 4)]),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1, groups=1), lambda: [R(2, 2, 6)]),
    "Conv2d": (lambda: nn.Conv2d(2, 4, 3, padding=1, stride=2, groups=2), lambda: [R(2, 2, 5, 5)]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), lambda: [R(1, 2, 3, 3)]),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), lambda: [R(4, 3)]),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), lambda: [R(2, 3, 4, 4)]),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                       lambda: [R(2, 3, 5)]),
    "LayerNorm": (lambda: nn.LayerNorm(6), lambda: [R(2, 3, 6)]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda: [R(2, 4, 3)]),
    "RMSNorm": (lambda: nn.RMSNorm(5), lambda: [R(2, 5)]),
    "Dropout": (lambda: nn.Dropout(0.3), lambda: [R(4, 5)]),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), lambda: [R(2, 3, 2, 2)]),
    "Embedding": (lambda: nn.Embedding(10, 4), lambda: [_idx([1, 2, 0], [4, 9, 9])]),
    "Embedding_padding_freq": (lambda: nn.Embedding(10, 4, padding_idx=0, scale_grad_by_freq=True),
                               lambda: [_idx([1, 2, 0], [4, 9, 9])]),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                           lambda: [R(2, 3, 8), R(2, 4, 8), R(2, 4, 8)]),
    "TransformerEncoderLayer": (
        lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True),
        lambda: [R(2, 3, 8)]),
    "TransformerDecoderLayer": (
        lambda: nn.TransformerDecoderLayer(8, 2, 16, dropout=0.1, norm_first=True),
        lambda: [R(3, 2, 8), R(4, 2, 8)]),
    "LSTM": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True), lambda: [R(2, 3, 4)]),
    "GRU": (lambda: nn.GRU(4, 5, bidirectional=True), lambda: [R(3, 2, 4)]),
    "RNN": (lambda: nn.RNN(3, 4), lambda: [R(2, 1, 3)]),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), lambda: [R(1, 2, 4, 4)]),
    "AvgPool2d": (lambda: nn.AvgPool2d(3, stride=2, padding=1), lambda: [R(1, 2, 5, 5)]),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(2), lambda: [R(1, 2, 5, 5)]),
    "Upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), lambda: [R(1, 2, 3, 3)]),
    "PReLU": (lambda: nn.PReLU(3), lambda: [R(2, 3)]),
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 2),
                                         nn.LogSoftmax(-1)), lambda: [R(3, 4)]),
}

ACTIVATIONS = ["ReLU", "GELU", "SiLU", "Tanh", "Sigmoid", "ELU", "LeakyReLU", "Softplus",
               "Mish", "Hardswish", "Softsign", "Softmax", "LogSoftmax"]

LOSSES = {
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1),
                         lambda: [R(4, 5), ember.tensor([0, 4, 2, 1])]),
    "CrossEntropyLoss_ignore": (lambda: nn.CrossEntropyLoss(ignore_index=2),
                                lambda: [R(4, 5), ember.tensor([0, 4, 2, 1])]),
    "NLLLoss": (lambda: nn.NLLLoss(), lambda: [R(3, 4).log_softmax(-1), ember.tensor([1, 0, 3])]),
    "MSELoss": (lambda: nn.MSELoss(), lambda: [R(4, 5), R(4, 5)]),
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), lambda: [R(4, 5), R(4, 5)]),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(), lambda: [R(4, 5), R(4, 5)]),
    "HuberLoss": (lambda: nn.HuberLoss(delta=0.5), lambda: [R(4, 5), R(4, 5)]),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(), lambda: [R(4, 5), ember.rand(4, 5)]),
    "BCELoss": (lambda: nn.BCELoss(), lambda: [ember.rand(4, 5) * 0.8 + 0.1, ember.rand(4, 5)]),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean"),
                  lambda: [R(3, 4).log_softmax(-1), R(3, 4).softmax(-1)]),
    "CosineEmbeddingLoss": (lambda: nn.CosineEmbeddingLoss(),
                            lambda: [R(3, 4), R(3, 4), ember.tensor([1.0, -1.0, 1.0])]),
}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer(name, train):
    ember.manual_seed(0)
    make, inputs = LAYERS[name]
    check_module(make(), inputs(), train, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(name):
    ember.manual_seed(0)
    mod = getattr(nn, name)(-1) if name in ("Softmax", "LogSoftmax") else getattr(nn, name)()
    check_module(mod, [R(3, 4)], True)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss(name):
    ember.manual_seed(0)
    make, inputs = LOSSES[name]
    check_module(make(), inputs(), True)


def test_batchnorm_train_updates_running_stats_like_eager_without_grad():
    bn = nn.BatchNorm2d(3)
    x = R(2, 3, 4, 4)
    traced = ember.jit.trace(bn, (x,))
    bn.reset_running_stats()
    with ember.no_grad():
        traced(x)
    got = (bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked))
    bn.reset_running_stats()
    with ember.no_grad():
        bn(x)
    assert ember.allclose(got[0], bn.running_mean) and ember.allclose(got[1], bn.running_var)
    assert got[2] == int(bn.num_batches_tracked) == 1
