"""RNN, LSTM, GRU and their cells vs torch with identical weights: outputs, final states,
input/state gradients and parameter gradients; padded, unbatched and packed input; errors."""
import math
import warnings

import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as TU

import ember
import ember.nn as enn
from ember.nn.utils import rnn as EU

IN, H, T, B = 4, 5, 5, 3


def _np(t):
    return t.detach().numpy()


def _close(e, t, tol):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol)


def _twins(cls, dtype="float64", **kw):
    """The same module in torch and ember, ember loaded from torch's state dict."""
    tm = getattr(torch.nn, cls)(IN, H, **kw).to(getattr(torch, dtype))
    em = getattr(enn, cls)(IN, H, **kw).to(getattr(ember, dtype))
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return em, tm


def _leaf(a, dtype="float64"):
    e = ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=True)
    t = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
    return e, t


def _as_tuple(h):
    return tuple(h) if isinstance(h, tuple) else (h,)


def _backward_and_compare(em, tm, outs_e, outs_t, leaves, tol):
    """Weighted sum of every output (so each gets a distinct gradient), backward, compare."""
    rng = np.random.default_rng(7)
    le = lt = 0
    for oe, ot in zip(outs_e, outs_t):
        _close(oe, ot, tol)
        w = rng.standard_normal(tuple(ot.shape))
        le = le + (oe * ember.tensor(w, dtype=oe.dtype)).sum()
        lt = lt + (ot * torch.tensor(w, dtype=ot.dtype)).sum()
    le.backward()
    lt.backward()
    for e, t in leaves:
        _close(e.grad, t.grad, tol)
    for (name, pt), (_, pe) in zip(tm.named_parameters(), em.named_parameters()):
        assert pe.grad is not None, name
        _close(pe.grad, pt.grad, tol)


MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("LSTM", {"proj_size": 3}),
         ("GRU", {})]
CONFIGS = [{}, {"num_layers": 2, "bidirectional": True},
           {"num_layers": 2, "batch_first": True, "bias": False},
           {"bidirectional": True, "batch_first": True}]


def _initial_state(cls, kw, batch, rng):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h = kw.get("proj_size") or H
    shapes = [(layers, batch, h)] + ([(layers, batch, H)] if cls == "LSTM" else [])
    return [rng.standard_normal(s) for s in shapes]


def _pack_state(states):
    """Ember/torch leaves for the initial state, in each module's calling convention."""
    leaves = [_leaf(s) for s in states]
    if len(leaves) == 1:
        return leaves, leaves[0][0], leaves[0][1]
    return leaves, tuple(e for e, _ in leaves), tuple(t for _, t in leaves)


@pytest.mark.parametrize("cls,mode_kw", MODES)
@pytest.mark.parametrize("config,with_h0", [(c, True) for c in CONFIGS] + [(CONFIGS[0], False)])
def test_padded_matches_torch(cls, mode_kw, config, with_h0):
    em, tm = _twins(cls, **mode_kw, **config)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, IN) if config.get("batch_first") else (T, B, IN))
    xe, xt = _leaf(x)
    leaves = [(xe, xt)]
    args_e, args_t = (xe,), (xt,)
    if with_h0:
        hl, he, ht = _pack_state(_initial_state(cls, {**mode_kw, **config}, B, rng))
        leaves += hl
        args_e, args_t = (xe, he), (xt, ht)
    oe, se = em(*args_e)
    ot, st = tm(*args_t)
    _backward_and_compare(em, tm, (oe, *_as_tuple(se)), (ot, *_as_tuple(st)), leaves, 1e-10)


@pytest.mark.parametrize("cls,mode_kw", MODES)
@pytest.mark.parametrize("config", [{"num_layers": 2, "bidirectional": True},
                                    {"batch_first": True}])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 4, 2], True), ([2, 5, 4], False)])
def test_packed_matches_torch(cls, mode_kw, config, lengths, enforce_sorted):
    em, tm = _twins(cls, **mode_kw, **config)
    bf = config.get("batch_first", False)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, IN) if bf else (T, B, IN))
    xe, xt = _leaf(x)
    hl, he, ht = _pack_state(_initial_state(cls, {**mode_kw, **config}, B, rng))
    pe = EU.pack_padded_sequence(xe, lengths, bf, enforce_sorted)
    pt = TU.pack_padded_sequence(xt, lengths, bf, enforce_sorted)
    ope, se = em(pe, he)
    opt, st = tm(pt, ht)
    assert isinstance(ope, EU.PackedSequence)
    assert ope.batch_sizes.tolist() == opt.batch_sizes.tolist()
    oe, _ = EU.pad_packed_sequence(ope, bf)
    ot, _ = TU.pad_packed_sequence(opt, bf)
    _backward_and_compare(em, tm, (oe, *_as_tuple(se)), (ot, *_as_tuple(st)),
                          [(xe, xt)] + hl, 1e-10)


@pytest.mark.parametrize("cls,mode_kw", [("RNN", {}), ("LSTM", {}), ("GRU", {})])
def test_packed_without_h0(cls, mode_kw):
    em, tm = _twins(cls, **mode_kw)
    seqs = [np.random.default_rng(n).standard_normal((n, IN)) for n in (2, 5, 3)]
    pe = EU.pack_sequence([ember.tensor(s) for s in seqs], enforce_sorted=False)
    pt = TU.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    (oe, se), (ot, st) = em(pe), tm(pt)
    _close(oe.data, ot.data, 1e-10)
    for a, b in zip(_as_tuple(se), _as_tuple(st)):
        _close(a, b, 1e-10)


@pytest.mark.parametrize("cls,mode_kw", MODES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_matches_torch(cls, mode_kw, batch_first):
    config = {"num_layers": 2, "bidirectional": True, "batch_first": batch_first}
    em, tm = _twins(cls, **mode_kw, **config)
    rng = np.random.default_rng(2)
    xe, xt = _leaf(rng.standard_normal((T, IN)))
    hl, he, ht = _pack_state([s[:, 0] for s in _initial_state(cls, {**mode_kw, **config}, 1,
                                                              rng)])
    oe, se = em(xe, he)
    ot, st = tm(xt, ht)
    _backward_and_compare(em, tm, (oe, *_as_tuple(se)), (ot, *_as_tuple(st)),
                          [(xe, xt)] + hl, 1e-10)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_float32(cls):
    em, tm = _twins(cls, dtype="float32", num_layers=2, bidirectional=True)
    xe, xt = _leaf(np.random.default_rng(3).standard_normal((T, B, IN)), "float32")
    oe, se = em(xe)
    ot, st = tm(xt)
    assert oe.dtype == ember.float32
    _backward_and_compare(em, tm, (oe, *_as_tuple(se)), (ot, *_as_tuple(st)), [(xe, xt)], 2e-5)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(cls):
    """dropout=1 in training zeroes the second layer's input, so its output is the second
    layer run on zeros; in eval mode dropout is off and the result matches torch."""
    em, tm = _twins(cls, num_layers=2, dropout=1.0)
    x = np.random.default_rng(4).standard_normal((T, B, IN))
    em.eval()
    tm.eval()
    _close(em(ember.tensor(x))[0], tm(torch.tensor(x))[0], 1e-10)
    em.train()
    out, state = em(ember.tensor(x))
    second = getattr(torch.nn, cls)(H, H).double()
    second.load_state_dict({k.replace("l1", "l0"): v for k, v in tm.state_dict().items()
                            if "l1" in k})
    want, _ = second(torch.zeros(T, B, H, dtype=torch.float64))
    _close(out, want, 1e-10)


def test_dropout_warning_and_config_errors():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        enn.LSTM(IN, H, dropout=0.5)
    cases = [
        (lambda nn: nn.LSTM(IN, H, dropout=1.5), ValueError),
        (lambda nn: nn.GRU(IN, H, bias=1), TypeError),
        (lambda nn: nn.RNN(IN, 0), ValueError),
        (lambda nn: nn.RNN(IN, H, nonlinearity="sigmoid"), ValueError),
        (lambda nn: nn.GRU(IN, H, proj_size=2), ValueError),
        (lambda nn: nn.LSTM(IN, H, proj_size=H), ValueError),
        (lambda nn: nn.LSTM(IN, H, num_layers=0), ValueError),
    ]
    for build, exc in cases:
        with pytest.raises(exc) as want:
            build(torch.nn)
        with pytest.raises(exc) as got:
            build(enn)
        assert str(got.value) == str(want.value)


@pytest.mark.parametrize("call", [
    lambda m, lib: m(lib.zeros(T, B, IN + 1, dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(T, B, IN, dtype=lib.float32)),
    lambda m, lib: m(lib.zeros(T, IN, dtype=lib.float64), lib.zeros(1, 1, H, dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(T, B, IN, dtype=lib.float64), lib.zeros(1, B + 1, H,
                                                                        dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(B, IN, 1, 1, dtype=lib.float64)),
])
@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_forward_errors(cls, call):
    em, tm = _twins(cls)
    if cls == "LSTM":
        em.forward, tm.forward = _lstm_single_h(em), _lstm_single_h(tm)
    with pytest.raises(Exception) as want:
        call(tm, torch)
    with pytest.raises(type(want.value)) as got:
        call(em, ember)
    assert str(got.value).replace("ember", "torch") == str(want.value)


def _lstm_single_h(module):
    """Calls with one state tensor become (h, c) with c = h, to reuse the error cases."""
    forward = type(module).forward

    def call(input, hx=None):
        return forward(module, input, None if hx is None else (hx, hx))
    return call


def test_parameters_shapes_init_and_repr():
    em, tm = _twins("LSTM", num_layers=2, bidirectional=True, proj_size=3, batch_first=True)
    assert repr(em) == repr(tm)
    for (n1, pe), (n2, pt) in zip(em.named_parameters(), tm.named_parameters()):
        assert n1 == n2 and tuple(pe.shape) == tuple(pt.shape)
    fresh = enn.GRU(IN, 16, num_layers=2)
    bound = 1 / math.sqrt(16)
    values = np.concatenate([_np(p).ravel() for p in fresh.parameters()])
    assert values.min() >= -bound and values.max() <= bound and values.std() > bound / 3
    assert [len(w) for w in em.all_weights] == [5] * 4
    assert em._flat_weights_names == tm._flat_weights_names


CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
         ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}),
         ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("cls,kw", CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_h0", [True, False])
def test_cells_match_torch(cls, kw, batched, with_h0):
    em, tm = _twins(cls, **kw)
    rng = np.random.default_rng(5)
    lead = (B,) if batched else ()
    xe, xt = _leaf(rng.standard_normal(lead + (IN,)))
    leaves = [(xe, xt)]
    args_e, args_t = [xe], [xt]
    if with_h0:
        n = 2 if cls == "LSTMCell" else 1
        hl, he, ht = _pack_state([rng.standard_normal(lead + (H,)) for _ in range(n)])
        leaves += hl
        args_e.append(he)
        args_t.append(ht)
    oe, ot = em(*args_e), tm(*args_t)
    if repr(em) != repr(tm):
        raise AssertionError((repr(em), repr(tm)))
    _backward_and_compare(em, tm, _as_tuple(oe), _as_tuple(ot), leaves, 1e-10)


@pytest.mark.parametrize("call", [
    lambda m, lib: m(lib.zeros(B, IN + 1, dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(B, IN, dtype=lib.float64), lib.zeros(B + 1, H, dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(B, IN, dtype=lib.float64), lib.zeros(B, H + 1, dtype=lib.float64)),
    lambda m, lib: m(lib.zeros(1, B, IN, dtype=lib.float64)),
])
@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell"])
def test_cell_errors(cls, call):
    em, tm = _twins(cls)
    with pytest.raises(Exception) as want:
        call(tm, torch)
    with pytest.raises(type(want.value)) as got:
        call(em, ember)
    assert str(got.value) == str(want.value)


def test_long_sequence_gradients():
    """A 200-step sequence: gradients reach the first step, without numeric warnings."""
    m = enn.GRU(2, 3)
    x = ember.randn(200, 1, 2, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m(x)[0].sum().backward()
    assert x.grad.shape == (200, 1, 2) and float(x.grad[0].abs().sum()) > 0


@pytest.mark.parametrize("cls,mode_kw", MODES)
def test_double_backward_matches_torch(cls, mode_kw):
    """create_graph through the fused layer (it differentiates its composite form)."""
    em, tm = _twins(cls, **mode_kw, bidirectional=True)
    x = np.random.default_rng(6).standard_normal((3, 2, IN))
    xe, xt = _leaf(x)
    pe = EU.pack_padded_sequence(xe, [3, 2], enforce_sorted=False)
    pt = TU.pack_padded_sequence(xt, [3, 2], enforce_sorted=False)
    (ge,) = ember.autograd.grad((em(pe)[0].data ** 2).sum(), [xe], create_graph=True)
    (gt,) = torch.autograd.grad((tm(pt)[0].data ** 2).sum(), [xt], create_graph=True)
    _close(ge, gt, 1e-10)
    (ge ** 2).sum().backward()
    (gt ** 2).sum().backward()
    _close(xe.grad, xt.grad, 1e-9)
    for (name, pt_), (_, pe_) in zip(tm.named_parameters(), em.named_parameters()):
        _close(pe_.grad, pt_.grad, 1e-9)
