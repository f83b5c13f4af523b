"""Attention: scaled_dot_product_attention and multi_head_attention_forward (PyTorch's
semantics), plus the mask helpers the attention and transformer modules share.

Layout: heads live in a (B, H, L, D) view of the packed in-projection, so every score and
output product is one batched `@`. `_mha` serves both sequence-first (the functional
contract) and batch-first input (MultiheadAttention(batch_first=True)) without transposing
the activations: only the reshape/permute of the projection differs.

Fully masked rows (a query that may attend to nothing): scaled_dot_product_attention returns
zeros there (with zero gradients), as PyTorch does; the need_weights path of
multi_head_attention_forward uses a plain softmax and gives NaN, as PyTorch does."""
from __future__ import annotations

import math
import warnings

import ember
from ember.autograd import Function
from ember.jit import is_tracing

from .activation import softmax
from .dropout import dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_NEG_INF = float("-inf")

# c10 scalar type names, as PyTorch's attention checks print them
_C10_NAMES = {
    ember.float32: "float", ember.float64: "double", ember.float16: "c10::Half",
    ember.bfloat16: "c10::BFloat16", ember.int64: "long int", ember.int32: "int",
    ember.int16: "short int", ember.int8: "signed char", ember.uint8: "unsigned char",
    ember.bool: "bool",
}


def _c10(dtype):
    return _C10_NAMES.get(dtype, str(dtype))


# ------------------------------------------------------------------ scaled dot product

def _check_sdpa(query, key, value, attn_mask, is_causal, enable_gqa):
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.dim()} key.dim: {key.dim()} and "
                           f"value.dim: {value.dim()} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_c10(query.dtype)} key.dtype: {_c10(key.dtype)} and "
                           f"value.dtype: {_c10(value.dtype)} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: expected a floating point query, "
                           f"but got {query.dtype}")
    if attn_mask is not None and attn_mask.dtype not in (ember.bool, query.dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: {_c10(attn_mask.dtype)} and  "
                           f"query.dtype: {_c10(query.dtype)} instead.")
    if attn_mask is not None and is_causal:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if enable_gqa and query.dim() >= 3:
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hq % hk or hq % hv:
            raise RuntimeError("Number of heads in key and value must divide the number of "
                               "heads in ")


def _repeat_heads(x, groups):
    """repeat_interleave(groups, dim=-3): query head h reads key/value head h // groups."""
    if groups == 1:
        return x
    shape = tuple(x.shape)
    lead, heads, rest = shape[:-3], shape[-3], shape[-2:]
    wide = x.unsqueeze(-3).expand(*lead, heads, groups, *rest)
    return wide.reshape(*lead, heads * groups, *rest)


def _additive_mask(attn_mask, is_causal, L, S, dtype):
    """The mask as a float bias (0 = attend, -inf = masked), or the causal (top-left aligned
    lower-triangular) mask when is_causal; None when there is no mask."""
    if is_causal:
        return ember.full((L, S), _NEG_INF, dtype=dtype).triu(1)
    if attn_mask is None or attn_mask.dtype != ember.bool:
        return attn_mask
    return ember.zeros(attn_mask.shape, dtype=dtype).masked_fill(attn_mask.logical_not(),
                                                                 _NEG_INF)


def _fully_masked_rows(bias):
    """Rows whose every key is -inf (bool, keepdim), or None when there are none (the common
    case, checked once so that unmasked attention pays nothing)."""
    rows = (bias == _NEG_INF).all(-1, keepdim=True)
    # (a trace must hold for any mask: it always takes the general path)
    return rows if ember.jit.is_tracing() or bool(rows.any()) else None


def _safe_softmax(scores, rows):
    """softmax over the last dim that gives 0 (not NaN) on fully masked rows, with finite
    gradients: those rows are neutralised before the softmax and zeroed after it."""
    if rows is None:
        return softmax(scores, -1)
    return softmax(scores.masked_fill(rows, 0.0), -1).masked_fill(rows, 0.0)


def _sdpa(q, k, v, bias, dropout_p, scale):
    """Core on (..., L, E) / (..., S, E) / (..., S, Ev) with an additive float bias or None."""
    scores = (q * scale).matmul(k.transpose(-2, -1))
    rows = None
    if bias is not None:
        scores = scores + bias
        rows = _fully_masked_rows(bias)
    weights = _safe_softmax(scores, rows)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(v)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V. attn_mask: bool (True = take part) or float (added),
    broadcastable to (..., L, S); is_causal uses the top-left causal mask instead (giving both
    is an error); dropout is applied to the attention weights whenever dropout_p > 0."""
    _check_sdpa(query, key, value, attn_mask, is_causal, enable_gqa)
    L, S = query.size(-2), key.size(-2)
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    if enable_gqa and query.dim() >= 3:
        key = _repeat_heads(key, query.size(-3) // key.size(-3))
        value = _repeat_heads(value, query.size(-3) // value.size(-3))
    bias = _additive_mask(attn_mask, is_causal, L, S, query.dtype)
    return _sdpa(query, key, value, bias, dropout_p, scale)


# ------------------------------------------------------------------ mask helpers

def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, ember.Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or ember.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask (True = masked out) becomes the float bias PyTorch uses (-inf where True);
    float masks pass through."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype != ember.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                      f"same type for both instead.", stacklevel=3)
    if not is_float:
        mask = ember.zeros(mask.shape, dtype=target_type).masked_fill(mask, _NEG_INF)
    return mask


# query rank -> (its wording in PyTorch's messages, the rank key_padding_mask must have)
_MHA_QUERY_KINDS = {3: ("batched (3-D)", 2), 2: ("unbatched (2-D)", 1)}


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's checks; returns whether the input is batched."""
    qdim = query.dim()
    if qdim not in _MHA_QUERY_KINDS:
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{qdim}-D query tensor")
    kind, kpm_dim = _MHA_QUERY_KINDS[qdim]
    if key.dim() != qdim or value.dim() != qdim:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {qdim}-D "
                             f"but found {key.dim()}-D and {value.dim()}-D tensors "
                             f"respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != kpm_dim:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be "
                             f"`None` or {kpm_dim}-D but found {key_padding_mask.dim()}-D tensor "
                             f"instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.dim()}-D tensor instead")
        # an unbatched query's 3-D mask is per head: its shape is fully determined
        if qdim == 2 and attn_mask.dim() == 3:
            expected = (num_heads, query.shape[0], key.shape[0])
            if tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                     f"{attn_mask.shape}")
    return qdim == 3


def _pad_last(mask):
    """Appends one 'attend' (0.0) column to a float mask (for bias_k/v and zero attention)."""
    if mask is None:
        return None
    return ember.cat([mask, ember.zeros(*mask.shape[:-1], 1, dtype=mask.dtype)], -1)


# ------------------------------------------------------------------ multi-head attention

class _Unbind(Function):
    """x.unbind(0) as one autograd node whose backward is one stack (separate index views
    would each pad their gradient back to x's full size)."""

    @staticmethod
    def forward(ctx, x):
        return tuple(x.unbind(0))

    @staticmethod
    def backward(ctx, *grads):
        return ember.stack(grads)


def _to_heads(x, batch_first, groups, heads):
    """(A0, A1, groups * E) projection, A = (B, L) or (L, B), to `groups` views of shape
    (B, H, L, D) (one reshape and one permute, no copy)."""
    a0, a1, width = x.shape
    split = x.reshape(a0, a1, groups, heads, width // (groups * heads))
    order = (2, 0, 3, 1, 4) if batch_first else (2, 1, 3, 0, 4)
    split = split.permute(*order)
    if groups == 1:
        return [split[0]]
    return list(split.unbind(0) if is_tracing() else _Unbind.apply(split))


def _project(x, weight, bias):
    """linear over the last dim as one 2-D matmul (leading dims flattened)."""
    a0, a1, e = x.shape
    return linear(x.reshape(a0 * a1, e), weight, bias).reshape(a0, a1, weight.shape[0])


def _in_projection(query, key, value, heads, w, b, separate, bf):
    """q, k, v as (B, H, L, D) views; shares one matmul when query/key/value are the same
    tensor (self-attention) and one for key/value when those are (encoder-decoder)."""
    E = query.shape[-1] if separate is None else separate[0].shape[0]
    if separate is not None:
        wq, wk, wv = separate
        bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
        return [_to_heads(_project(x, wt, bt), bf, 1, heads)[0]
                for x, wt, bt in ((query, wq, bq), (key, wk, bk), (value, wv, bv))]
    if query is key and key is value:
        return _to_heads(_project(query, w, b), bf, 3, heads)
    if key is value:
        wq, wkv = w.split([E, 2 * E])
        bq, bkv = (None, None) if b is None else b.split([E, 2 * E])
        q = _to_heads(_project(query, wq, bq), bf, 1, heads)[0]
        return [q, *_to_heads(_project(key, wkv, bkv), bf, 2, heads)]
    wq, wk, wv = w.chunk(3)
    bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
    return [_to_heads(_project(x, wt, bt), bf, 1, heads)[0]
            for x, wt, bt in ((query, wq, bq), (key, wk, bk), (value, wv, bv))]


def _append_kv(k, v, bias_k, bias_v, add_zero_attn, static_k, static_v):
    """bias_k/bias_v rows and the zero-attention row, appended along the key axis of
    (B, H, S, D) keys/values."""
    B, H, _, D = k.shape
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = ember.cat([k, bias_k.reshape(1, H, 1, D).expand(B, H, 1, D)], 2)
        v = ember.cat([v, bias_v.reshape(1, H, 1, D).expand(B, H, 1, D)], 2)
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    if add_zero_attn:
        k = ember.cat([k, ember.zeros(B, H, 1, D, dtype=k.dtype)], 2)
        v = ember.cat([v, ember.zeros(B, H, 1, v.shape[-1], dtype=v.dtype)], 2)
    return k, v


def _static(t, which, bsz, heads, head_dim):
    if t.size(0) != bsz * heads:
        raise AssertionError(f"expecting static_{which}.size(0) of {bsz * heads}, but got "
                             f"{t.size(0)}")
    if t.size(2) != head_dim:
        raise AssertionError(f"expecting static_{which}.size(2) of {head_dim}, but got "
                             f"{t.size(2)}")
    return t.reshape(bsz, heads, t.size(1), head_dim)


def _mha(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
         bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
         training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
         use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
         v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
         is_causal=False, batch_first=False):
    """multi_head_attention_forward for either layout ((L, B, E) or, with batch_first,
    (B, L, E)); outputs come back in the input's layout."""
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    batch_dim = 0 if batch_first else 1
    if not batched:
        batch_dim = 1
        batch_first = False
        query, key, value = _map_distinct(lambda x: x.unsqueeze(1), query, key, value)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    if batch_first:
        bsz, tgt_len, embed_dim = query.shape
        src_len = key.shape[1]
    else:
        tgt_len, bsz, embed_dim = query.shape
        src_len = key.shape[0]

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint stands for the mask: attention applies it itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
        for which, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {which}_proj_weight "
                                     f"is None")
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        separate = None

    q, k, v = _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                             separate, batch_first)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.reshape(1, 1, tgt_len, src_len)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(bsz * num_heads, tgt_len, src_len)}.")
            attn_mask = attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if static_k is not None:
        k = _static(static_k, "k", bsz, num_heads, head_dim)
    if static_v is not None:
        v = _static(static_v, "v", bsz, num_heads, head_dim)
    extra = (bias_k is not None and bias_v is not None) + bool(add_zero_attn)
    k, v = _append_kv(k, v, bias_k, bias_v, add_zero_attn, static_k, static_v)
    for _ in range(extra):
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[2]

    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if not training:
        dropout_p = 0.0
    scale = 1.0 / math.sqrt(head_dim)
    weights = None
    if need_weights:
        scores = (q * scale).matmul(k.transpose(-2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights.matmul(v)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
    else:
        bias = _additive_mask(attn_mask, is_causal, tgt_len, src_len, q.dtype)
        out = _sdpa(q, k, v, bias, dropout_p, scale)

    # (B, H, L, D) -> the input's layout, heads merged, then the output projection
    out = out.permute(0, 2, 1, 3) if batch_first else out.permute(2, 0, 1, 3)
    a0, a1 = out.shape[:2]
    out = linear(out.reshape(a0 * a1, embed_dim), out_proj_weight, out_proj_bias)
    out = out.reshape(a0, a1, out.shape[-1])
    if not batched:
        out = out.squeeze(1)
    return out, weights


def _map_distinct(fn, *tensors):
    """fn applied once per distinct tensor, so `is` relations between query, key and value
    survive (self-attention and key-is-value detection look at identity)."""
    done = {}
    for t in tensors:
        if id(t) not in done:
            done[id(t)] = fn(t)
    return [done[id(t)] for t in tensors]


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention on sequence-first input: query (L, B, E) or (L, E), key/value
    (S, B, E_k/E_v). Returns (output (L, B, E), weights (B, L, S) averaged over heads, or
    (B, H, L, S), or None when need_weights is False)."""
    return _mha(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                out_proj_bias, training, key_padding_mask, need_weights, attn_mask,
                use_separate_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight,
                static_k, static_v, average_attn_weights, is_causal, batch_first=False)
