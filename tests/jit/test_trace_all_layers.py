"""Trace == eager for every layer and loss `ember.nn` exports, in train and eval mode.

One table row per exported nn.Module class (a class may have several rows for configs that
take different paths); `test_table_covers_every_layer` fails when a new layer has no row.
Each row is traced (strict) in the given mode and called twice from the same state and the
same random seed as eager (so dropout masks match); outputs, gradients of floating inputs
and of parameters (after backward through the traced call) and buffers must agree.

Layers whose data dependence is inherent (CTC lengths, packed sequences, offsets-driven
bags, one_hot without num_classes) are in DATA_DEPENDENT: strict tracing must raise a
TracingError naming the user line, and strict=False must trace with a TracerWarning and
still agree with eager on the example, in train and eval mode. The pointwise activations'
kinks are checked against PyTorch directly (eager, and graph autodiff through the traced
call)."""
import re
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import TracerWarning, TracingError

from _harness import _leaves, _same, _state

R = ember.randn

# containers hold no computation of their own; the bases are abstract (no forward)
EXCLUDED = {
    "Module": "abstract base: no forward",
    "RNNBase": "abstract base of RNN/LSTM/GRU (covered by those rows)",
    "RNNCellBase": "abstract base of RNNCell/LSTMCell/GRUCell (covered by those rows)",
    "ModuleList": "container without forward",
    "ModuleDict": "container without forward",
    "ParameterList": "container without forward",
    "ParameterDict": "container without forward",
}

# every threshold the activation rows below use, hit exactly (plus points in between)
KINKS = [[-3.0, -1.0, -0.5, -0.3, 0.0, 0.3, 0.5, 1.0],
         [3.0, 6.0, 0.1, 1.5, -2.0, 2.0, 0.75, -0.75]]


def _kinks():
    return [ember.tensor(KINKS)]


def _i(*rows):
    return ember.tensor(list(rows))


def _pooled(dims):
    """(values, indices) of a 2-pooling, the inputs of MaxUnpool{dims}d."""
    x = R(1, 2, *([4] * dims))
    return list(getattr(F, f"max_pool{dims}d")(x, 2, return_indices=True))


def _logp(*shape, dim=1):
    return R(*shape).log_softmax(dim)


def _enc_layer():
    return nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1)


def _dec_layer():
    return nn.TransformerDecoderLayer(8, 2, 16, dropout=0.1)


def _seen(bn, *shape):
    """bn after two training batches (num_batches_tracked 2, so the traced call's cumulative
    factor is 1/3, not 1)."""
    with ember.no_grad():
        for _ in range(2):
            bn(R(*shape) * 2 + 1)
    return bn


def _act(cls, *args):
    return (lambda: getattr(nn, cls)(*args), _kinks)


# name (class, or class/variant) -> (constructor, example inputs)
ROWS = {
    # activations: all on the kink points
    "Threshold": _act("Threshold", 0.1, 20.0),
    "ReLU": _act("ReLU"),
    "RReLU": _act("RReLU", 0.1, 0.3),
    "Hardtanh": _act("Hardtanh", -0.5, 0.5),
    "ReLU6": _act("ReLU6"),
    "Sigmoid": _act("Sigmoid"),
    "Hardsigmoid": _act("Hardsigmoid"),
    "Tanh": _act("Tanh"),
    "SiLU": _act("SiLU"),
    "Mish": _act("Mish"),
    "Hardswish": _act("Hardswish"),
    "ELU": _act("ELU", 0.7),
    "CELU": _act("CELU", 1.3),
    "SELU": _act("SELU"),
    "GLU": _act("GLU", -1),
    "GELU": _act("GELU"),
    "GELU/tanh": _act("GELU", "tanh"),
    "Hardshrink": _act("Hardshrink", 0.3),
    "LeakyReLU": _act("LeakyReLU", 0.2),
    "LogSigmoid": _act("LogSigmoid"),
    "Softplus": _act("Softplus", 2.0, 1.5),
    "Softshrink": _act("Softshrink", 0.3),
    "PReLU": (lambda: nn.PReLU(8), _kinks),
    "Softsign": _act("Softsign"),
    "Tanhshrink": _act("Tanhshrink"),
    "Softmin": _act("Softmin", 1),
    "Softmax": _act("Softmax", -1),
    "Softmax2d": (nn.Softmax2d, lambda: [R(2, 3, 2, 2)]),
    "LogSoftmax": _act("LogSoftmax", 0),
    # attention / transformer
    "MultiheadAttention": (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
                           lambda: [R(2, 3, 8), R(2, 4, 8), R(2, 4, 8)]),
    "MultiheadAttention/kdim": (lambda: nn.MultiheadAttention(8, 2, kdim=4, vdim=6),
                                lambda: [R(3, 2, 8), R(4, 2, 4), R(4, 2, 6)]),
    "Transformer": (lambda: nn.Transformer(8, 2, 1, 1, 16, dropout=0.1),
                    lambda: [R(3, 2, 8), R(4, 2, 8)]),
    "TransformerEncoder": (lambda: nn.TransformerEncoder(_enc_layer(), 2,
                                                         enable_nested_tensor=False),
                           lambda: [R(3, 2, 8)]),
    "TransformerDecoder": (lambda: nn.TransformerDecoder(_dec_layer(), 2),
                           lambda: [R(3, 2, 8), R(4, 2, 8)]),
    "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16, 0.1, "gelu",
                                                                   batch_first=True),
                                lambda: [R(2, 3, 8)]),
    "TransformerDecoderLayer": (lambda: nn.TransformerDecoderLayer(8, 2, 16, 0.1,
                                                                   norm_first=True),
                                lambda: [R(3, 2, 8), R(4, 2, 8)]),
    # normalization
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), lambda: [R(4, 3)]),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), lambda: [R(2, 3, 3, 3)]),
    "BatchNorm3d": (lambda: nn.BatchNorm3d(2, affine=False), lambda: [R(2, 2, 2, 2, 2)]),
    # momentum=None: cumulative average, its factor 1 / count computed in the graph
    "BatchNorm1d/cumulative": (lambda: _seen(nn.BatchNorm1d(3, momentum=None), 4, 3),
                               lambda: [R(4, 3)]),
    "BatchNorm2d/cumulative": (lambda: _seen(nn.BatchNorm2d(3, momentum=None), 2, 3, 2, 2),
                               lambda: [R(2, 3, 2, 2)]),
    "InstanceNorm1d": (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                       lambda: [R(2, 3, 5)]),
    "InstanceNorm2d": (lambda: nn.InstanceNorm2d(3), lambda: [R(2, 3, 3, 3)]),
    "InstanceNorm3d": (lambda: nn.InstanceNorm3d(2, affine=True), lambda: [R(1, 2, 2, 3, 2)]),
    "LayerNorm": (lambda: nn.LayerNorm([3, 4]), lambda: [R(2, 3, 4)]),
    "GroupNorm": (lambda: nn.GroupNorm(2, 4), lambda: [R(2, 4, 3)]),
    "RMSNorm": (lambda: nn.RMSNorm(5), lambda: [R(2, 5)]),
    "LocalResponseNorm": (lambda: nn.LocalResponseNorm(3), lambda: [R(2, 4, 3, 3)]),
    # containers with a forward, linear, conv
    "Sequential": (lambda: nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Dropout(0.2),
                                         nn.Linear(6, 2)), lambda: [R(3, 4)]),
    "Identity": (nn.Identity, lambda: [R(2, 3)]),
    "Linear": (lambda: nn.Linear(4, 3), lambda: [R(2, 4)]),
    "Bilinear": (lambda: nn.Bilinear(3, 4, 2), lambda: [R(2, 3), R(2, 4)]),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding="same", dilation=2), lambda: [R(2, 2, 6)]),
    "Conv2d": (lambda: nn.Conv2d(2, 4, 3, padding=1, stride=2, groups=2,
                                 padding_mode="reflect"), lambda: [R(2, 2, 5, 5)]),
    "Conv3d": (lambda: nn.Conv3d(1, 2, 2), lambda: [R(1, 1, 3, 3, 3)]),
    "ConvTranspose1d": (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1),
                        lambda: [R(1, 2, 4)]),
    "ConvTranspose2d": (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, groups=2),
                        lambda: [R(1, 2, 3, 3)]),
    "ConvTranspose3d": (lambda: nn.ConvTranspose3d(1, 2, 2), lambda: [R(1, 1, 2, 2, 2)]),
    # distances, dropout, shape layers
    "PairwiseDistance": (nn.PairwiseDistance, lambda: [R(3, 4), R(3, 4)]),
    "CosineSimilarity": (lambda: nn.CosineSimilarity(1), lambda: [R(3, 4), R(3, 4)]),
    "Dropout": (lambda: nn.Dropout(0.3), lambda: [R(4, 5)]),
    "Dropout1d": (lambda: nn.Dropout1d(0.5), lambda: [R(2, 3, 4)]),
    "Dropout2d": (lambda: nn.Dropout2d(0.5), lambda: [R(2, 3, 2, 2)]),
    "Dropout3d": (lambda: nn.Dropout3d(0.5), lambda: [R(2, 3, 2, 2, 1)]),
    "AlphaDropout": (lambda: nn.AlphaDropout(0.3), lambda: [R(4, 5)]),
    "FeatureAlphaDropout": (lambda: nn.FeatureAlphaDropout(0.3), lambda: [R(2, 3, 2, 2)]),
    "Flatten": (nn.Flatten, lambda: [R(2, 3, 4)]),
    "Unflatten": (lambda: nn.Unflatten(1, (2, 2)), lambda: [R(3, 4)]),
    "Fold": (lambda: nn.Fold((3, 3), 2), lambda: [R(1, 8, 4)]),
    "Unfold": (lambda: nn.Unfold(2, padding=1, stride=2), lambda: [R(1, 2, 3, 3)]),
    "PixelShuffle": (lambda: nn.PixelShuffle(2), lambda: [R(1, 4, 2, 3)]),
    "PixelUnshuffle": (lambda: nn.PixelUnshuffle(2), lambda: [R(1, 1, 4, 2)]),
    "Upsample": (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), lambda: [R(1, 2, 2, 3)]),
    "Upsample/nearest": (lambda: nn.Upsample(size=(3, 5)), lambda: [R(1, 2, 2, 3)]),
    "UpsamplingNearest2d": (lambda: nn.UpsamplingNearest2d(scale_factor=2),
                            lambda: [R(1, 2, 2, 2)]),
    "UpsamplingBilinear2d": (lambda: nn.UpsamplingBilinear2d(scale_factor=2),
                             lambda: [R(1, 2, 2, 2)]),
    # padding
    **{f"{kind}Pad{d}d": ((lambda kind=kind, d=d: getattr(nn, f"{kind}Pad{d}d")(1)),
                          (lambda d=d: [R(1, 2, *([3] * d))]))
       for kind in ("Circular", "Reflection", "Replication", "Zero") for d in (1, 2, 3)},
    **{f"ConstantPad{d}d": ((lambda d=d: getattr(nn, f"ConstantPad{d}d")(1, 0.5)),
                            (lambda d=d: [R(1, 2, *([2] * d))])) for d in (1, 2, 3)},
    # pooling
    **{f"MaxPool{d}d": ((lambda d=d: getattr(nn, f"MaxPool{d}d")(2, stride=1)),
                        (lambda d=d: [R(1, 2, *([3] * d))])) for d in (1, 2, 3)},
    **{f"MaxUnpool{d}d": ((lambda d=d: getattr(nn, f"MaxUnpool{d}d")(2)),
                          (lambda d=d: _pooled(d))) for d in (1, 2, 3)},
    **{f"AvgPool{d}d": ((lambda d=d: getattr(nn, f"AvgPool{d}d")(3, 2, 1)),
                        (lambda d=d: [R(1, 2, *([4] * d))])) for d in (1, 2, 3)},
    **{f"LPPool{d}d": ((lambda d=d: getattr(nn, f"LPPool{d}d")(2, 2)),
                       (lambda d=d: [R(1, 2, *([4] * d))])) for d in (1, 2, 3)},
    **{f"Adaptive{k}Pool{d}d": ((lambda k=k, d=d: getattr(nn, f"Adaptive{k}Pool{d}d")(2)),
                                (lambda d=d: [R(1, 2, *([5] * d))]))
       for k in ("Max", "Avg") for d in (1, 2, 3)},
    "MaxPool2d/indices": (lambda: nn.MaxPool2d(2, return_indices=True, ceil_mode=True),
                          lambda: [R(1, 2, 5, 5)]),
    # recurrent
    "RNN": (lambda: nn.RNN(3, 4, nonlinearity="relu"), lambda: [R(2, 1, 3)]),
    "LSTM": (lambda: nn.LSTM(4, 5, num_layers=2, batch_first=True, dropout=0.3),
             lambda: [R(2, 3, 4)]),
    "LSTM/proj": (lambda: nn.LSTM(3, 4, proj_size=2, bidirectional=True), lambda: [R(2, 2, 3)]),
    "GRU": (lambda: nn.GRU(4, 5, bidirectional=True), lambda: [R(3, 2, 4), R(2, 2, 5)]),
    "RNNCell": (lambda: nn.RNNCell(3, 4), lambda: [R(2, 3), R(2, 4)]),
    "LSTMCell": (lambda: nn.LSTMCell(3, 4), lambda: [R(2, 3), (R(2, 4), R(2, 4))]),
    "GRUCell": (lambda: nn.GRUCell(3, 4), lambda: [R(3)]),
    # sparse
    "Embedding": (lambda: nn.Embedding(10, 4, padding_idx=0, scale_grad_by_freq=True),
                  lambda: [_i([1, 2, 0], [4, 9, 9])]),
    "Embedding/max_norm": (lambda: nn.Embedding(10, 4, max_norm=1.0),
                           lambda: [_i([1, 2, 0], [4, 9, 9])]),
    "EmbeddingBag": (lambda: nn.EmbeddingBag(10, 3, mode="max"), lambda: [_i([1, 2, 0], [4, 9, 9])]),
    "EmbeddingBag/weights": (lambda: nn.EmbeddingBag(10, 3, mode="sum"),
                             lambda: [_i([1, 2, 0], [4, 9, 9]), None, ember.rand(2, 3)]),
    # losses
    "L1Loss": (lambda: nn.L1Loss(reduction="sum"), lambda: [R(4, 5), R(4, 5)]),
    "NLLLoss": (lambda: nn.NLLLoss(weight=ember.rand(4) + 0.5, ignore_index=1),
                lambda: [_logp(3, 4), ember.tensor([1, 0, 3])]),
    "NLLLoss2d": (nn.NLLLoss2d, lambda: [_logp(2, 3, 2, 2), ember.tensor([[[0, 1], [2, 2]]] * 2)]),
    "PoissonNLLLoss": (nn.PoissonNLLLoss, lambda: [R(3, 4), ember.rand(3, 4) * 3]),
    "PoissonNLLLoss/full": (lambda: nn.PoissonNLLLoss(log_input=False, full=True),
                            lambda: [ember.rand(3, 4) + 0.1, ember.rand(3, 4) * 3]),
    "GaussianNLLLoss": (nn.GaussianNLLLoss, lambda: [R(3, 4), R(3, 4), ember.rand(3, 4) + 0.1]),
    "KLDivLoss": (lambda: nn.KLDivLoss(reduction="batchmean"),
                  lambda: [_logp(3, 4), R(3, 4).softmax(-1)]),
    "KLDivLoss/log_target": (lambda: nn.KLDivLoss(log_target=True),
                             lambda: [_logp(3, 4), _logp(3, 4)]),
    "MSELoss": (nn.MSELoss, lambda: [R(4, 5), R(4, 5)]),
    "BCELoss": (nn.BCELoss, lambda: [ember.rand(4, 5) * 0.8 + 0.1, ember.rand(4, 5)]),
    "BCEWithLogitsLoss": (lambda: nn.BCEWithLogitsLoss(pos_weight=ember.rand(5) + 0.5),
                          lambda: [R(4, 5), ember.rand(4, 5)]),
    "HingeEmbeddingLoss": (lambda: nn.HingeEmbeddingLoss(0.5),
                           lambda: [R(3, 4), ember.tensor([[1.0, -1.0, 1.0, -1.0]] * 3)]),
    "MultiLabelMarginLoss": (nn.MultiLabelMarginLoss,
                             lambda: [R(2, 4), _i([3, 0, -1, 1], [1, 2, 3, -1])]),
    "SmoothL1Loss": (lambda: nn.SmoothL1Loss(beta=0.5), lambda: [R(4, 5), R(4, 5)]),
    "HuberLoss": (lambda: nn.HuberLoss(delta=0.5), lambda: [R(4, 5), R(4, 5)]),
    "SoftMarginLoss": (nn.SoftMarginLoss, lambda: [R(3, 4), R(3, 4).sign()]),
    "CrossEntropyLoss": (lambda: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=2),
                         lambda: [R(4, 5), ember.tensor([0, 4, 2, 1])]),
    "CrossEntropyLoss/probs": (lambda: nn.CrossEntropyLoss(weight=ember.rand(5) + 0.5),
                               lambda: [R(4, 5), R(4, 5).softmax(-1)]),
    "CrossEntropyLoss/2d": (nn.CrossEntropyLoss,
                            lambda: [R(2, 3, 2), ember.tensor([[0, 2], [1, 1]])]),
    "MultiLabelSoftMarginLoss": (nn.MultiLabelSoftMarginLoss,
                                 lambda: [R(3, 4), (ember.rand(3, 4) > 0.5).float()]),
    "CosineEmbeddingLoss": (lambda: nn.CosineEmbeddingLoss(0.2),
                            lambda: [R(3, 4), R(3, 4), ember.tensor([1.0, -1.0, 1.0])]),
    "MarginRankingLoss": (lambda: nn.MarginRankingLoss(0.1),
                          lambda: [R(4), R(4), ember.tensor([1.0, -1.0, -1.0, 1.0])]),
    "MultiMarginLoss": (lambda: nn.MultiMarginLoss(p=2, weight=ember.rand(4) + 0.5),
                        lambda: [R(3, 4), ember.tensor([3, 0, 1])]),
    "TripletMarginLoss": (lambda: nn.TripletMarginLoss(swap=True),
                          lambda: [R(3, 4), R(3, 4), R(3, 4)]),
    "TripletMarginWithDistanceLoss": (
        lambda: nn.TripletMarginWithDistanceLoss(
            distance_function=lambda a, b: 1.0 - F.cosine_similarity(a, b)),
        lambda: [R(3, 4), R(3, 4), R(3, 4)]),
}


def _ctc_inputs():
    logp = _logp(5, 2, 4, dim=-1)
    return [logp, _i([1, 2, 3], [2, 2, 0]), ember.tensor([5, 4]), ember.tensor([3, 2])]


class _PackedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, _ = self.lstm(packed)
        return nn.utils.rnn.pad_packed_sequence(out)[0]


def _module(m):
    return m, m


def _one_hot():
    return None, lambda idx: F.one_hot(idx) * 1.5


# inherent data dependence: name -> (make () -> (module or None, fn), example inputs)
DATA_DEPENDENT = {
    "CTCLoss": (lambda: _module(nn.CTCLoss()), _ctc_inputs),
    "LSTM/packed": (lambda: _module(_PackedLSTM()), lambda: [R(3, 2, 3), ember.tensor([3, 2])]),
    "EmbeddingBag/offsets": (lambda: _module(nn.EmbeddingBag(10, 3, mode="mean")),
                             lambda: [ember.tensor([1, 2, 0, 4, 9]), ember.tensor([0, 2])]),
    "one_hot/-1": (_one_hot, lambda: [ember.tensor([0, 3, 1])]),
}

# rows known to differ, with the reason (strict xfail: they fail the run once fixed)
KNOWN_GAPS = {}

# tolerances wider than the default, with the reason
TOLERANCE = {}


def _rows(names):
    return [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_GAPS[n], strict=True))
            if n in KNOWN_GAPS else n for n in sorted(names)]


# ---------------------------------------------------------------- the runner

def _map(obj, fn):
    if isinstance(obj, ember.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map(o, fn) for o in obj)
    return obj


def _run(fn, module, inputs, seed):
    """Outputs, input grads, parameter grads and buffers after one forward + backward."""
    ember.manual_seed(seed)
    ins = _map(inputs, lambda t: t.detach().clone().requires_grad_(t.dtype.is_floating_point))
    params = list(module.parameters()) if module is not None else []
    for p in params:
        p.grad = None
    outs = _leaves(fn(*ins))
    loss = sum((o.double() * (k + 1.0)).sin().sum() for k, o in enumerate(outs)
               if o.requires_grad)
    if isinstance(loss, ember.Tensor):
        loss.backward()
    grads = [t.grad for t in _leaves(ins) if t.requires_grad]
    pgrads = [p.grad for p in params]
    bufs = [b.detach().clone() for b in module.buffers()] if module is not None else []
    return [o.detach() for o in outs], grads, pgrads, bufs


def _check(module, fn, inputs, train, strict=True, tol=(1e-5, 1e-6)):
    if module is not None:
        module.train(train)
    start = _state(module) if module is not None else {}
    traced = ember.jit.trace(fn, tuple(inputs), strict=strict)
    for seed in range(2):   # the second call reuses the graph and its gradient plan
        for name, run in (("eager", fn), ("traced", traced)):
            if module is not None:
                module.load_state_dict(start)
            got = _run(run, module, inputs, seed)
            if name == "eager":
                want = got
        for what, a, b in zip(("output", "input grad", "param grad", "buffer"), want, got):
            _same(a, b, *tol, what)


def _double(module, inputs):
    """float64 everywhere, so gradients compare tightly."""
    return module.double(), _map(inputs, lambda t: t.double() if t.dtype.is_floating_point
                                 else t)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", _rows(ROWS))
def test_layer(name, train):
    ember.manual_seed(0)
    make, inputs = ROWS[name]
    module, ins = _double(make(), inputs())
    _check(module, module, ins, train, tol=TOLERANCE.get(name, (1e-7, 1e-9)))


def test_table_covers_every_layer():
    exported = {n for n in nn.modules.__all__
                if isinstance(getattr(nn, n), type) and issubclass(getattr(nn, n), nn.Module)}
    covered = {n.split("/")[0] for n in list(ROWS) + list(DATA_DEPENDENT)}
    missing = exported - covered - set(EXCLUDED)
    assert not missing, f"layers without a trace-vs-eager row: {sorted(missing)}"
    assert covered - exported <= {"one_hot"}, covered - exported
    assert set(EXCLUDED) <= exported


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", _rows(DATA_DEPENDENT))
def test_data_dependent_layer(name, train):
    ember.manual_seed(0)
    make, inputs = DATA_DEPENDENT[name]
    module, fn = make()
    if module is not None:
        module.double()
    ins = _map(inputs(), lambda t: t.double() if t.dtype.is_floating_point else t)
    with pytest.raises(TracingError) as err:
        ember.jit.trace(fn, tuple(ins))
    # the message names a line of user code (this file), not a line inside ember
    assert re.search(r"test_trace_all_layers\.py:\d+", str(err.value)), str(err.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _check(module, fn, ins, train, strict=False, tol=(1e-7, 1e-9))
    assert any(issubclass(w.category, TracerWarning) for w in caught)


# ---------------------------------------------------------------- kinks vs PyTorch

POINTWISE = {   # functional name -> kwargs; KINKS holds each one's thresholds
    "threshold": dict(threshold=0.1, value=20.0),
    "relu": {}, "relu6": {}, "hardtanh": dict(min_val=-0.5, max_val=0.5),
    "hardsigmoid": {}, "hardswish": {}, "elu": dict(alpha=0.7), "celu": dict(alpha=1.3),
    "selu": {}, "leaky_relu": dict(negative_slope=0.2), "mish": {}, "logsigmoid": {},
    "softplus": dict(beta=2.0, threshold=1.5), "hardshrink": dict(lambd=0.3),
    "softshrink": dict(lambd=0.3), "silu": {}, "gelu": {}, "softsign": {}, "tanhshrink": {},
}


def _torch_grad(name, kw, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = getattr(torch.nn.functional, name)(t, **kw)
    (g,) = torch.autograd.grad((y * y.detach().cos()).sum(), t)
    return y, g


@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_kinks_match_torch(name):
    kw = POINTWISE[name]
    fn = getattr(F, name)
    x = np.array(KINKS, np.float64).ravel()
    _, tg = _torch_grad(name, kw, x)

    def f(t):
        y = fn(t, **kw)
        return y * y.detach().cos()
    traced = ember.jit.trace(f, (ember.tensor(x),))
    for run in (f, traced):
        e = ember.tensor(x, requires_grad=True)
        run(e).sum().backward()
        np.testing.assert_allclose(e.grad.numpy(), tg.numpy(), rtol=1e-7, atol=1e-12,
                                   err_msg=f"{name} via {'eager' if run is f else 'trace'}")
    # under create_graph the gradient runs through the composite: the first derivative
    # is PyTorch's at the kinks, and the second one is PyTorch's off them (exactly at a kink
    # PyTorch's double backward is not consistent with its own first derivative, e.g. elu
    # masks x <= 0 in the first and x < 0 in the second)
    for pts, order in ((x, 1), (x + 0.0123, 2)):
        t = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
        (tg1,) = torch.autograd.grad(getattr(torch.nn.functional, name)(t, **kw).sum(), t,
                                     create_graph=True)
        e = ember.tensor(pts, requires_grad=True)
        (g1,) = ember.autograd.grad(fn(e, **kw).sum(), e, create_graph=True)
        want, got = tg1.detach().numpy(), g1.detach().numpy()
        if order == 2:
            try:
                want = torch.autograd.grad(tg1.sum(), t)[0].numpy() if tg1.requires_grad \
                    else np.zeros_like(pts)
            except RuntimeError:  # PyTorch has no double backward for this one
                continue
            got = ember.autograd.grad(g1.sum(), e)[0].numpy() if g1.requires_grad \
                else np.zeros_like(pts)
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12, err_msg=f"order {order}")
