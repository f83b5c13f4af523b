"""The fused pointwise updates optimizers are written with (addcmul_, addcdiv_).

They use the Tensor methods when the core has them, and otherwise the same arithmetic in
the same order as PyTorch's kernels (self + (value * t1) * t2, self + (value * t1) / t2)
from smaller ops, so results agree with PyTorch either way.
"""
from __future__ import annotations

import ember

_HAS_ADDCMUL = hasattr(ember.Tensor, "addcmul_")
_HAS_ADDCDIV = hasattr(ember.Tensor, "addcdiv_")


def _combine(t1, t2, value, op):
    # (value * t1) op t2 in a fresh tensor; a multiplication by exactly 1 is skipped
    if value == 1:
        return op(t1, t2)
    return op(t1.mul(value), t2)


def addcmul_(self, t1, t2, value=1):
    """self += value * t1 * t2, in place."""
    if _HAS_ADDCMUL:
        return self.addcmul_(t1, t2, value=value)
    return self.add_(_combine(t1, t2, value, ember.mul))


def addcdiv_(self, t1, t2, value=1):
    """self += value * t1 / t2, in place."""
    if _HAS_ADDCDIV:
        return self.addcdiv_(t1, t2, value=value)
    return self.add_(_combine(t1, t2, value, ember.div))


def addcmul(self, t1, t2, value=1):
    """self + value * t1 * t2, out of place."""
    if _HAS_ADDCMUL:
        return self.addcmul(t1, t2, value=value)
    return ember.add(self, _combine(t1, t2, value, ember.mul))
