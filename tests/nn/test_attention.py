"""scaled_dot_product_attention, multi_head_attention_forward and MultiheadAttention vs torch
with identical weights and inputs: outputs, attention weights, input and parameter grads."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as enn
import ember.nn.functional as F


def _np(t):
    return t.detach().numpy()


def _close(e, t, tol=1e-10):
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol, equal_nan=True)


def _leaf(a, dtype="float64"):
    e = ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=True)
    t = torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)
    return e, t


def _const(a):
    return ember.tensor(a), torch.tensor(a)


def _grads_match(oe, ot, pairs, tol=1e-10, seed=3):
    w = np.random.default_rng(seed).standard_normal(tuple(ot.shape))
    (oe * ember.tensor(w, dtype=oe.dtype)).sum().backward()
    (ot * torch.tensor(w, dtype=ot.dtype)).sum().backward()
    for e, t in pairs:
        if t.grad is None:
            assert e.grad is None or not np.any(_np(e.grad))
        else:
            _close(e.grad, t.grad, tol)


# ------------------------------------------------------------------ scaled_dot_product_attention

B, HQ, L, S, D, DV = 2, 4, 3, 5, 8, 6


def _mask(kind, rng):
    if kind is None:
        return None, None
    if kind == "bool":
        m = rng.random((L, S)) < 0.7
        m[:, 0] = True
    elif kind == "bool_bcast":
        m = rng.random((B, 1, 1, S)) < 0.7
        m[..., 0] = True
    elif kind == "float":
        m = rng.standard_normal((B, HQ, L, S))
    elif kind == "float_inf":
        m = np.where(rng.random((L, S)) < 0.3, -np.inf, rng.standard_normal((L, S)))
        m[:, 0] = 0.0
    return _const(m)


@pytest.mark.parametrize("mask,is_causal", [(None, False), ("bool", False), ("bool_bcast", False),
                                            ("float", False), ("float_inf", False), (None, True)])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(mask, is_causal, scale):
    rng = np.random.default_rng(0)
    (qe, qt), (ke, kt), (ve, vt) = (_leaf(rng.standard_normal(s)) for s in
                                    ((B, HQ, L, D), (B, HQ, S, D), (B, HQ, S, DV)))
    me, mt = _mask(mask, rng)
    oe = F.scaled_dot_product_attention(qe, ke, ve, attn_mask=me, is_causal=is_causal, scale=scale)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=is_causal,
                                         scale=scale)
    _close(oe, ot)
    _grads_match(oe, ot, [(qe, qt), (ke, kt), (ve, vt)])


@pytest.mark.parametrize("shape", [(L, D), (HQ, L, D), (2, 2, HQ, L, D)])
def test_sdpa_ranks(shape):
    rng = np.random.default_rng(1)
    kshape = shape[:-2] + (S, D)
    (qe, qt), (ke, kt), (ve, vt) = (_leaf(rng.standard_normal(s)) for s in (shape, kshape, kshape))
    oe = F.scaled_dot_product_attention(qe, ke, ve)
    ot = TF.scaled_dot_product_attention(qt, kt, vt)
    _close(oe, ot)
    _grads_match(oe, ot, [(qe, qt), (ke, kt), (ve, vt)])


def test_sdpa_fully_masked_rows_are_zero_with_zero_grads():
    rng = np.random.default_rng(2)
    (qe, qt), (ke, kt), (ve, vt) = (_leaf(rng.standard_normal(s)) for s in
                                    ((B, HQ, L, D), (B, HQ, S, D), (B, HQ, S, DV)))
    m = np.ones((L, S), bool)
    m[1] = False
    for me, mt in (_const(m), _const(np.where(m, 0.0, -np.inf))):
        oe = F.scaled_dot_product_attention(qe, ke, ve, attn_mask=me)
        ot = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt)
        assert not np.any(_np(oe)[:, :, 1])
        _close(oe, ot)
        for t in (qe, ke, ve, qt, kt, vt):
            t.grad = None
        _grads_match(oe, ot, [(qe, qt), (ke, kt), (ve, vt)])
        assert np.isfinite(_np(qe.grad)).all()


def test_sdpa_gqa_and_float32():
    rng = np.random.default_rng(3)
    (qe, qt), (ke, kt), (ve, vt) = (_leaf(rng.standard_normal(s), "float32") for s in
                                    ((B, HQ, L, D), (B, 2, S, D), (B, 1, S, DV)))
    oe = F.scaled_dot_product_attention(qe, ke, ve, enable_gqa=True, is_causal=True)
    ot = TF.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True, is_causal=True)
    assert oe.dtype == ember.float32
    _close(oe, ot, 1e-5)
    _grads_match(oe, ot, [(qe, qt), (ke, kt), (ve, vt)], tol=1e-5)


def test_sdpa_dropout():
    q = ember.randn(B, HQ, L, D)
    v = ember.randn(B, HQ, S, DV)
    k = ember.randn(B, HQ, S, D)
    assert not np.any(_np(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)))
    ember.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    b = F.scaled_dot_product_attention(q, k, v)
    assert a.shape == b.shape and not np.allclose(_np(a), _np(b))
    # the expectation of dropout(weights) is the weights: average many draws of a 1-row case
    ones = ember.ones(1, 1, 1, 4)
    many = [float(F.scaled_dot_product_attention(ones, ember.ones(1, 1, 20, 4),
                                                 ember.ones(1, 1, 20, 1), dropout_p=0.5))
            for _ in range(200)]
    assert abs(np.mean(many) - 1.0) < 0.1


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(3, 4), lib.ones(5, 4, dtype=lib.float64), lib.ones(5, 4)),
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(3, 4), lib.ones(5, 4), lib.ones(5, 4), attn_mask=lib.ones(3, 5, dtype=lib.int64)),
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(3, 4), lib.ones(5, 4), lib.ones(5, 4), attn_mask=lib.ones(3, 5,
                                                                          dtype=lib.float64)),
    lambda lib: lib.nn.functional.scaled_dot_product_attention(lib.ones(4), lib.ones(4),
                                                               lib.ones(4)),
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(4, 3, 2), lib.ones(3, 5, 2), lib.ones(3, 5, 2), enable_gqa=True),
    lambda lib: lib.nn.functional.scaled_dot_product_attention(
        lib.ones(3, 4, requires_grad=True), lib.ones(3, 4), lib.ones(3, 4),
        attn_mask=lib.ones(3, 3, dtype=lib.bool), is_causal=True),
])
def test_sdpa_errors(call):
    with pytest.raises(Exception) as want:
        call(torch)
    with pytest.raises(type(want.value)) as got:
        call(ember)
    assert str(got.value) == str(want.value)


# ------------------------------------------------------------------ MultiheadAttention

E, H, BB = 8, 2, 3


def _twins(dtype="float64", **kw):
    tm = torch.nn.MultiheadAttention(E, H, **kw).to(getattr(torch, dtype))
    em = enn.MultiheadAttention(E, H, **kw).to(getattr(ember, dtype))
    assert list(em.state_dict()) == list(tm.state_dict())
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return em, tm


def _inputs(mode, bf, kw, rng, dtype="float64", batched=True):
    kd, vd = kw.get("kdim", E), kw.get("vdim", E)

    def shape(n, e):
        if not batched:
            return (n, e)
        return (BB, n, e) if bf else (n, BB, e)
    q = _leaf(rng.standard_normal(shape(L, E)), dtype)
    if mode == "self":
        return q, q, q, L
    k = _leaf(rng.standard_normal(shape(S, kd)), dtype)
    v = k if mode == "kv" else _leaf(rng.standard_normal(shape(S, vd)), dtype)
    return q, k, v, S


def _masks(kind, src, rng, batched=True):
    out = {}
    if "kpm" in kind:
        m = rng.random((BB, src) if batched else (src,)) < 0.3
        m[..., 0] = False
        out["key_padding_mask"] = m
    if "kpm_float" in kind:
        out["key_padding_mask"] = rng.standard_normal((BB, src))
    if "bool2" in kind:
        m = rng.random((L, src)) < 0.3
        m[:, 0] = False
        out["attn_mask"] = m
    if "float3" in kind:
        out["attn_mask"] = rng.standard_normal(((BB if batched else 1) * H, L, src))
    return {k: _const(v) for k, v in out.items()}


MASK_CASES = [((), {}), ((), {"need_weights": False}), ((), {"average_attn_weights": False}),
              (("kpm",), {}), (("bool2", "kpm"), {"need_weights": False}), (("float3",), {}),
              (("kpm_float", "float3"), {"need_weights": False})]
# every layout, kind of attention and mask with the default module; the other module options
# with a few of them each (kdim/vdim need separate key and value tensors)
MHA_CASES = [({}, bf, mode, *m) for bf in (False, True) for mode in ("self", "kv", "sep")
             for m in MASK_CASES]
OPTIONS = [{"add_bias_kv": True}, {"add_zero_attn": True}, {"bias": False},
           {"add_bias_kv": True, "add_zero_attn": True}]
MHA_CASES += [(kw, i % 2 == 1, mode, *MASK_CASES[j]) for i, kw in enumerate(OPTIONS)
              for mode in ("self", "kv") for j in (0, 4, 5)]
MHA_CASES += [({"kdim": 6, "vdim": 7}, bf, "sep", *MASK_CASES[j]) for bf in (False, True)
              for j in (0, 4, 5)]


@pytest.mark.parametrize("kw,bf,mode,masks,fwd", MHA_CASES)
def test_mha_matches_torch(kw, bf, mode, masks, fwd):
    em, tm = _twins(batch_first=bf, **kw)
    rng = np.random.default_rng(4)
    (qe, qt), (ke, kt), (ve, vt), src = _inputs(mode, bf, kw, rng)
    m = _masks(masks, src, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mixed mask types warn in both libraries
        oe, we = em(qe, ke, ve, **{k: v[0] for k, v in m.items()}, **fwd)
        ot, wt = tm(qt, kt, vt, **{k: v[1] for k, v in m.items()}, **fwd)
    assert (we is None) == (wt is None)
    if wt is not None:
        _close(we, wt)
    leaves = {id(p): p for p in ((qe, qt), (ke, kt), (ve, vt))}
    params = list(zip(em.parameters(), tm.parameters()))
    _grads_match(oe, ot, list(leaves.values()) + params)


@pytest.mark.parametrize("mode", ["self", "sep"])
@pytest.mark.parametrize("masks", [(), ("kpm",), ("float3",)])
def test_mha_unbatched(mode, masks):
    kw = {"kdim": 6, "vdim": 7} if mode == "sep" else {}
    em, tm = _twins(batch_first=True, **kw)
    rng = np.random.default_rng(5)
    (qe, qt), (ke, kt), (ve, vt), src = _inputs(mode, True, kw, rng, batched=False)
    m = _masks(masks, src, rng, batched=False)
    oe, we = em(qe, ke, ve, **{k: v[0] for k, v in m.items()})
    ot, wt = tm(qt, kt, vt, **{k: v[1] for k, v in m.items()})
    _close(we, wt)
    _grads_match(oe, ot, [(qe, qt), (ke, kt), (ve, vt)])


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_eval_no_grad_and_causal(need_weights):
    """Eval mode without grad takes torch's fused path; the math is the same."""
    em, tm = _twins(batch_first=True, dropout=0.5)
    em.eval()
    tm.eval()
    rng = np.random.default_rng(6)
    x = rng.standard_normal((BB, L, E))
    causal = np.triu(np.full((L, L), -np.inf), 1)
    with torch.no_grad(), ember.no_grad():
        oe, we = em(ember.tensor(x), ember.tensor(x), ember.tensor(x),
                    attn_mask=ember.tensor(causal), is_causal=True, need_weights=need_weights)
        ot, wt = tm(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(causal), is_causal=True,
                    need_weights=need_weights)
    _close(oe, ot)
    if need_weights:
        _close(we, wt)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_mha_fully_masked_rows_like_torch():
    """need_weights=True uses a plain softmax (NaN rows), need_weights=False gives zeros."""
    em, tm = _twins()
    x = np.random.default_rng(7).standard_normal((L, BB, E))
    kpm = np.zeros((BB, L), bool)
    kpm[1] = True
    for need in (True, False):
        oe, _ = em(*(ember.tensor(x),) * 3, key_padding_mask=ember.tensor(kpm), need_weights=need)
        ot, _ = tm(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need)
        _close(oe, ot)


def test_mha_float32():
    em, tm = _twins("float32", batch_first=True)
    rng = np.random.default_rng(8)
    (qe, qt), (ke, kt), (ve, vt), src = _inputs("kv", True, {}, rng, "float32")
    oe, we = em(qe, ke, ve)
    ot, wt = tm(qt, kt, vt)
    assert oe.dtype == ember.float32
    _close(we, wt, 1e-5)
    _grads_match(oe, ot, [(qe, qt), (ke, kt)] + list(zip(em.parameters(), tm.parameters())),
                 tol=2e-5)


def test_multi_head_attention_forward_static_kv():
    em, tm = _twins(add_zero_attn=True)
    rng = np.random.default_rng(9)
    q = rng.standard_normal((L, BB, E))
    sk, sv = rng.standard_normal((BB * H, S, E // H)), rng.standard_normal((BB * H, S, E // H))
    args = ("in_proj_weight", "in_proj_bias", "bias_k", "bias_v")
    outs = []
    for lib, fn, m in ((ember, F.multi_head_attention_forward, em),
                       (torch, TF.multi_head_attention_forward, tm)):
        t = [lib.tensor(a) for a in (q, sk, sv)]
        outs.append(fn(t[0], t[0], t[0], E, H, *(getattr(m, a) for a in args), True, 0.0,
                       m.out_proj.weight, m.out_proj.bias, training=False, static_k=t[1],
                       static_v=t[2]))
    _close(outs[0][0], outs[1][0])
    _close(outs[0][1], outs[1][1])


@pytest.mark.parametrize("call", [
    lambda m, lib: m(lib.ones(L, BB, E), lib.ones(L, BB, E), lib.ones(L, BB, E), is_causal=True),
    lambda m, lib: m(lib.ones(L, BB, E), lib.ones(L, BB, E), lib.ones(L, BB, E),
                     attn_mask=lib.ones(L, L + 1, dtype=lib.bool)),
    lambda m, lib: m(lib.ones(L, BB, E), lib.ones(L, BB, E), lib.ones(L, BB, E),
                     attn_mask=lib.ones(L, L, dtype=lib.int64)),
    lambda m, lib: m(lib.ones(L, BB, E + 1), lib.ones(L, BB, E), lib.ones(L, BB, E)),
    lambda m, lib: m(lib.ones(L, BB, E), lib.ones(L, E), lib.ones(L, BB, E)),
    lambda m, lib: m(lib.ones(L, BB, E), lib.ones(L, BB, E), lib.ones(L, BB, E),
                     key_padding_mask=lib.ones(BB, L + 1, dtype=lib.bool)),
])
def test_mha_errors(call):
    em, tm = _twins("float32")
    with pytest.raises(Exception) as want:
        call(tm, torch)
    with pytest.raises(type(want.value)) as got:
        call(em, ember)
    assert str(got.value).replace("ember", "torch") == str(want.value)


def test_mha_construction():
    em, tm = _twins(kdim=6, vdim=4, add_bias_kv=True)
    assert repr(em) == repr(tm)
    assert [(n, tuple(p.shape)) for n, p in em.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    fresh = enn.MultiheadAttention(16, 4)
    assert not np.any(_np(fresh.in_proj_bias)) and not np.any(_np(fresh.out_proj.bias))
    bound = np.sqrt(6.0 / (16 + 48))  # xavier_uniform_ on the (3E, E) in_proj_weight
    assert np.abs(_np(fresh.in_proj_weight)).max() <= bound
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        enn.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        enn.MultiheadAttention(0, 4)
