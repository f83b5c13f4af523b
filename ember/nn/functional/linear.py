"""linear and bilinear."""
from __future__ import annotations

import ember

__all__ = ["linear"]


def linear(input, weight, bias=None):
    if weight.dim() == 2 and (input.dim() == 0 or input.shape[-1] != weight.shape[1]):
        raise RuntimeError(f"linear: mat1 and mat2 shapes cannot be multiplied "
                           f"({'x'.join(map(str, input.shape))} and "
                           f"{'x'.join(map(str, reversed(weight.shape)))})")
    out = ember.matmul(input, weight.t() if weight.dim() == 2 else weight)
    return out if bias is None else out + bias
