"""Embedding lookups: embedding and embedding_bag.

ember has no sparse tensors: `sparse=True` is accepted and the weight gradient is dense
(the same values PyTorch's sparse gradient holds)."""
from __future__ import annotations

import ember

from ._fused import fused

__all__ = ["embedding", "embedding_bag"]

_INDEX_DTYPES = {ember.int64: "Long", ember.int32: "Int"}
_TYPE_NAMES = {ember.float32: "FloatTensor", ember.float64: "DoubleTensor",
               ember.float16: "HalfTensor", ember.bfloat16: "BFloat16Tensor",
               ember.int16: "ShortTensor", ember.int8: "CharTensor", ember.uint8: "ByteTensor",
               ember.bool: "BoolTensor"}


def _check_indices(indices, op):
    if indices.dtype not in _INDEX_DTYPES:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got "
                           f"ember.{_TYPE_NAMES.get(indices.dtype, str(indices.dtype))} instead "
                           f"(while checking arguments for {op})")


def _check_range(flat, num):
    if ember.jit.is_tracing():  # a traced graph's index kernel checks the bounds when it runs
        return
    if flat.numel() and (int(flat.max()) >= num or int(flat.min()) < 0):
        raise IndexError("index out of range in self")


def _renormed(weight, flat, max_norm, norm_type):
    """Renorm the looked-up rows in place and return the tensor to look up from. Eager, that
    is `weight` itself: the write happens under no_grad and the gradient still reaches the
    weight unchanged. A traced no_grad write is a gradient cut, so while tracing the lookup
    reads `before + (weight - before).detach()`: the renormed values, with the gradient
    flowing to the weight as in eager."""
    before = weight.clone() if ember.jit.is_tracing() and weight.requires_grad else None
    _renorm_rows_(weight, flat, max_norm, norm_type)
    return weight if before is None else before + (weight - before).detach()


def _renorm_rows_(weight, flat, max_norm, norm_type):
    """PyTorch's embedding_renorm_: rows looked up whose norm exceeds max_norm are scaled
    in place to norm max_norm (with its 1e-7 guard). Written without data-dependent
    shapes (no unique, no boolean selection) so it traces: every looked-up row is written
    back, scaled by 1 where under the norm; a repeated index writes the same row twice."""
    with ember.no_grad():
        rows = weight.index_select(0, flat)
        norms = rows.norm(norm_type, dim=1)
        scale = ember.where(norms > max_norm, max_norm / (norms + 1e-7),
                            ember.ones((), dtype=norms.dtype))
        weight.index_copy_(0, flat, rows * scale.unsqueeze(1).to(weight.dtype))


# ---------------------------------------------------------------- embedding

def _embedding_forward(weight, *, flat, shape, padding_idx, scale_grad_by_freq):
    return weight.index_select(0, flat).reshape(*shape, weight.shape[1]), ()


def _embedding_backward(g, saved, needs, *, flat, shape, padding_idx, scale_grad_by_freq):
    weight = saved[0]
    g2 = g.reshape(-1, weight.shape[1])
    if padding_idx is not None and padding_idx >= 0:
        g2 = g2 * (flat != padding_idx).unsqueeze(1).to(g2.dtype)
    if scale_grad_by_freq:
        counts = ember.zeros(weight.shape[0], dtype=g2.dtype).index_add_(
            0, flat, ember.ones(flat.shape[0], dtype=g2.dtype))
        g2 = g2 / counts.index_select(0, flat).unsqueeze(1)
    return (ember.zeros(weight.shape, dtype=g2.dtype).index_add(0, flat, g2),)


def _embedding_composite(weight, *, flat, shape, padding_idx, scale_grad_by_freq):
    """The meaning, with the backward's conventions as gradient-only rewrites that keep the
    value exactly (traced graphs hold this): the padding row gets no gradient, and with
    scale_grad_by_freq a row's gradient is divided by its count (w.detach() + (w -
    w.detach()) / c is w, with gradient 1/c)."""
    w = weight
    if padding_idx is not None and padding_idx >= 0:
        keep = ember.arange(weight.shape[0]) != padding_idx
        w = ember.where(keep.unsqueeze(1), w, w.detach())
    if scale_grad_by_freq:
        counts = ember.zeros(weight.shape[0], dtype=weight.dtype).index_add(
            0, flat, ember.ones(flat.shape[0], dtype=weight.dtype))
        w = w.detach() + (w - w.detach()) / counts.clamp_min(1).unsqueeze(1)
    return w.index_select(0, flat).reshape(*shape, weight.shape[1])


_embedding = fused("EmbeddingBackward", _embedding_forward, _embedding_backward,
                   _embedding_composite)


def _normalize_padding_idx(padding_idx, num):
    if padding_idx is None:
        return None
    if padding_idx > 0 and padding_idx >= num:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if padding_idx < 0:
        if padding_idx < -num:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = num + padding_idx
    return padding_idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    _check_indices(input, "embedding")
    flat = input.reshape(-1)
    _check_range(flat, weight.shape[0])
    if max_norm is not None:
        weight = _renormed(weight, flat, max_norm, norm_type)
    return _embedding(weight, flat=flat, shape=tuple(input.shape), padding_idx=padding_idx,
                      scale_grad_by_freq=scale_grad_by_freq)


# ---------------------------------------------------------------- embedding_bag

def _bag_ids(offsets, n, num_bags):
    """bag index of each of the n positions: 1 at every bag start after the first, summed."""
    marks = ember.zeros(n + 1, dtype=ember.int64)
    if num_bags > 1:
        marks.index_add_(0, offsets[1:num_bags].to(ember.int64),
                         ember.ones(num_bags - 1, dtype=ember.int64))
    return marks[:n].cumsum(0)


def _bag_layout(input, offsets, include_last_offset):
    """(flat indices, offsets, number of bags) for 2-D (fixed length) or 1-D + offsets input."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        b, length = input.shape
        return input.reshape(-1), ember.arange(0, b * length, max(length, 1)), b
    if input.dim() != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    if offsets.dim() != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    num_bags = offsets.shape[0] - (1 if include_last_offset else 0)
    if offsets.shape[0] and int(offsets[0]) != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(offsets[0])}")
    if offsets.shape[0] and int(offsets[-1]) > input.shape[0]:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length "
                           f"({input.shape[0]}), but got offsets[-1] of {int(offsets[-1])}")
    return input, offsets, max(num_bags, 0)


_MODES = ("sum", "mean", "max")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    if weight.dtype == ember.long and input.is_floating_point():
        input, weight = weight, input  # the historical argument order, as PyTorch accepts
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}"
                         f") is not None, then it must have the same shape as the input "
                         f"({list(input.shape)})")
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    _check_indices(input, "embedding_bag")
    flat, offsets, num_bags = _bag_layout(input, offsets, include_last_offset)
    _check_range(flat, weight.shape[0])
    if max_norm is not None:
        weight = _renormed(weight, flat, max_norm, norm_type)
    psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    bags = _bag_ids(offsets, flat.shape[0], num_bags)
    if padding_idx is not None:  # padding entries take no part in any bag
        keep = (flat != padding_idx).nonzero().reshape(-1)
        flat, bags = flat[keep], bags[keep]
        psw = psw[keep] if psw is not None else None
    # positions past the last bag (include_last_offset with a short final offset) drop out
    inside = (bags < num_bags).nonzero().reshape(-1)
    if inside.shape[0] != bags.shape[0]:
        flat, bags = flat[inside], bags[inside]
        psw = psw[inside] if psw is not None else None
    rows = embedding(flat, weight, scale_grad_by_freq=scale_grad_by_freq)
    dim = weight.shape[1]
    out = ember.zeros((num_bags, dim), dtype=weight.dtype)
    if mode == "max":
        index = bags.unsqueeze(1).expand(bags.shape[0], dim)
        return out.scatter_reduce(0, index, rows, "amax", include_self=False)
    if psw is not None:
        rows = rows * psw.unsqueeze(1).to(rows.dtype)
    out = out.index_add(0, bags, rows)
    if mode == "mean":
        counts = ember.zeros(num_bags, dtype=weight.dtype).index_add_(
            0, bags, ember.ones(bags.shape[0], dtype=weight.dtype))
        out = out / counts.clamp_min(1).unsqueeze(1)
    return out
