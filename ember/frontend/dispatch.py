"""`dispatch`: the one entry point every primitive goes through.

Eager: look up the kernel for the operands' device, run it, wrap the result, and when
grad mode is on and an operand requires grad, record a tape node whose backward is the
op's VJP rule. While a tracer is active (`ember.frontend.tracer`), the call is also
recorded as a node of its IR graph; views are recorded by `wrap_view`.

An operand's gradient edge comes from `grad_edge`, which first brings a stale view's
history up to date (`refresh_view`: its base was written in place since the view's
history was recorded, so the view is re-derived from the base's current history).
"""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import FLOAT_DTYPES
from ..runtime.autograd import Node, STATE, op_name
from ..runtime.cpu.strided import storage_of
from ..runtime.registry import KERNELS
from .autograd.rules import VJP
from .tensor import Tensor, _wrap, view_meta_error, wrap_view

_CPU = KERNELS["cpu"]
_tracing = 0   # tracers recording on any thread (kept by Tracer): a cheap first check
_FLOAT_NP = frozenset(d.np for d in FLOAT_DTYPES)
_ndarray = np.ndarray
_EMPTY = {}


class _Ctx:
    """What a VJP rule sees of the forward call."""
    __slots__ = ("attrs", "shapes", "dtypes", "needs", "saved", "out_meta")

    def __init__(self, attrs, shapes, dtypes, needs):
        self.attrs = attrs
        self.shapes = shapes
        self.dtypes = dtypes
        self.needs = needs
        self.saved = ()
        self.out_meta = None


def _apply_rule(node, gouts):
    ctx = node.ctx
    rule = VJP[node.name]
    saved = node.unpack_saved()
    if STATE.enabled and rule.save:
        saved = _with_history(node, rule.save, saved)
    ctx.saved = saved
    if node.nout == 1:
        g = gouts[0]
        if g is None:
            return (None,) * len(node.next)
        return rule.fn(ctx, g)
    return rule.fn(ctx, *gouts)


def _with_history(node, spec, saved):
    """Under create_graph, saved outputs must lead back to this node (they were stored
    without it to avoid a reference cycle), so higher derivatives flow through them."""
    out = list(saved)
    for k, i in enumerate(spec):
        if i < 0 and isinstance(out[k], Tensor):
            s = out[k]
            r = _wrap(s._data, s._version)
            r._grad_fn = node
            r._out_idx = -1 - i
            r._requires_grad = True
            out[k] = r
    return tuple(out)


def _record(op, args, outs, attrs):
    """Attach a backward node to `outs` (a tuple of Tensors)."""
    rule = VJP.get(op)
    if rule is None:  # non-differentiable op: outputs don't require grad
        return
    edges = []
    needs = []
    shapes = []
    dtypes = []
    for a in args:
        if isinstance(a, Tensor):
            shapes.append(a._data.shape)
            dtypes.append(a._data.dtype)
            if a._base is None:
                if a._requires_grad:
                    fn = a._grad_fn
                    edges.append((fn, a._out_idx) if fn is not None else (a, 0))
                    needs.append(True)
                    continue
            else:
                edge = grad_edge(a)   # a view: its history may be stale
                if edge is not None:
                    edges.append(edge)
                    needs.append(True)
                    continue
        else:
            shapes.append(())
            dtypes.append(None)
        edges.append((None, 0))
        needs.append(False)
    saved = ()
    if rule.save:
        saved = tuple(_saved(args, outs, i) for i in rule.save)
    ctx = _Ctx(attrs, shapes, dtypes, needs)
    if len(outs) > 1:
        ctx.out_meta = [(o._data.shape, o._data.dtype) for o in outs]
    node = Node(op, _apply_rule, tuple(edges), saved, ctx, len(outs))
    if STATE.anomaly:
        from .autograd.anomaly import record_trace
        record_trace(node)
    for i, o in enumerate(outs):
        if o._data.dtype in _FLOAT_NP:  # only floating outputs carry gradients
            o._grad_fn = node
            o._out_idx = i
            o._requires_grad = True


def grad_edge(t):
    """Where t's gradient goes: (node, output index), (t, 0) for a leaf, or None. A view's
    history is brought up to date first (see refresh_view)."""
    if t._base is None:
        if not t._requires_grad:
            return None
        fn = t._grad_fn
        return (fn, t._out_idx) if fn is not None else (t, 0)
    if t._view_version != t._version[0]:
        refresh_view(t)
    fn = t._grad_fn
    if fn is not None:
        return (fn, t._out_idx)
    if t._requires_grad and t._view_meta is None:
        return (t, 0)   # a view the user made a leaf (its base does not require grad)
    # requires grad only through its base, but was made without autograd: PyTorch gives
    # it no gradient edge (what flows into it is dropped)
    return None


def _wants_grad(a):
    return isinstance(a, Tensor) and (a._requires_grad or
                                      a._base is not None and a._base._requires_grad)


def _saved(args, outs, i):
    """Saved tensors are aliases without history: same data and version counter, no
    grad_fn, so a saved output does not form a reference cycle with its own node."""
    if i < 0:
        t = outs[-1 - i]
        return _wrap(t._data, t._version)
    # inputs are kept as they are: their history is needed for higher derivatives, and a
    # node referring to its inputs forms no cycle
    return args[i]


def _unwrap(a):
    return a._data if isinstance(a, Tensor) else a


def dispatch(op: str, *args, **attrs):
    """Run primitive `op` on `args` (Tensors, or NumPy scalars of the operand dtype)."""
    try:
        out = _CPU[op](*[a._data if isinstance(a, Tensor) else a for a in args], **attrs)
    except (ValueError, TypeError, IndexError) as e:
        raise _explain(op, args, attrs, e) from None
    if type(out) is tuple:
        outs = tuple(_wrap(o if type(o) is _ndarray else np.asarray(o)) for o in out)
        if STATE.enabled and any(_wants_grad(a) for a in args):
            _record(op, args, outs, attrs)
        if _tracing and STATE.tracer is not None:
            STATE.tracer.record(op, args, attrs, outs)
        return outs
    res = _wrap(out if type(out) is _ndarray else np.asarray(out))
    if STATE.enabled:
        for a in args:
            # (a view also requires grad when its base came to since it was made)
            if isinstance(a, Tensor) and (a._requires_grad or a._base is not None
                                          and a._base._requires_grad):
                _record(op, args, (res,), attrs)
                break
    if _tracing and STATE.tracer is not None:
        STATE.tracer.record(op, args, attrs, (res,))
    return res


def record_view_chain(x: Tensor, res: Tensor, chain):
    """One backward node for `res`, a view reached from x by several view primitives
    (x[1] is a slice then a reshape): its VJP applies theirs in reverse order, so a
    multi-step view costs one node, not one per step."""
    if x._base is None:
        fn = x._grad_fn
        edge = (fn, x._out_idx) if fn is not None else (x, 0)
    else:
        edge = grad_edge(x) or (None, 0)
    arr = x._data
    node = Node(chain[0][0], _apply_chain, (edge,), (),
                _Ctx(chain, (arr.shape,), (arr.dtype,), (True,)), 1)
    if STATE.anomaly:
        from .autograd.anomaly import record_trace
        record_trace(node)
    res._grad_fn = node
    res._out_idx = 0
    res._requires_grad = True


_REGENERATED = op_name("view_replay", "AsStridedBackward0")


def refresh_view(v: Tensor):
    """Re-derive view v's history from its base's current history: the base, or another
    view of it, was written in place since v's history was recorded (v's version moved
    on), so v's recorded node leads to values that are gone. PyTorch regenerates such a
    view's grad_fn the same lazy way (an AsStridedBackward0 node on the base's history)."""
    base = v._base
    old = v._grad_fn
    if old is None and not base._requires_grad:
        return   # no gradient flows through v either way
    if v._view_meta is not None:
        raise view_meta_error(v, True)
    version = v._version[0]
    node = _regenerated_node(v, base)
    if node is not None:
        if old is not None and old.retained and getattr(v, "_retains_grad", False):
            ref = old.retained.pop(v._out_idx, None)   # retain_grad follows the tensor
            if ref is not None:
                node.retained = {0: ref}
        v._grad_fn = node
        v._out_idx = 0
        v._requires_grad = True
    v._view_version = version


def _regenerated_node(v, base):
    """v's node on the base's history: its view chain replayed when it still leads from
    the base's memory layout to v's, else an as_strided view of the base's storage (the
    base's layout changed); None when v no longer lies in the base's memory."""
    b, a = base._data, v._data
    chain = v._view_chain
    if chain is not None and _replays(b, chain, a):
        name, apply, attrs = _REGENERATED, _apply_chain, chain
    else:
        root, off = storage_of(b)
        vroot, voff = storage_of(a)
        if root is not vroot:
            return None
        isz = max(a.itemsize, 1)
        name, apply = "as_strided", _apply_rule
        attrs = dict(size=a.shape, stride=tuple(s // isz for s in a.strides),
                     storage_offset=voff, in_stride=tuple(s // isz for s in b.strides),
                     in_offset=off)
    node = Node(name, apply, (grad_edge(base) or (None, 0),), (),
                _Ctx(attrs, (b.shape,), (b.dtype,), (True,)), 1)
    if STATE.anomaly:
        from .autograd.anomaly import record_trace
        record_trace(node)
    return node


def _replays(arr, chain, target):
    """Whether applying the view ops of `chain` to arr gives exactly target's layout."""
    try:
        for op, attrs in chain:
            arr = _CPU[op](arr, **attrs)
    except (ValueError, TypeError, IndexError):
        return False
    return (arr.shape == target.shape and arr.strides == target.strides and
            arr.__array_interface__["data"][0] == target.__array_interface__["data"][0])


def _apply_chain(node, gouts):
    g = gouts[0]
    if g is None:
        return (None,)
    from ..ir.dtypes import from_numpy_dtype
    from ..ir.ops import PRIMITIVES, TensorType
    ctx = node.ctx
    dtype = ctx.dtypes[0]
    shapes = [ctx.shapes[0]]
    for op, attrs in ctx.attrs[:-1]:  # the input shape of each later step
        t = TensorType(tuple(shapes[-1]), from_numpy_dtype(dtype))
        shapes.append(PRIMITIVES[op].rule(t, **attrs)[0].shape)
    for (op, attrs), shape in zip(reversed(ctx.attrs), reversed(shapes)):
        g = VJP[op].fn(_Ctx(attrs, (shape,), (dtype,), (True,)), g)[0]
    return (g,)


def dispatch_view(op: str, x: Tensor, **attrs):
    """Like dispatch, for kernels that return a view of x: the result shares x's version
    counter (in-place writes through either are seen by both) and remembers its base."""
    try:
        out = _CPU[op](x._data, **attrs)
    except (ValueError, TypeError, IndexError) as e:
        raise _explain(op, (x,), attrs, e) from None
    res = wrap_view(x, out, ((op, attrs),))
    if STATE.enabled and (x._requires_grad or x._base is not None and x._base._requires_grad):
        _record(op, (x,), (res,), attrs)
        if not x._requires_grad:   # (res was marked stale: its history is now recorded)
            res._view_version = res._version[0]
    return res


def _explain(op, args, attrs, err):
    """Turn a kernel's NumPy error into PyTorch's exception type with a clear message,
    using the op's shape/dtype rule when it can say what is wrong."""
    from ..ir.ops import PRIMITIVES, TensorType
    from ..ir.dtypes import from_numpy_dtype
    opdef = PRIMITIVES.get(op)
    if opdef is not None:
        types = [TensorType(tuple(a._data.shape), from_numpy_dtype(a._data.dtype))
                 if isinstance(a, Tensor) else a for a in args]
        try:
            opdef.rule(*types, **attrs)
        except (RuntimeError, TypeError, IndexError) as rule_err:
            return rule_err
        except Exception:
            pass
    shapes = ", ".join(str(tuple(a._data.shape)) + " " + str(a._data.dtype)
                       for a in args if isinstance(a, Tensor))
    if isinstance(err, IndexError):
        return IndexError(f"{op}: {err} (operands: {shapes})")
    return RuntimeError(f"{op}: {err} (operands: {shapes})")
