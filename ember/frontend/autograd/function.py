"""autograd.Function: user-defined ops with a hand-written backward.

`apply` runs `forward` under no_grad, then (when grad mode is on and an input requires
grad) attaches one engine Node to the tensor outputs whose `apply` calls the class's
`backward`. Saved outputs are stored as history-free aliases (no node -> tensor -> node
cycle) and get their grad_fn back when unpacked.
"""
from __future__ import annotations

import functools
import weakref

from ...runtime.autograd import STATE, Node, OpName, op_name
from ..tensor import Tensor, _wrap

__all__ = ["Function", "FunctionCtx", "once_differentiable", "InplaceFunction"]


class FunctionCtx:
    """The `ctx` passed to forward/setup_context and backward; takes arbitrary attributes."""

    materialize_grads = True
    needs_input_grad = ()
    _node = None
    _to_save = None
    _dirty = ()
    _non_diff = ()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        self.saved_for_forward = tensors

    def mark_dirty(self, *args):
        self._dirty = args

    def mark_non_differentiable(self, *args):
        self._non_diff = args

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self):
        node = self._node() if self._node is not None else None
        if node is None:  # forward ran without recording: what was saved, as saved
            return tuple(self._to_save or ())
        saved = node.unpack_saved()
        out = []
        for t, idx in zip(saved, node.ctx[1]):
            if t is not None and idx is not None:  # a saved output gets its grad_fn back
                t = _wrap(t._data, t._version)
                t._grad_fn, t._out_idx, t._requires_grad = node, idx, True
            out.append(t)
        return tuple(out)

    saved_variables = saved_tensors


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        # grad_fn.name() of a custom Function, as PyTorch names its backward class
        cls._node_name = op_name("Function", name + "Backward")


class Function(metaclass=_FunctionMeta):
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`; call `.apply`.
    The newer style (`forward(*args)` plus `setup_context(ctx, inputs, output)`) works too."""

    generate_vmap_rule = False

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: https://pytorch.org/docs/stable/autograd."
                           "html#torch.autograd.Function)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        recording = STATE.enabled
        ctx.needs_input_grad = tuple(recording and isinstance(a, Tensor) and a.requires_grad
                                     for a in args)
        new_style = cls.setup_context is not Function.setup_context
        prev = STATE.enabled
        STATE.enabled = False
        tracer = STATE.tracer
        if tracer is not None:   # a graph records the forward's ops (see Tracer.enter_function)
            tracer.enter_function(cls)
        try:
            if new_style:
                raw = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, raw)
            else:
                raw = cls.forward(ctx, *args, **kwargs)
        finally:
            STATE.enabled = prev
            if tracer is not None:
                tracer.function_depth -= 1
        if not (recording and any(ctx.needs_input_grad)):
            return raw
        return _record(cls, ctx, args, raw)


class InplaceFunction(Function):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace


def _edge(t):
    if not isinstance(t, Tensor):
        return (None, 0)
    from ..dispatch import grad_edge
    return grad_edge(t) or (None, 0)


def _record(cls, ctx, args, raw):
    single = not isinstance(raw, tuple)
    outs = (raw,) if single else raw
    ids = {id(a) for a in args if isinstance(a, Tensor)}
    dirty = {id(t) for t in ctx._dirty}
    non_diff = {id(t) for t in ctx._non_diff}
    for t in ctx._dirty:
        if t._requires_grad and t.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")
    edges = tuple(_edge(a) for a in args)
    result = []
    meta = []
    for o in outs:
        if not isinstance(o, Tensor):
            result.append(o)
            meta.append(None)
            continue
        if id(o) in ids and id(o) not in dirty:
            # an input returned as is: the output is a new alias carrying this node
            o = _wrap(o._data, o._version)
        result.append(o)
        meta.append((o._data.shape, o._data.dtype))
    to_save = ctx._to_save or ()
    out_pos = {id(o): i for i, o in enumerate(outs) if isinstance(o, Tensor)}
    saved_out_idx = tuple(out_pos.get(id(t)) if t is not None else None for t in to_save)
    # saved inputs keep their history (a create_graph backward differentiates through them)
    saved = tuple(t if i is None else _wrap(t._data, t._version)
                  for t, i in zip(to_save, saved_out_idx))
    in_shapes = tuple(a._data.shape if isinstance(a, Tensor) else None for a in args)
    node = Node(cls._node_name, _apply_backward, edges, saved,
                (ctx, saved_out_idx, cls, meta, in_shapes), len(outs))
    ctx._node = weakref.ref(node)
    if STATE.anomaly:
        from .anomaly import record_trace
        record_trace(node)
    for i, o in enumerate(result):
        if not isinstance(o, Tensor):
            continue
        differentiable = o._data.dtype.kind == "f" and id(outs[i]) not in non_diff
        if differentiable:
            o._grad_fn, o._out_idx, o._requires_grad = node, i, True
        elif id(outs[i]) in non_diff:
            o._requires_grad = False
    return result[0] if single else tuple(result)


def _apply_backward(node, gouts):
    ctx, _, cls, meta, _ = node.ctx
    if ctx.materialize_grads:
        from ..ops.creation import zeros
        gouts = [zeros(m[0], dtype=_dtype(m[1])) if g is None and m is not None else g
                 for g, m in zip(gouts, meta)]
    grads = cls.backward(ctx, *gouts)
    if not isinstance(grads, tuple):
        grads = (grads,)
    n = len(node.next)
    if len(grads) != n:
        if len(grads) < n or any(g is not None for g in grads[n:]):
            raise RuntimeError(f"function {node.name.torch} returned an incorrect number of "
                               f"gradients (expected {n}, got {len(grads)})")
        grads = grads[:n]
    return tuple(_check_grad(node, i, g) for i, g in enumerate(grads))


def _dtype(np_dtype):
    from ...ir.dtypes import from_numpy_dtype
    return from_numpy_dtype(np_dtype)


def _check_grad(node, i, g):
    target = node.next[i][0]
    if g is None:
        return None
    if target is None:
        if not isinstance(g, Tensor) and g is not None:
            raise RuntimeError(f"function {node.name.torch} returned a gradient different than "
                               f"None at position {i + 1}, but the corresponding forward input "
                               f"was not a Variable")
        return None
    if not isinstance(g, Tensor):
        raise TypeError(f"function {node.name.torch} returned a gradient of type "
                        f"{type(g).__name__} at position {i}; expected a Tensor or None")
    shape = node.ctx[4][i]
    got = g._data.shape
    if got != shape:
        try:
            g = g.sum_to_size(shape)
        except Exception:
            g = None
        if g is None or g._data.shape != shape:
            raise RuntimeError(f"Function {node.name.torch} returned an invalid gradient at index "
                               f"{i} - got {list(got)} but expected shape compatible with "
                               f"{list(shape)}") from None
    dt = target._data.dtype if type(target) is not Node else None
    if dt is not None and g._data.dtype != dt:
        g = g.to(_dtype(dt))
    return g


def once_differentiable(fn):
    """Run backward without recording, so a double backward through it fails loudly."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = STATE.enabled
        STATE.enabled = False
        try:
            out = fn(ctx, *args)
        finally:
            STATE.enabled = prev
        return out
    return wrapper


_ = OpName  # re-exported name for callers building custom nodes
