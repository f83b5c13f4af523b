"""`dispatch`: the one entry point every primitive goes through.

Eager: look up the kernel for the operands' device, run it, wrap the result, and when
grad mode is on and an operand requires grad, record a tape node whose backward is the
op's VJP rule. While a tracer is active (`ember.frontend.tracer`), the call is also
recorded as a node of its IR graph; views are recorded by `wrap_view`.
"""
from __future__ import annotations

import numpy as np

from ..ir.dtypes import FLOAT_DTYPES
from ..runtime.autograd import Node, STATE
from ..runtime.registry import KERNELS
from .autograd.rules import VJP
from .tensor import Tensor, _wrap, wrap_view

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
            if a._requires_grad:
                fn = a._grad_fn
                edges.append((fn, a._out_idx) if fn is not None else (a, 0))
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
        if STATE.enabled and any(isinstance(a, Tensor) and a._requires_grad for a in args):
            _record(op, args, outs, attrs)
        if _tracing and STATE.tracer is not None:
            STATE.tracer.record(op, args, attrs, outs)
        return outs
    res = _wrap(out if type(out) is _ndarray else np.asarray(out))
    if STATE.enabled:
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                _record(op, args, (res,), attrs)
                break
    if _tracing and STATE.tracer is not None:
        STATE.tracer.record(op, args, attrs, (res,))
    return res


def record_view_chain(x: Tensor, res: Tensor, chain):
    """One backward node for `res`, a view reached from x by several view primitives
    (x[1] is a slice then a reshape): its VJP applies theirs in reverse order, so a
    multi-step view costs one node, not one per step."""
    fn = x._grad_fn
    edge = (fn, x._out_idx) if fn is not None else (x, 0)
    node = Node(chain[0][0], _apply_chain, (edge,), (), _Ctx(chain, (x._data.shape,),
                                                                (x._data.dtype,), (True,)), 1)
    if STATE.anomaly:
        from .autograd.anomaly import record_trace
        record_trace(node)
    res._grad_fn = node
    res._out_idx = 0
    res._requires_grad = True


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
    if STATE.enabled and x._requires_grad:
        _record(op, (x,), (res,), attrs)
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
