"""`ember.jit.trace` and the traced callables: recording, calling, and autograd through them.

A `_Program` holds what one traced callable knows: the function (absent once loaded from a
file), the module whose parameters and buffers are graph inputs, the example inputs, and
one `_Trace` per training-mode configuration of that module (a tuple of every submodule's
`training` flag): calling in a configuration not traced yet traces again on the stored
examples, with buffers and the random generator restored afterwards, so train() and eval()
are respected the way eager code respects them.

A `_Trace` is one graph: inputs are the flattened tensor arguments, then parameters, then
buffers; outputs are the flattened results, then the new values of inputs the code wrote
in place (BatchNorm's running statistics), which calls copy back. Calls run the graph with
the reference interpreter. When inputs require grad, a `_GradPlan` (per set of inputs)
holds the joint graph of `ember.compiler.autodiff` and its forward/backward partition; the
call records one autograd node whose backward runs the backward graph (or, under
create_graph, replays the joint graph through the eager ops so higher derivatives exist).
"""
from __future__ import annotations

import inspect

import numpy as np

from ..ir.graph import Graph, Node as IRNode
from ..ir.ops import PRIMITIVES
from ..runtime.autograd import Node, STATE, op_name
from ..runtime.interpreter import run_graph
from ..frontend.tensor import Tensor, _wrap
from ..frontend.tracer import Tracer, TracingError, replay
from ._code import python_code

__all__ = ["trace", "TracedFunction"]


# ---------------------------------------------------------------- nested structures

def flatten(obj, leaves, path="", names=None):
    """Append obj's tensors to `leaves` (and their dotted paths to `names`); returns the
    structure spec: ("T",), ("tuple"|"list", [specs]), ("dict", keys, [specs]),
    ("namedtuple", type, [specs]) or ("C", value) for anything else (kept as is)."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        if names is not None:
            names.append(path or "input")
        return ("T",)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return ("namedtuple", type(obj),
                [flatten(v, leaves, _join(path, f), names) for f, v in zip(obj._fields, obj)])
    if isinstance(obj, (tuple, list)):
        return ("tuple" if isinstance(obj, tuple) else "list",
                [flatten(v, leaves, _join(path, str(i)), names) for i, v in enumerate(obj)])
    if isinstance(obj, dict):
        keys = list(obj)
        return ("dict", keys, [flatten(obj[k], leaves, _join(path, str(k)), names)
                               for k in keys])
    return ("C", obj)


def _join(path, key):
    return f"{path}_{key}" if path else key


def unflatten(spec, leaves):
    it = iter(leaves)
    return _build(spec, it)


def _build(spec, it):
    kind = spec[0]
    if kind == "T":
        return next(it)
    if kind == "C":
        return spec[1]
    if kind == "dict":
        return {k: _build(s, it) for k, s in zip(spec[1], spec[2])}
    if kind == "namedtuple":
        return spec[1](*[_build(s, it) for s in spec[2]])
    items = [_build(s, it) for s in spec[1]]
    return tuple(items) if kind == "tuple" else items


def _spec_mismatch(want, got, where="inputs"):
    return (f"the traced code was traced with {where} structured as {_spec_text(want)} and "
            f"is called with {_spec_text(got)}; trace again for this structure")


def _spec_text(spec):
    kind = spec[0]
    if kind == "T":
        return "Tensor"
    if kind == "C":
        return repr(spec[1])
    if kind == "dict":
        return "{" + ", ".join(f"{k!r}: {_spec_text(s)}" for k, s in zip(spec[1], spec[2])) + "}"
    inner = ", ".join(_spec_text(s) for s in spec[-1])
    return {"tuple": f"({inner})", "list": f"[{inner}]"}.get(kind, f"{kind}({inner})")


# ---------------------------------------------------------------- running graphs

class _DefaultRNG:
    """Stands for the default generator's current NumPy stream (manual_seed replaces it),
    so a graph's random draws follow ember's seeding exactly as eager draws do."""

    def __getattr__(self, name):
        from ..frontend.ops.random import default_generator
        return getattr(default_generator.np, name)


_RNG = _DefaultRNG()


def executable(graph):
    """graph, with its random draws given the default generator (the IR records none)."""
    if not any(PRIMITIVES[n.op].kind == "random" for n in graph.nodes):
        return graph
    g = Graph(graph.name)
    g.inputs, g.outputs, g.constants = graph.inputs, graph.outputs, graph.constants
    g.nodes = [IRNode(n.op, n.inputs, dict(n.attrs, generator=_RNG), n.outputs, n.source)
               if PRIMITIVES[n.op].kind == "random" else n for n in graph.nodes]
    return g


_COPYING = frozenset({"copy", "pad", "cat"})   # movement kernels that never return views


def alias_roots(graph):
    """value -> the value whose memory it may share: movement kernels may return views of
    their operand, so results of a chain of them share its root."""
    root = {}
    for n in graph.nodes:
        if PRIMITIVES[n.op].kind == "movement" and n.op not in _COPYING:
            src = n.value_inputs()[0]
            for o in n.outputs:
                root[o] = root.get(src, src)
    return root


def _results(tr, arrays):
    """Output tensors; one that may share memory with an input is copied (the graph's
    results are fresh tensors: they carry no view relation to the caller's)."""
    return [_wrap(np.array(a, copy=True) if i in tr.input_aliases else a)
            for i, a in enumerate(arrays)]


# ---------------------------------------------------------------- one traced graph

class _Trace:
    """One graph with its calling convention (see the module docstring)."""

    def __init__(self, graph, in_spec, out_spec, n_user, n_out, mutated, feeds, names):
        self.graph = graph
        self.in_spec = in_spec
        self.out_spec = out_spec
        self.n_user = n_user            # flattened tensor arguments (then params, buffers)
        self.n_out = n_out              # user outputs (then written-back inputs)
        self.mutated = mutated          # graph input index per extra output
        self.feeds = feeds              # per flat input: the graph input it feeds
        self.first = [feeds.index(gi) for gi in range(len(graph.inputs))]
        self.names = names              # the flat inputs' names (arguments, parameters...)
        self.exe = executable(graph)
        self.plans = {}
        roots = alias_roots(graph)
        ins = set(graph.inputs)
        self.input_aliases = {i for i, v in enumerate(graph.outputs[:n_out])
                              if roots.get(v, v) in ins}

    def check(self, flat):
        """Types as traced, and inputs that were one tensor when traced still one."""
        for gi, (v, pos) in enumerate(zip(self.graph.inputs, self.first)):
            a = flat[pos]._data
            if a.dtype != v.dtype.np or tuple(a.shape) != tuple(v.shape):
                raise RuntimeError(
                    f"{self.graph.name}: input '{self.names[pos]}' was traced as {v.dtype} "
                    f"{list(v.shape)} and is now {flat[pos].dtype} {list(a.shape)}; a traced "
                    f"graph is specialized to its example's shapes and dtypes: trace again with "
                    f"an example of this shape")
        for pos, gi in enumerate(self.feeds):
            q = self.first[gi]
            if q != pos and flat[pos]._data is not flat[q]._data:
                raise RuntimeError(
                    f"{self.graph.name}: inputs '{self.names[q]}' and '{self.names[pos]}' were "
                    f"one tensor when traced and are now different tensors; trace again")

    def run(self, flat):
        ins = [flat[p] for p in self.first]
        if STATE.tracer is not None:  # called while tracing: inline the graph
            outs = replay(self.graph, ins)
            self._write_back_traced(ins, outs)
            return outs[:self.n_out]
        wrt = ()
        if STATE.enabled:
            wrt = tuple(gi for gi, t in enumerate(ins) if t._requires_grad)
        if wrt:
            plan = self.plans.get(wrt)
            if plan is None:
                plan = self.plans[wrt] = _GradPlan(self, wrt, [t._data for t in ins])
            if plan.wrt:
                return plan.call(self, ins)
        arrays = run_graph(self.exe, [t._data for t in ins])
        self._write_back(ins, arrays)
        return _results(self, arrays[:self.n_out])

    def _write_back(self, ins, arrays):
        for gi, a in zip(self.mutated, arrays[self.n_out:]):
            t = ins[gi]
            np.copyto(t._data, a, casting="unsafe")
            t._version[0] += 1

    def _write_back_traced(self, ins, outs):
        from ..frontend.autograd.grad_mode import no_grad
        with no_grad():
            for gi, o in zip(self.mutated, outs[self.n_out:]):
                ins[gi].copy_(o)


_TRACED = op_name("traced", "TracedGraphBackward")


class _GradPlan:
    """Autograd through a _Trace for one set of inputs requiring grad (see module doc)."""

    def __init__(self, tr, wrt, example):
        from ..compiler.autodiff import differentiable_dependence, grad_graph, partition
        deps = differentiable_dependence(tr.graph, wrt)[:tr.n_out]
        used = set().union(*deps) if deps else set()
        self.wrt = [k for k in wrt if k in used]          # eager leaves the others' grad None
        self.cot = [i for i, d in enumerate(deps) if d]   # outputs that require grad
        if not self.wrt:
            return
        self.joint = grad_graph(tr.graph, self.wrt, outputs=self.cot, example=example)
        draws = [o for n in self.joint.nodes if PRIMITIVES[n.op].kind == "random"
                 for o in n.outputs]
        fwd, bwd, self.saved = partition(self.joint, keep=draws)
        self.fwd, self.bwd = executable(fwd), bwd
        self.sources = _saved_sources(tr, fwd, self.joint, self.saved)
        self.pinned = [k for k, v in enumerate(self.saved) if v.node is not None and
                       PRIMITIVES[v.node.op].kind == "random"]
        self.out_types = [(tuple(v.shape), v.dtype) for v in tr.graph.outputs]

    def call(self, tr, ins):
        res = run_graph(self.fwd, [t._data for t in ins])
        nf = len(tr.graph.outputs)
        outs = _results(tr, res[:tr.n_out])
        saved = tuple(_SAVED[kind](a, ins, outs, k)
                      for (kind, k), a in zip(self.sources, res[nf:]))
        edges = []
        for k in self.wrt:
            t = ins[k]
            edges.append((t._grad_fn, t._out_idx) if t._grad_fn is not None else (t, 0))
        node = Node(_TRACED, _traced_backward, tuple(edges), saved, (self, tuple(ins)), nf)
        for i in self.cot:
            o = outs[i]
            o._grad_fn, o._out_idx, o._requires_grad = node, i, True
        tr._write_back(ins, res[:nf])
        return outs


def _saved_sources(tr, fwd, joint, saved):
    """How each saved value is kept, so that in-place changes after the call are caught by
    version checks exactly as in eager: an input or output is the tensor itself, a view of
    one shares its version counter; an input the call writes back (running statistics) is
    copied; anything else is a fresh tensor."""
    roots = alias_roots(fwd)
    fwd_of = dict(zip(joint.outputs[:len(tr.graph.outputs)] + saved, fwd.outputs))
    out_roots = {}
    for i, v in enumerate(fwd.outputs[:tr.n_out]):
        out_roots.setdefault(roots.get(v, v), i)
    ins = {v: k for k, v in enumerate(fwd.inputs)}
    outs = {v: i for i, v in enumerate(joint.outputs[:tr.n_out])}
    sources = []
    for v in saved:
        f = fwd_of[v]
        r = roots.get(f, f)
        if r in ins:
            k = ins[r]
            sources.append(("copy", None) if k in tr.mutated else
                           ("input", k) if f is r else ("input_view", k))
        elif v in outs and outs[v] not in tr.input_aliases:
            sources.append(("output", outs[v]))
        elif r in out_roots and out_roots[r] not in tr.input_aliases:
            sources.append(("output_view", out_roots[r]))
        else:
            sources.append(("fresh", None))
    return sources


_SAVED = {
    "input": lambda a, ins, outs, k: ins[k],
    "input_view": lambda a, ins, outs, k: _wrap(a, ins[k]._version),
    "output": lambda a, ins, outs, k: outs[k],
    "output_view": lambda a, ins, outs, k: _wrap(a, outs[k]._version),
    "copy": lambda a, ins, outs, k: _wrap(a.copy()),
    "fresh": lambda a, ins, outs, k: _wrap(a),
}


def _traced_backward(node, gouts):
    from ..frontend.ops.creation import zeros
    plan, ins = node.ctx
    saved = node.unpack_saved()
    cots = []
    for i in plan.cot:
        g = gouts[i]
        if g is None:
            shape, dt = plan.out_types[i]
            g = zeros(shape, dtype=dt)
        cots.append(g)
    if STATE.enabled:
        # create_graph: replay the joint graph through the eager ops, with this call's
        # random draws, so the gradients carry history back to the inputs
        pinned = {plan.saved[k]: saved[k] for k in plan.pinned}
        res = replay(plan.joint, list(ins) + cots, pinned=pinned)
        return tuple(res[plan.joint.num_fwd_outputs:])
    arrays = run_graph(plan.bwd, [t._data for t in saved] + [g._data for g in cots])
    return tuple(_wrap(a) for a in arrays)


# ---------------------------------------------------------------- tracing

def _arg_names(fn, args, kwargs):
    """Top-level names of the arguments (from fn's signature when it has one)."""
    fn = getattr(fn, "forward", fn)   # a module's arguments are its forward's
    try:
        sig = inspect.signature(fn)
        bound = sig.bind(*args, **kwargs)
        names = []
        for name, value in bound.arguments.items():
            kind = sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                names += [f"{name}_{i}" for i in range(len(value))]
            elif kind is inspect.Parameter.VAR_KEYWORD:
                names += list(value)
            else:
                names.append(name)
        return names
    except (TypeError, ValueError):
        return [f"arg{i}" for i in range(len(args))] + list(kwargs)


def _leaf_names(fn, args, kwargs):
    tops = _arg_names(fn, args, kwargs)
    names = []
    for name, value in zip(tops, list(args) + list(kwargs.values())):
        flatten(value, [], name, names)
    return names


def _record(fn, args, kwargs, state, strict, name):
    """Trace fn(*args, **kwargs) with `state` ((name, tensor) parameters and buffers) as
    extra graph inputs; returns a _Trace."""
    from ..compiler.autodiff import prune
    from ..frontend.autograd.grad_mode import enable_grad
    leaves = []
    in_spec = flatten((tuple(args), dict(kwargs)), leaves)
    names = _leaf_names(fn, args, kwargs)
    names += [n for n, _ in state]
    flat = leaves + [t for _, t in state]
    graph = Graph(name)
    tracer = Tracer(graph, strict=strict, track_grad=True)
    with tracer, enable_grad():
        index = {}
        feeds = [index.setdefault(tracer.add_input(t, n), len(index))
                 for t, n in zip(flat, names)]
        arrays = [t._data for t in flat]
        out = fn(*args, **kwargs)
        out_leaves = []
        out_spec = flatten(out, out_leaves)
        values = [tracer.value(t, "output") for t in out_leaves]
        mutated = []
        for gi in range(len(graph.inputs)):
            v = tracer.current(arrays[feeds.index(gi)])
            if v is not graph.inputs[gi]:   # written in place: copy back after each call
                mutated.append(gi)
                values.append(v)
        graph.set_outputs(values)
    prune(graph)
    return _Trace(graph, in_spec, out_spec, len(leaves), len(out_leaves), mutated, feeds,
                  names)


class _Program:
    """A traced callable's state across calls (see the module docstring)."""

    def __init__(self, fn, module, example, strict, name):
        self.fn = fn
        self.module = module              # whose parameters/buffers are graph inputs
        self.example = example            # (args, kwargs), detached copies
        self.strict = strict
        self.name = name
        self.traces = {}

    def state(self):
        if self.module is None:
            return []
        return list(self.module.named_parameters()) + list(self.module.named_buffers())

    def trace_for(self, key, restore):
        tr = self.traces.get(key)
        if tr is not None:
            return tr
        if self.fn is None:
            raise RuntimeError(
                f"{self.name}: no graph for this training-mode configuration was saved "
                f"(saved configurations: {sorted(self.traces)}); set the modes it was "
                f"saved with, or trace the original module again")
        args, kwargs = self.example
        with _restored(self.state() if restore else [], restore), _modes(self.module, key):
            tr = _record(self.fn, args, kwargs, self.state(), self.strict, self.name)
        self.traces[key] = tr
        return tr

    def call(self, key, args, kwargs):
        tr = self.trace_for(key, restore=True)
        leaves = []
        spec = flatten((tuple(args), dict(kwargs)), leaves)
        if spec != tr.in_spec:
            raise RuntimeError(f"{self.name}: " + _spec_mismatch(tr.in_spec, spec))
        flat = leaves + [t for _, t in self._state_as_traced(tr)]
        tr.check(flat)
        return unflatten(tr.out_spec, tr.run(flat))

    def _state_as_traced(self, tr):
        state = dict(self.state())
        out = []
        for name in tr.names[tr.n_user:]:
            t = state.get(name)
            if t is None:
                raise RuntimeError(f"{self.name}: the parameter or buffer '{name}' the graph "
                                   f"was traced with is gone (or None)")
            out.append((name, t))
        return out


class _modes:
    """Set every submodule's training flag to `key` while tracing it, then put them back."""

    def __init__(self, module, key):
        self.mods = [] if key is None or module is None else list(module.modules())
        self.key = key

    def __enter__(self):
        self.prev = [m.training for m in self.mods]
        for m, flag in zip(self.mods, self.key or ()):
            m.training = flag
        return self

    def __exit__(self, *exc):
        for m, flag in zip(self.mods, self.prev):
            m.training = flag
        return False


class _restored:
    """Put buffers and the default generator back after a re-trace, so tracing a new
    training-mode configuration has no side effects (running statistics, draws)."""

    def __init__(self, state, active):
        self.state, self.active = state, active

    def __enter__(self):
        if self.active:
            from ..frontend.ops.random import default_generator
            self.saved = [(t, t._data.copy()) for _, t in self.state]
            self.rng = default_generator.state_bytes()
        return self

    def __exit__(self, *exc):
        if self.active:
            from ..frontend.ops.random import default_generator
            for t, a in self.saved:
                np.copyto(t._data, a)
            default_generator.load_state_bytes(self.rng)
        return False


def _detached_copy(obj):
    leaves = []
    spec = flatten(obj, leaves)
    return unflatten(spec, [_wrap(np.array(t._data, copy=True)) for t in leaves])


# ---------------------------------------------------------------- the public callables

class TracedFunction:
    """A traced plain function: call it like the original; `.graph`, `.code`."""

    def __init__(self, program):
        self._program = program
        self.__name__ = program.name

    def __call__(self, *args, **kwargs):
        return self._program.call(None, args, kwargs)

    @property
    def graph(self):
        return self._program.trace_for(None, restore=False).graph

    @property
    def code(self):
        return python_code(self.graph)

    def __repr__(self):
        return f"<TracedFunction {self._program.name}>"


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False,
          _module_class=None, _compilation_unit=None, example_kwarg_inputs=None,
          _store_inputs=True):
    """Trace `func` (a function or an nn.Module) on `example_inputs` (a tuple of arguments,
    or one tensor) and `example_kwarg_inputs` (a dict). Returns a TracedFunction or, for a
    module, a TracedModule whose parameters and buffers are its graph's inputs.

    strict=True: data-dependent Python control flow on traced values raises TracingError
    naming the line; strict=False records the traced value as a constant with a
    TracerWarning. check_trace: run the graph on the examples (and on each tuple of
    `check_inputs`, of the same shapes) and compare with the eager results; a mismatch
    raises TracingError. The graph is specialized to the examples' shapes and dtypes;
    optimize and the underscored arguments are accepted for compatibility."""
    import ember.nn as nn
    if example_inputs is None and example_kwarg_inputs is None:
        raise RuntimeError("trace: example_inputs (or example_kwarg_inputs) is required")
    args = example_inputs if isinstance(example_inputs, tuple) else \
        (() if example_inputs is None else (example_inputs,))
    kwargs = dict(example_kwarg_inputs or {})
    example = (_detached_copy(args), _detached_copy(kwargs))
    if isinstance(func, nn.Module):
        from ._module import TracedModule
        name = type(func).__name__
        program = _Program(func, func, example, strict, name)
        traced = TracedModule._of(func, program)
    else:
        module = getattr(func, "__self__", None)
        module = module if isinstance(module, nn.Module) else None
        name = getattr(func, "__name__", type(func).__name__)
        program = _Program(func, module, example, strict, name)
        traced = TracedFunction(program)
    key = traced._mode_key() if isinstance(traced, nn.Module) else None
    program.traces[key] = _record(func, args, kwargs, program.state(), strict, name)
    if check_trace:
        cases = [(args, kwargs)] + [(c if isinstance(c, tuple) else (c,), {})
                                    for c in (check_inputs or ())]
        _check(program.traces[key], cases, program, check_tolerance)
    return traced


def _check(tr, cases, program, tol):
    """Run the graph and the eager code on copies of each case's inputs and compare. A
    graph with random draws or written-back inputs cannot be rerun without changing the
    state it reads, so it is not checked."""
    if tr.mutated or any(PRIMITIVES[n.op].kind == "random" for n in tr.graph.nodes):
        return
    from ..frontend.autograd.grad_mode import enable_grad
    state = [t for _, t in program._state_as_traced(tr)]
    for n, (args, kwargs) in enumerate(cases):
        leaves = []
        spec = flatten((tuple(args), dict(kwargs)), leaves)
        if spec != tr.in_spec:
            raise TracingError(f"{program.name}: check_inputs[{n - 1}]: " +
                               _spec_mismatch(tr.in_spec, spec))
        flat = leaves + state
        tr.check(flat)
        got = run_graph(tr.exe, [np.array(flat[p]._data, copy=True) for p in tr.first])
        with enable_grad():   # the eager code runs as it was traced
            want = []
            flatten(program.fn(*_detached_copy(args), **_detached_copy(kwargs)), want)
        for k, (g, w) in enumerate(zip(got, want)):
            w = w._data
            if g.shape != w.shape or g.dtype != w.dtype or not np.allclose(
                    g.astype(np.float64), w.astype(np.float64), rtol=tol, atol=tol,
                    equal_nan=True):
                which = "the example inputs" if n == 0 else f"check_inputs[{n - 1}]"
                raise TracingError(
                    f"{program.name}: output {k} of the traced graph differs from the eager "
                    f"result on {which} (the code depends on its inputs in a way the trace "
                    f"cannot see)")
