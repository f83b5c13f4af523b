"""Writing a result into an existing tensor: the shared machinery of every `op_`.

An in-place op is computed out of place, then copied into `self`'s memory. Autograd
sees `self` as the output of the new node (its history is "rebased"); when `self` is a
view, the base's history is rebased too (PyTorch's CopySlices), so gradients flow
through the base as if the write had been functional.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...runtime.autograd import Node, STATE
from ..tensor import Tensor, _wrap

_NP2DT = {d.np: d for d in D.ALL_DTYPES}


def check_inplace(self, op):
    if STATE.enabled and self._requires_grad and self._grad_fn is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an "
                           f"in-place operation.")
    base = self._base
    if STATE.enabled and base is not None and base._requires_grad and base._grad_fn is None:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in "
                           f"an in-place operation.")
    if not self._data.flags.writeable:
        raise RuntimeError(f"{op}: unsupported operation: more than one element of the "
                           f"written-to tensor refers to a single memory location. Please "
                           f"clone() the tensor before performing the operation.")


def inplace(self: Tensor, result: Tensor, op: str) -> Tensor:
    """Write `result` (already computed from self) into `self`; returns self."""
    check_inplace(self, op)
    sd, rd = self._data, result._data
    if rd.dtype != sd.dtype:
        sdt, rdt = _NP2DT[sd.dtype], _NP2DT[rd.dtype]
        if rdt.category > sdt.category:
            raise RuntimeError(f"{op}: result type {rdt.name.capitalize()} can't be cast to the "
                               f"desired output type {sdt.name.capitalize()}")
        result = result.to(sdt)
        rd = result._data
    if rd.shape != sd.shape:
        try:
            shape = np.broadcast_shapes(rd.shape, sd.shape)
        except ValueError:
            shape = None
        if shape != sd.shape:
            raise RuntimeError(f"{op}: output with shape {list(sd.shape)} doesn't match the "
                               f"broadcast shape {list(shape or rd.shape)}")
        if result._requires_grad:
            result = result.expand(sd.shape)
    np.copyto(sd, rd, casting="unsafe")
    self._version[0] += 1
    if result._requires_grad and STATE.enabled:
        _rebase(self, result)
    elif self._grad_fn is not None and STATE.enabled:
        # overwritten by a value without history: self no longer depends on its past
        _rebase(self, result)
    return self


def _rebase(self, result):
    base = self._base
    if base is None or not (base._requires_grad or result._requires_grad):
        self._grad_fn = result._grad_fn
        self._out_idx = result._out_idx
        self._requires_grad = result._requires_grad
        return
    chain = getattr(self, "_view_chain", None)
    if chain is None:
        raise RuntimeError(f"in-place write into a view whose relation to its base is unknown "
                           f"(shape {tuple(self.shape)}); clone() it first")
    # new base = base with the view region replaced by result
    edges = (_edge(base), _edge(result))
    node = Node("CopySlices", _copy_slices_apply, edges, (), chain, 1)
    base._grad_fn = node
    base._out_idx = 0
    base._requires_grad = True
    # the view's history is now "take the view of the new base"
    fresh = apply_view_chain(base, chain)
    self._grad_fn = fresh._grad_fn
    self._out_idx = fresh._out_idx
    self._requires_grad = True


def _edge(t):
    if not t._requires_grad:
        return (None, 0)
    return (t._grad_fn, t._out_idx) if t._grad_fn is not None else (t, 0)


def _copy_slices_apply(node, gouts):
    g = gouts[0]
    if g is None:
        return (None, None)
    chain = node.ctx
    g_base = g.clone()
    apply_view_chain(g_base, chain).zero_()
    g_view = apply_view_chain(g, chain)
    return g_base, g_view


def apply_view_chain(t, chain):
    """Re-apply the recorded view ops (op name, attrs) to t."""
    from ..dispatch import dispatch_view
    for op, attrs in chain:
        t = dispatch_view(op, t, **attrs)
    return t
