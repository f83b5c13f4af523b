"""The tracer: records the eager frontend's primitive calls as an IR graph.

While a `Tracer` is active on a thread (`STATE.tracer`), the real eager computation runs as
usual and each primitive call is also appended to `tracer.graph`:

- `dispatch` reports every primitive (`record`), `wrap_view` every view (`view`), the
  in-place machinery every write (`write`), `Tensor.detach` asks for a gradient cut
  (`detach`), and conversions to Python data (`item`, `bool`, `tolist`, `numpy`...) ask
  whether they are allowed (`concretize`).
- A tensor is known by its storage array (so aliases such as autograd's saved copies
  resolve to the same value): a graph input, a recorded result, or a view of one. A tensor
  the tracer has never seen and that existed before tracing (a captured global or closure)
  becomes a graph constant, a uniform one a `full` node. A tensor created during tracing
  that was never recorded means frontend code computed it outside `dispatch`: using it
  raises an internal TracingError naming the op, so it never silently becomes a constant.
- Each recorded array is a *root* or a *view* of a root with its chain of view primitives.
  A write into a view scatters the new values into the root (positions from `iota` through
  the same chain, then `index_put`); a view of a root written since it was derived is
  re-derived on its next use, so aliasing reads exactly as in eager.
- Values computed from the graph inputs (or from random draws) are *dynamic*. Converting one
  to Python data is data-dependent control flow: strict tracing raises TracingError naming
  the user line; non-strict tracing lets the current value through (the graph keeps it as
  a constant) with a TracerWarning naming the line, as PyTorch does.
- With `track_grad=True` (jit tracing), values that eager autograd would not differentiate
  through (results of `detach()`, ops run under `no_grad`) are collected in
  `graph.stop_gradient`, so graph autodiff cuts gradients exactly where eager does.

`replay(graph, tensors)` is the converse: it runs a graph node by node through `dispatch`,
so eager autograd (or an enclosing tracer) sees every op.
"""
from __future__ import annotations

import contextlib
import itertools
import linecache
import os
import sys
import warnings

import numpy as np

from ..ir import dtypes as D
from ..ir.graph import Graph, Value
from ..ir.ops import PRIMITIVES, TensorType
from ..runtime.autograd import STATE
from . import tensor as _tensor_mod
from .tensor import Tensor, _wrap

__all__ = ["Tracer", "TracingError", "TracerWarning", "replay", "is_tracing", "user_location",
           "stop_gradient_values"]

_DATA_SHAPED = frozenset({"nonzero", "unique"})   # result shapes that depend on the data
_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_STDLIB_DIR = os.path.dirname(os.path.abspath(contextlib.__file__)) + os.sep
_serials = itertools.count(1)


class TracingError(RuntimeError):
    """Tracing cannot capture this code (data-dependent control flow, an unsupported
    construct), or an internal recording error; the message names the user line."""


class TracerWarning(UserWarning):
    """The trace may not generalize to other inputs (strict=False let a traced value
    become a constant)."""


def is_tracing() -> bool:
    """True while a tracer records this thread's ops (torch.jit.is_tracing)."""
    return _tensor_mod._tracing != 0 and STATE.tracer is not None


# ---------------------------------------------------------------- user source lines

def _user_frame(depth=2):
    """The innermost frame outside the ember package (and the standard library)."""
    f = sys._getframe(depth)
    while f is not None:
        fn = f.f_code.co_filename
        if not (fn.startswith(_EMBER_DIR) or fn.startswith(_STDLIB_DIR) or fn.startswith("<frozen")):
            return f
        f = f.f_back
    return None


def user_location(depth=2):
    """(file, line, source text) of the user line now running, or (None, None, '')."""
    f = _user_frame(depth + 1)
    if f is None:
        return None, None, ""
    return f.f_code.co_filename, f.f_lineno, linecache.getline(f.f_code.co_filename,
                                                               f.f_lineno).strip()


def _short_source():
    f = _user_frame(3)
    if f is None:
        return None
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno}"


def stop_gradient_values(graph):
    """The values of `graph` that gradients must not flow through (see Tracer)."""
    return getattr(graph, "stop_gradient", None) or set()


# ---------------------------------------------------------------- the recorder

class _Entry:
    """What the tracer knows of one storage array: its current graph value, and for a
    view, its root entry, the view chain from the root (None: unknown) and the root's
    generation its value was derived at."""
    __slots__ = ("value", "root", "chain", "gen", "array", "detached")

    def __init__(self, value, array, root=None, chain=(), detached=False):
        self.value = value
        self.array = array      # kept alive so its id is never reused while tracing
        self.root = self if root is None else root
        self.chain = chain
        self.gen = 0 if root is None else root.gen
        self.detached = detached


def _type_of(arr):
    return TensorType(tuple(arr.shape), D.from_numpy_dtype(arr.dtype))


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


class Tracer:
    """Records into `graph` while active (`with tracer:`). strict: conversions of dynamic
    values to Python raise (else warn); track_grad: collect `graph.stop_gradient`."""

    def __init__(self, graph=None, *, strict=True, track_grad=False, generator=None):
        self.graph = graph if graph is not None else Graph()
        self.strict = strict
        self.track_grad = track_grad
        self.serial = next(_serials)
        self.entries: dict[int, _Entry] = {}
        self.dynamic: set = set()
        if track_grad:
            self.graph.stop_gradient = set()
        self.source = None              # set by replay: the replayed node's own line
        self.generator = generator      # the stream recorded as "the default" (None: ember's)
        self.function_depth = 0         # inside custom autograd.Function forwards
        self._warned_functions = set()
        self._prev = None

    # ------------------------------------------------------------ activation
    def __enter__(self):
        from . import dispatch
        self._prev = STATE.tracer
        STATE.tracer = self
        for m in (_tensor_mod, dispatch):    # their cheap "is any tracer on?" counters
            m._tracing += 1
        return self

    def __exit__(self, *exc):
        from . import dispatch
        STATE.tracer = self._prev
        for m in (_tensor_mod, dispatch):
            m._tracing -= 1
        return False

    @contextlib.contextmanager
    def paused(self):
        """Run eagerly without recording (printing a traced tensor, for instance)."""
        prev = STATE.tracer
        STATE.tracer = None
        try:
            yield
        finally:
            STATE.tracer = prev

    # ------------------------------------------------------------ inputs and lookups
    def add_input(self, t: Tensor, name=None) -> Value:
        """Make t a graph input (dynamic). A tensor whose storage is already an input
        keeps that input."""
        arr = t._data
        e = self.entries.get(id(arr))
        if e is not None and e.array is arr:
            return e.value
        v = self.graph.add_input(_type_of(arr), name)
        self.entries[id(arr)] = _Entry(v, arr)
        self.dynamic.add(v)
        return v

    def current(self, arr) -> Value:
        """The current value of a storage array the tracer knows (an input's, say)."""
        return self._fresh(self.entries[id(arr)]).value

    def value(self, t: Tensor, op="op") -> Value:
        """The graph value of operand t of `op` (a constant if t predates the trace)."""
        return self._entry(t, op).value

    def _entry(self, t, op):
        arr = t._data
        e = self.entries.get(id(arr))
        if e is not None and e.array is arr:
            return self._fresh(e)
        if t.__dict__.get("_traced_in") == self.serial:
            raise TracingError(
                f"internal error while tracing: '{op}' received a {t.dtype} tensor of shape "
                f"{list(arr.shape)} that was computed during tracing without being recorded "
                f"(some ember code produced it outside dispatch); it cannot become a constant "
                f"because it may depend on the traced inputs. Please report this.")
        return self._constant(t)

    def _fresh(self, e):
        root = e.root
        if root is not e and e.gen != root.gen:  # the root was written since e was derived
            if e.chain is None:
                raise TracingError(f"a view whose relation to its base is unknown is read after "
                                   f"the base was modified in place ({self._where()}); clone() "
                                   f"it first")
            e.value = self._chain(root.value, e.chain, e.detached)
            e.gen = root.gen
        return e

    def _constant(self, t):
        if self.track_grad and t._requires_grad:
            raise TracingError(
                f"Cannot insert a Tensor that requires grad as a constant ({self._where()}): a "
                f"{t.dtype} tensor of shape {list(t.shape)} captured from outside the traced "
                f"code. Consider making it a parameter or input, or detaching the gradient.")
        arr = t._data
        flat = arr.reshape(-1)
        if arr.size > 1 and arr.dtype.kind != "V" and bool(np.all(flat == flat[0])):
            v = self._emit("full", [], {"shape": tuple(arr.shape), "dtype": t.dtype,
                                         "value": flat[0]})
        else:
            v = self.graph.add_constant(np.array(arr, copy=True, order="C"))
        e = self.entries[id(arr)] = _Entry(v, arr)
        return e

    # ------------------------------------------------------------ recording
    def _where(self):
        fn, line, text = user_location(3)
        return f"{fn}:{line}: `{text}`" if fn else "an unknown line"

    def _add_node(self, op, inputs, attrs, types):
        node = self.graph.add_node(op, inputs, attrs, out_types=types,
                                   source=self.source or _short_source())
        if PRIMITIVES[op].kind == "random" or any(
                isinstance(v, Value) and v in self.dynamic for v in inputs):
            self.dynamic.update(node.outputs)
        if self.track_grad and not STATE.enabled and not self.function_depth:
            # ops under no_grad: no gradient path
            self.graph.stop_gradient.update(node.outputs)
        return node

    def _emit(self, op, inputs, attrs):
        """Append op with result types from its rule; returns its (first) output."""
        types = PRIMITIVES[op].rule(*[v.type if isinstance(v, Value) else v for v in inputs],
                                    **attrs)
        return self._add_node(op, inputs, attrs, types).outputs[0]

    def _chain(self, v, chain, detached=False):
        for op, attrs in chain:
            v = self._emit(op, [v], attrs)
        if detached and self.track_grad:
            self.graph.stop_gradient.add(v)
        return v

    def record(self, op, args, attrs, outs):
        """dispatch ran primitive `op` on args with attrs, giving the tensors `outs`."""
        ins = [self.value(a, op) if isinstance(a, Tensor) else a for a in args]
        if op in _DATA_SHAPED and any(isinstance(v, Value) and v in self.dynamic for v in ins):
            self._data_dependent(f"'{op}'", "its result's shape depends on the values")
        if "generator" in attrs:
            attrs = self._without_generator(op, attrs)
        node = self._add_node(op, ins, attrs, tuple(_type_of(o._data) for o in outs))
        for o, v in zip(outs, node.outputs):
            arr = o._data
            e = self.entries.get(id(arr))
            if e is None or e.array is not arr:
                self.entries[id(arr)] = _Entry(v, arr)
            # else: the kernel returned an operand's own array: same data, same value

    def _without_generator(self, op, attrs):
        from .ops.random import default_generator
        attrs = dict(attrs)
        gen = attrs.pop("generator")
        default = (self.generator or default_generator).np
        if gen is not None and gen is not default:
            warnings.warn(TracerWarning(
                f"'{op}' at {self._where()} draws from a user generator; the traced graph "
                f"draws from the default generator instead"), stacklevel=2)
        return attrs

    def view(self, x, res, chain, stop_grad=False):
        """res (a new array) is the view of x reached by the view primitives `chain`."""
        xe = self._entry(x, chain[0][0] if chain else "view")
        arr = res._data
        e = self.entries.get(id(arr))
        if e is not None and e.array is arr:
            return
        detached = stop_grad or xe.detached
        v = self._chain(xe.value, chain, detached)
        root = xe.root
        if root is xe:
            rchain = tuple(chain)
        else:
            rchain = None if xe.chain is None else xe.chain + tuple(chain)
        self.entries[id(arr)] = _Entry(v, arr, root, rchain, detached)

    def detach(self, x):
        """x.detach(): same storage, and (when tracking gradients) a value gradients do not
        flow through: an identity reshape listed in graph.stop_gradient."""
        if not self.track_grad or self.function_depth:
            return _wrap(x._data, x._version)
        d = _wrap(x._data.view(), x._version)
        self.view(x, d, (("reshape", {"shape": tuple(x._data.shape)}),), stop_grad=True)
        return d

    def enter_function(self, cls):
        """A custom autograd.Function runs: the graph holds its forward's primitives, and
        graph autodiff differentiates them (its Python backward cannot be recorded), so the
        forward's no_grad/detach are not gradient cuts. Warns once per Function."""
        self.function_depth += 1
        if self.track_grad and cls not in self._warned_functions:
            self._warned_functions.add(cls)
            name = getattr(cls, "__name__", "Function")
            hook = " (a module's full backward hook)" if name == "_Identity" else ""
            warnings.warn(TracerWarning(
                f"autograd.Function {name}{hook} at {self._where()} is traced through its "
                f"forward: gradients of the traced graph differentiate the forward's ops "
                f"instead of running {name}.backward"), stacklevel=3)

    def write(self, t, src):
        """t's storage was overwritten in place by src (a Tensor broadcastable to t, or a
        Python scalar); views of it and its root now read the new values."""
        e = self._entry(t, "in-place write")
        tt = e.value.type
        if isinstance(src, Tensor):
            v = self.value(src, "in-place write")
            if v.dtype is not tt.dtype:
                v = self._emit("convert", [v], {"dtype": tt.dtype})
            if tuple(v.shape) != tuple(tt.shape):
                v = self._emit("expand", [v], {"shape": tuple(tt.shape)})
        else:
            v = self._emit("full", [], {"shape": tuple(tt.shape), "dtype": tt.dtype,
                                         "value": tt.dtype.np.type(src)})
        self._store(e, v)

    def accumulate(self, t, g):
        """t += g was done in place (gradient accumulation into .grad)."""
        e = self._entry(t, "add")
        self._store(e, self._emit("add", [e.value, self.value(g, "add")], {}))

    def _store(self, e, v):
        root = e.root
        if root is e:
            e.value = v
            e.gen += 1
            return
        if e.chain is None:
            raise TracingError(f"in-place write into a view whose relation to its base is "
                               f"unknown ({self._where()}); clone() it first")
        root.value = self._scatter(root.value, v, e.chain)
        root.gen += 1
        e.value, e.gen = v, root.gen

    def alias(self, new, old):
        """new (a fresh array) holds a copy of old's current value."""
        v = self.value(old, "copy")
        self.entries[id(new._data)] = _Entry(v, new._data)

    def _scatter(self, base, v, chain):
        """base with the elements the view chain selects replaced by v (view-shaped)."""
        shape = tuple(base.shape)
        n = _numel(shape)
        pos = self._emit("iota", [], {"shape": (n,), "dtype": D.int64, "start": 0, "step": 1})
        pos = self._chain(self._emit("reshape", [pos], {"shape": shape}), chain)
        m = _numel(pos.shape)
        pos = self._emit("reshape", [pos], {"shape": (m,)})
        flat = self._emit("reshape", [base], {"shape": (n,)})
        vals = self._emit("reshape", [v], {"shape": (m,)})
        out = self._emit("index_put", [flat, vals, pos], {"positions": (0,), "accumulate": False})
        return self._emit("reshape", [out], {"shape": shape})

    def opaque(self, op, inputs, outputs, random=False):
        """See ember.frontend.tensor.opaque."""
        dynamic = [t for t in inputs if isinstance(t, Tensor) and self._entry(t, op).value
                   in self.dynamic]
        if dynamic or random:
            why = ("it draws random numbers outside the graph's random primitives" if random
                   else "it is computed outside the graph's primitives, from a value that "
                        "depends on the traced inputs")
            raise TracingError(f"'{op}' at {self._where()} cannot be traced: {why}")
        for o in outputs:
            o.__dict__.pop("_traced_in", None)

    # ------------------------------------------------------------ data-dependence
    def is_dynamic(self, t) -> bool:
        """Computed from the graph inputs or random draws (or, unrecorded, during tracing:
        then it may be)."""
        arr = t._data
        e = self.entries.get(id(arr))
        if e is None or e.array is not arr:
            return t.__dict__.get("_traced_in") == self.serial
        return self._fresh(e).value in self.dynamic

    def concretize(self, t, what):
        """t is being converted to Python data: allowed for constants; for a dynamic value,
        an error (strict) or a TracerWarning, both naming the user line."""
        if self.is_dynamic(t):
            self._data_dependent(f"{what} of a tensor computed from the traced inputs",
                                 "the traced graph cannot follow data-dependent Python control "
                                 "flow or values: it would keep this call's value as a "
                                 "constant")

    def _data_dependent(self, what, why):
        fn, line, text = user_location(3)
        where = f"{fn}:{line}" if fn else "an unknown line"
        msg = f"{what}, at {where}:\n    {text}\n{why[0].upper()}{why[1:]}."
        if self.strict:
            raise TracingError(msg + " Express it with tensor ops (e.g. ember.where), or trace "
                                     "with strict=False to record the traced value as a "
                                     "constant.")
        w = TracerWarning(msg + " The trace might not generalize to other inputs.")
        if fn:
            warnings.warn_explicit(w, TracerWarning, fn, line)
        else:
            warnings.warn(w, stacklevel=3)


# ---------------------------------------------------------------- running a graph eagerly

def replay(graph, tensors, *, generator=None, detach_stopped=True, pinned=None, env=None):
    """Run `graph` node by node through `dispatch` on `tensors` (one per input); returns
    the output tensors. Eager autograd records every op (and an active tracer records
    them too); values in graph.stop_gradient are detached, as in the traced code.
    pinned: {value: tensor} for nodes not to run again (random draws already made);
    env: a dict to fill with every value's tensor."""
    from .dispatch import dispatch
    from .ops.indexing import dispatch_indexed
    from .ops.random import default_generator
    stopped = stop_gradient_values(graph) if detach_stopped else ()
    tracer = STATE.tracer
    env = {} if env is None else env
    env.update(zip(graph.inputs, tensors))
    for v, arr in graph.constants.items():
        env[v] = _tensor_mod.constant(_wrap(arr))
    for n in graph.nodes:
        if pinned and all(o in pinned for o in n.outputs):
            env.update((o, pinned[o]) for o in n.outputs)
            continue
        args = [env[v] if isinstance(v, Value) else v for v in n.inputs]
        attrs = n.attrs
        if PRIMITIVES[n.op].kind == "random":
            attrs = dict(attrs, generator=(generator or default_generator).np)
        if tracer is not None:
            tracer.source = n.source
        try:
            if n.op in ("index", "index_put"):
                out = dispatch_indexed(n.op, *args, **attrs)
            else:
                out = dispatch(n.op, *args, **attrs)
        finally:
            if tracer is not None:
                tracer.source = None
        outs = out if type(out) is tuple else (out,)
        for v, o in zip(n.outputs, outs):
            if v in stopped:
                o = o.detach()
            env[v] = o
    return [env[v] for v in graph.outputs]
