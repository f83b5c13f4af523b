"""Distances: cosine_similarity, pairwise_distance, pdist."""
from __future__ import annotations

import ember

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    x1, x2 = ember.broadcast_tensors(x1, x2)
    # each vector divided by its (clamped) norm, then the dot product: PyTorch's order,
    # which stays accurate for vectors of very different magnitudes
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    ndim = max(x1.dim(), x2.dim())
    return (x1 - x2 + eps).norm(p, ndim - 1 if ndim else None, keepdim=keepdim)


def pdist(input, p=2):
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    # the upper triangle, row by row: (0,1), (0,2), ..., (n-2,n-1)
    i = [a for a in range(n) for _ in range(a + 1, n)]
    j = [b for a in range(n) for b in range(a + 1, n)]
    rows_i = input.index_select(0, ember.tensor(i, dtype=ember.int64))
    rows_j = input.index_select(0, ember.tensor(j, dtype=ember.int64))
    return (rows_i - rows_j).norm(p, 1)
