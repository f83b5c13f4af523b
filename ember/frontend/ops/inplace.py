"""Writing a result into an existing tensor: the shared machinery of every `op_`.

An in-place op is computed out of place, then copied into `self`'s memory. Autograd
sees `self` as the output of the new node (its history is "rebased"); when `self` is a
view, the base's history is rebased too (PyTorch's CopySlices), so gradients flow
through the base as if the write had been functional.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...runtime.autograd import Node, STATE, op_name
from ..tensor import Tensor, _wrap, check_alias_write, install_methods

_NP2DT = {d.np: d for d in D.ALL_DTYPES}


def check_inplace(self, op):
    if self._base is not None or type(self._version) is not list:
        check_alias_write(self)   # views made without autograd, inference tensors
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
    return _write(self, result, op)


def _write(self, result, op, const_name="CopyBackwards"):
    """Copy result (same dtype as self, broadcastable) into self and fix up autograd."""
    sd, rd = self._data, result._data
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
    recording = STATE.enabled
    if recording and result._grad_fn is not None:
        _snapshot_saved_self(self, result._grad_fn)
    np.copyto(sd, rd, casting="unsafe")
    self._version[0] += 1
    if STATE.tracer is not None:
        STATE.tracer.write(self, result)
    if recording:
        if result._requires_grad:
            _rebase(self, result)
        elif self._requires_grad or (self._base is not None and self._base._requires_grad):
            _rebase(self, _constant(self, const_name))
    return self


def _snapshot_saved_self(self, node, limit=8):
    """The nodes just built to compute an in-place result may have saved `self` itself
    (e.g. a.mul_(b) saves a for b's gradient); the write is about to overwrite it, so they
    keep a copy of the old value instead, as PyTorch saves `original_self`. Only nodes
    newer than self's own history are touched: older ones must still see the write and
    raise the "modified by an inplace operation" error."""
    stop = {self._grad_fn, self._base._grad_fn if self._base is not None else None}
    todo, seen = [node], set()
    version = self._version
    while todo and len(seen) < limit:
        n = todo.pop()
        if n in seen or n in stop:
            continue
        seen.add(n)
        saved = n.saved
        if saved and any(isinstance(t, Tensor) and t._version is version for t in saved):
            n.saved = tuple(_old_value(t) if isinstance(t, Tensor) and t._version is version
                            and np.may_share_memory(t._data, self._data) else t for t in saved)
            n.versions = tuple(None if not isinstance(t, Tensor) else t._version[0]
                               for t in n.saved)
        todo.extend(t for t, _ in n.next if type(t) is Node)


def _old_value(t):
    """A copy of t's current value that keeps t's current history (for create_graph)."""
    c = _wrap(t._data.copy())
    if STATE.tracer is not None:
        STATE.tracer.alias(c, t)
    c._grad_fn, c._out_idx, c._requires_grad = t._grad_fn, t._out_idx, t._requires_grad
    return c


def _constant(self, torch_name):
    """A stand-in result for a write of constants (zero_, fill_, copy_ of a tensor without
    history) into a tensor with history: it still requires grad, and its old history gets
    zeros, as in PyTorch."""
    edge = _edge(self) if self._requires_grad else (None, 0)
    node = Node(op_name("zero_write", torch_name), _zero_grads, (edge,), (), None, 1)
    t = _wrap(self._data, self._version)
    t._grad_fn, t._requires_grad = node, True
    return t


def _zero_grads(node, gouts):
    g = gouts[0]
    if g is None:
        return (None,)
    from .creation import zeros_like
    return (zeros_like(g),)


_COPY_SLICES = op_name("CopySlices", "CopySlices")


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
    node = Node(_COPY_SLICES, _copy_slices_apply, edges, (), chain, 1)
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


# ------------------------------------------------------------------ in-place methods

def fill_(self, value):
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value._data.ndim} dimensions.")
        check_inplace(self, "fill_")
        if value._data.dtype != self._data.dtype:
            value = value.to(_NP2DT[self._data.dtype])
        return _write(self, value, "fill_", "FillBackward3")
    check_inplace(self, "fill_")
    self._data.fill(value)
    self._version[0] += 1
    if STATE.tracer is not None:
        STATE.tracer.write(self, value)
    if STATE.enabled and (self._requires_grad or
                          (self._base is not None and self._base._requires_grad)):
        _rebase(self, _constant(self, "FillBackward2"))
    return self


def zero_(self):
    check_inplace(self, "zero_")
    self._data.fill(0)
    self._version[0] += 1
    if STATE.tracer is not None:
        STATE.tracer.write(self, 0)
    if STATE.enabled and (self._requires_grad or
                          (self._base is not None and self._base._requires_grad)):
        _rebase(self, _constant(self, "ZeroBackward0"))
    return self


def copy_(self, src, non_blocking=False):
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' (position 1) must be Tensor, not "
                        f"{type(src).__name__}")
    check_inplace(self, "copy_")
    if src._data.dtype != self._data.dtype:
        src = src.to(_NP2DT[self._data.dtype])
    if STATE.enabled and src._requires_grad and src._grad_fn is None:
        src = src.view_as(src)  # a node between the leaf and self, so gradients reach src
    return _write(self, src, "copy_")


def detach_(self):
    if self._base is not None and self._base._requires_grad:
        raise RuntimeError("Can't detach views in-place. Use detach() instead.")
    self._grad_fn = None
    self._out_idx = 0
    self._requires_grad = False
    return self


def requires_grad_(self, requires_grad=True):
    self.requires_grad = requires_grad
    return self


METHODS = {"fill_": fill_, "zero_": zero_, "copy_": copy_, "detach_": detach_,
           "requires_grad_": requires_grad_}
install_methods(METHODS)
