"""Public ops: strided views, `as_strided` and `Tensor.unfold` (sliding windows).

Both are view primitives: the result shares memory and the version counter with the
input. `unfold` is what pooling and sliding-window code build on; its own primitive lets
its gradient fold windows back with a few pads instead of scattering element by element
(see autograd/rules/strided.py).
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import PRIMITIVES, TensorType
from ...runtime.cpu.strided import storage_of
from ..dispatch import dispatch_view
from ..tensor import Tensor, install_methods

__all__ = ["as_strided"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}


def _ints(seq, what):
    if isinstance(seq, Tensor):
        seq = seq.tolist()
    if isinstance(seq, (int, np.integer)):
        seq = (seq,)
    try:
        return tuple(int(v) for v in seq)
    except TypeError:
        raise TypeError(f"as_strided(): argument '{what}' must be tuple of ints, not "
                        f"{type(seq).__name__}") from None


def _check(op, x, **attrs):
    """The primitive's shape rule raises PyTorch's error for invalid arguments."""
    PRIMITIVES[op].rule(TensorType(tuple(x._data.shape), _NP2DT[x._data.dtype]), **attrs)


def as_strided(input, size, stride, storage_offset=None):
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    d = input._data
    _, own = storage_of(d)
    isz = max(d.itemsize, 1)
    attrs = dict(size=size, stride=stride,
                 storage_offset=own if storage_offset is None else int(storage_offset),
                 in_stride=tuple(s // isz for s in d.strides), in_offset=own)
    _check("as_strided", input, **attrs)
    return dispatch_view("as_strided", input, **attrs)


def unfold(self, dimension, size, step):
    nd = self._data.ndim
    n = max(nd, 1)
    if not -n <= dimension < n:
        raise IndexError(f"unfold: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dimension})")
    attrs = dict(dimension=dimension % n, size=int(size), step=int(step))
    _check("unfold", self, **attrs)
    return dispatch_view("unfold", self, **attrs)


METHODS = {"as_strided": as_strided, "unfold": unfold}
install_methods(METHODS)
