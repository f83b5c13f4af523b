"""Transformer, TransformerEncoder/Decoder and their layers vs torch with identical weights:
outputs, input grads and parameter grads (train mode with dropout 0, eval mode), masks,
norm_first, activations, batch_first, unbatched input; construction and errors."""
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as enn

E, NH, FF, S, T, B = 8, 2, 16, 5, 4, 3


def _np(t):
    return t.detach().numpy()


def _close(e, t, tol=1e-10):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol)


def _load(em, tm):
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _build(name, lib, dtype="float64", **kw):
    """torch.nn.<name> / ember.nn.<name>; layer stacks get a layer built with the same kw."""
    nn = lib.nn
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor notes, identical in both
        if name == "TransformerEncoder":
            m = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, NH, FF, 0.0, **kw), 2,
                                      nn.LayerNorm(E))
        elif name == "TransformerDecoder":
            m = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, NH, FF, 0.0, **kw), 2,
                                      nn.LayerNorm(E))
        elif name == "Transformer":
            m = nn.Transformer(E, NH, 2, 2, FF, 0.0, **kw)
        else:
            m = getattr(nn, name)(E, NH, FF, 0.0, **kw)
    return m.to(getattr(lib, dtype))


def _twins(name, dtype="float64", **kw):
    tm = _build(name, torch, dtype, **kw)
    em = _build(name, ember, dtype, **{k: _for_ember(v) for k, v in kw.items()})
    _load(em, tm)
    return em, tm


def _for_ember(v):
    """The ember counterpart of a torch activation callable."""
    if v is torch.nn.functional.silu:
        return ember.nn.functional.silu
    if isinstance(v, torch.nn.GELU):
        return enn.GELU()
    return v


def _leaf(shape, seed, dtype="float64"):
    a = np.random.default_rng(seed).standard_normal(shape)
    return (ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=True),
            torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True))


def _seq(n, batch_first, seed, batched=True, dtype="float64"):
    if not batched:
        return _leaf((n, E), seed, dtype)
    return _leaf((B, n, E) if batch_first else (n, B, E), seed, dtype)


def _masks(spec, seed):
    """Named masks as (ember, torch) pairs: 'causal_T' float (T, T); 'kpm_S' bool (B, S)..."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, kind in spec.items():
        if kind.startswith("causal"):
            n = {"S": S, "T": T}[kind[-1]]
            m = np.triu(np.full((n, n), -np.inf), 1)
        elif kind.startswith("kpm"):
            n = {"S": S, "T": T}[kind[-1]]
            m = rng.random((B, n)) < 0.3
            m[:, 0] = False
        elif kind == "bool_TS":
            m = rng.random((T, S)) < 0.3
            m[:, 0] = False
        elif kind == "float_SS":
            m = rng.standard_normal((S, S))
        out[name] = (ember.tensor(m), torch.tensor(m))
    return out


def _run(em, tm, inputs, masks, flags, mode, tol=1e-10):
    """Forward in `mode` ('train' / 'eval'), compare, backward a weighted sum, compare grads."""
    getattr(em, mode)()
    getattr(tm, mode)()
    oe = em(*(e for e, _ in inputs), **{k: v[0] for k, v in masks.items()}, **flags)
    ot = tm(*(t for _, t in inputs), **{k: v[1] for k, v in masks.items()}, **flags)
    _close(oe, ot, tol)
    w = np.random.default_rng(11).standard_normal(tuple(ot.shape))
    (oe * ember.tensor(w, dtype=oe.dtype)).sum().backward()
    (ot * torch.tensor(w, dtype=ot.dtype)).sum().backward()
    for e, t in inputs:
        _close(e.grad, t.grad, tol)
    for (name, pe), (_, pt) in zip(em.named_parameters(), tm.named_parameters()):
        _close(pe.grad, pt.grad, tol)


ACTIVATIONS = ["relu", "gelu", torch.nn.functional.silu, torch.nn.GELU()]


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_encoder_layer(norm_first, batch_first, activation, mode):
    em, tm = _twins("TransformerEncoderLayer", activation=activation, batch_first=batch_first,
                    norm_first=norm_first)
    assert em.activation_relu_or_gelu == tm.activation_relu_or_gelu
    masks = _masks({"src_key_padding_mask": "kpm_S"}, 0) if mode == "train" else {}
    _run(em, tm, [_seq(S, batch_first, 1)], masks, {}, mode)


@pytest.mark.parametrize("masks,flags", [
    ({}, {}),
    ({"mask": "causal_S"}, {}),
    ({"mask": "causal_S"}, {"is_causal": True}),
    ({"mask": "float_SS", "src_key_padding_mask": "kpm_S"}, {}),
])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack(masks, flags, batch_first):
    em, tm = _twins("TransformerEncoder", batch_first=batch_first)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about mixed bool/float masks too
        _run(em, tm, [_seq(S, batch_first, 2)], _masks(masks, 3), flags, "train")


@pytest.mark.parametrize("masks", [
    {},
    {"tgt_mask": "causal_T", "tgt_key_padding_mask": "kpm_T"},
    {"memory_mask": "bool_TS", "memory_key_padding_mask": "kpm_S"},
])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_decoder(masks, norm_first, mode):
    em, tm = _twins("TransformerDecoder", norm_first=norm_first, batch_first=True)
    inputs = [_seq(T, True, 4), _seq(S, True, 5)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about mixed bool/float masks too
        _run(em, tm, inputs, _masks(masks, 6), {}, mode)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer(batch_first, norm_first):
    em, tm = _twins("Transformer", batch_first=batch_first, norm_first=norm_first,
                    activation="gelu")
    masks = _masks({"src_key_padding_mask": "kpm_S", "memory_key_padding_mask": "kpm_S",
                    "tgt_mask": "causal_T"}, 7)
    inputs = [_seq(S, batch_first, 8), _seq(T, batch_first, 9)]
    _run(em, tm, inputs, masks, {"tgt_is_causal": True}, "train")


def test_transformer_unbatched_and_no_bias():
    em, tm = _twins("Transformer", bias=False)
    _run(em, tm, [_seq(S, False, 10, batched=False), _seq(T, False, 11, batched=False)], {}, {},
         "eval")


def test_float32():
    em, tm = _twins("Transformer", "float32", batch_first=True)
    inputs = [_seq(S, True, 12, dtype="float32"), _seq(T, True, 13, dtype="float32")]
    _run(em, tm, inputs, _masks({"tgt_mask": "causal_T"}, 14), {}, "train", tol=1e-4)


def test_eval_no_grad_matches_torch_fast_path():
    em, tm = _twins("TransformerEncoder", batch_first=True)
    em.eval()
    tm.eval()
    x = np.random.default_rng(15).standard_normal((B, S, E))
    with torch.no_grad(), ember.no_grad():
        _close(em(ember.tensor(x)), tm(torch.tensor(x)))


def test_dropout_train_vs_eval():
    layer = enn.TransformerEncoderLayer(E, NH, FF, dropout=0.5)
    x = ember.randn(S, B, E)
    layer.train()
    a, b = layer(x), layer(x)
    assert not np.allclose(_np(a), _np(b))
    layer.eval()
    np.testing.assert_array_equal(_np(layer(x)), _np(layer(x)))


def test_generate_square_subsequent_mask():
    for dtype in (None, "float64"):
        e = enn.Transformer.generate_square_subsequent_mask(
            4, dtype=None if dtype is None else getattr(ember, dtype))
        t = torch.nn.Transformer.generate_square_subsequent_mask(
            4, dtype=None if dtype is None else getattr(torch, dtype))
        assert str(e.dtype)[6:] == str(t.dtype)[6:]
        np.testing.assert_array_equal(_np(e), _np(t))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")
def test_construction_matches_torch():
    em, tm = _twins("Transformer", batch_first=True)
    assert repr(em) == repr(tm)
    assert [(n, tuple(p.shape)) for n, p in em.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    fresh = enn.Transformer(16, 2, 1, 1, 32)
    w = _np(fresh.encoder.layers[0].linear1.weight)
    assert np.abs(w).max() <= np.sqrt(6.0 / (16 + 32))  # xavier_uniform_
    stack = _build("TransformerEncoder", ember)  # layers are deep copies of one layer
    a, b = stack.layers[0].linear1.weight, stack.layers[1].linear1.weight
    assert a is not b
    np.testing.assert_array_equal(_np(a), _np(b))


def test_nested_tensor_warning_like_torch():
    for lib in (torch, ember):
        layer = lib.nn.TransformerEncoderLayer(E, NH, FF, batch_first=False)
        with pytest.warns(UserWarning, match="self_attn.batch_first was not True") as rec:
            enc = lib.nn.TransformerEncoder(layer, 2)
        assert enc.use_nested_tensor is False and enc.enable_nested_tensor is True
    messages = [str(r.message) for r in rec]
    assert any("enable_nested_tensor is True, but self.use_nested_tensor is False" in m
               for m in messages)


@pytest.mark.parametrize("call", [
    lambda m, lib: m(lib.ones(S, B, E), lib.ones(T, B + 1, E)),
    lambda m, lib: m(lib.ones(S, B, E + 1), lib.ones(T, B, E)),
])
def test_transformer_errors(call):
    em, tm = _twins("Transformer", "float32")
    with pytest.raises(Exception) as want:
        call(tm, torch)
    with pytest.raises(type(want.value)) as got:
        call(em, ember)
    assert str(got.value) == str(want.value)
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        enn.TransformerEncoderLayer(E, NH, activation="tanh")
