"""The autograd engine: the tape's node type and the reverse walk over it.

The engine knows nothing of what a node computes: each `Node` carries an `apply`
function (supplied by the frontend's VJP rules) that maps output gradients to input
gradients. Tensors are duck-typed here (`_version`, `_accumulate_grad`, `_hooks`) so
the runtime never imports the frontend.
"""
from __future__ import annotations

import threading

__all__ = ["Node", "STATE", "run_backward"]


class _GradState(threading.local):
    def __init__(self):
        self.enabled = True        # no_grad / enable_grad / set_grad_enabled
        self.inference = False     # inference_mode
        self.anomaly = False       # detect_anomaly: record creation stacks, check for NaN
        self.anomaly_check_nan = True
        self.anomaly_checker = None  # frontend-provided: (node, grads) -> None, raises on NaN


STATE = _GradState()


class Node:
    """One recorded op: gradients flow from its outputs to the edges in `next`.

    An edge is `(target, index)`: target is another Node (index = which of its outputs),
    a leaf tensor (index 0), or None when that input needs no gradient.
    """
    __slots__ = ("name", "apply", "next", "saved", "versions", "ctx", "nout",
                 "tensor_hooks", "retained", "hooks", "pre_hooks", "trace", "__weakref__")

    def __init__(self, name, apply, next_edges, saved=(), ctx=None, nout=1):
        self.name = name
        self.apply = apply
        self.next = next_edges
        self.saved = saved
        # saved entries may be scalars (an operand that was a Python number): no version
        self.versions = tuple(_version_of(t) for t in saved) if saved else ()
        self.ctx = ctx
        self.nout = nout
        self.tensor_hooks = None   # {out_index: [fn]} hooks of non-leaf tensors
        self.retained = None       # {out_index: weakref(tensor)} from retain_grad()
        self.hooks = None          # node post-hooks: fn(grad_inputs, grad_outputs)
        self.pre_hooks = None      # node pre-hooks: fn(grad_outputs)
        self.trace = None          # creation stack under anomaly mode

    def name_(self):
        return self.name

    def unpack_saved(self):
        """The saved tensors, after checking that none was modified in place since."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved "
                f"tensors after they have already been freed) in {self.name}. Saved intermediate "
                f"values of the graph are freed when you call .backward() or autograd.grad(). "
                f"Specify retain_graph=True if you need to backward through the graph a second "
                f"time or if you need to access saved tensors after calling backward.")
        for i, (t, v) in enumerate(zip(saved, self.versions)):
            if v is not None and t._version[0] != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.dtype.name.capitalize()}Tensor {list(t.shape)}], which is "
                    f"output {i} of {self.name}, is at version {t._version[0]}; expected version {v} "
                    f"instead. Hint: enable anomaly detection to find the operation that failed to "
                    f"compute its gradient, with ember.autograd.set_detect_anomaly(True).")
        return saved

    def register_hook(self, fn):
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(fn)
        return _Handle(self.hooks, fn)

    def register_prehook(self, fn):
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(fn)
        return _Handle(self.pre_hooks, fn)

    @property
    def next_functions(self):
        return tuple((t if isinstance(t, Node) else (None if t is None else _AccumulateGrad(t)), i)
                     for t, i in self.next)

    def __repr__(self):
        return f"<{self.name} object>"


def _version_of(t):
    v = getattr(t, "_version", None)
    return None if v is None else v[0]


class _AccumulateGrad:
    """What `next_functions` shows for a leaf edge, as PyTorch does."""
    __slots__ = ("variable",)
    name = "AccumulateGrad"

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad object>"


class _Handle:
    __slots__ = ("lst", "fn")

    def __init__(self, lst, fn):
        self.lst, self.fn = lst, fn

    def remove(self):
        try:
            self.lst.remove(self.fn)
        except ValueError:
            pass


def _add(a, b):
    return b if a is None else a if b is None else a + b


def _graph(roots, capture_nodes):
    """Dependency counts of every node reachable from `roots`; with `capture_nodes`, only
    nodes on a path to one of them (or to a captured leaf) are kept."""
    deps = {}
    order = []
    seen = set()
    stack = [n for n in roots if type(n) is Node]
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        order.append(n)
        for t, _ in n.next:
            if type(t) is Node:
                deps[t] = deps.get(t, 0) + 1
                if t not in seen:
                    stack.append(t)
    needed = None
    if capture_nodes is not None:
        # walk a topological order backwards so children are decided before parents
        indeg = dict(deps)
        topo = [n for n in order if indeg.get(n, 0) == 0]
        for n in topo:
            for t, _ in n.next:
                if type(t) is Node:
                    indeg[t] -= 1
                    if indeg[t] == 0:
                        topo.append(t)
        needed = set()
        for n in reversed(topo):
            if n in capture_nodes or any(
                    (t in needed) if type(t) is Node else (t is not None and id(t) in capture_nodes)
                    for t, _ in n.next):
                needed.add(n)
    return deps, needed


def run_backward(roots, grads, *, retain_graph=False, create_graph=False, capture=None,
                 accumulate=True, allow_unused=True):
    """Propagate `grads` from `roots` (tensors) back through the tape.

    capture: optional list of tensors whose gradients are returned instead of accumulated
    (autograd.grad). Returns the captured gradients (None where unreachable).
    """
    state = STATE
    prev = state.enabled
    state.enabled = create_graph
    try:
        return _run(roots, grads, retain_graph, create_graph, capture, accumulate)
    finally:
        state.enabled = prev


def _run(roots, grads, retain_graph, create_graph, capture, accumulate):
    # capture targets: non-leaf tensors by (node, index), leaves by id
    cap_edges = {}
    cap_leaves = {}
    if capture is not None:
        for i, t in enumerate(capture):
            fn = t._grad_fn
            if fn is not None:
                cap_edges.setdefault((fn, t._out_idx), []).append(i)
            else:
                cap_leaves.setdefault(id(t), []).append(i)
    results = [None] * len(capture) if capture is not None else None
    capture_nodes = None
    if capture is not None:
        capture_nodes = {n for n, _ in cap_edges} | set(cap_leaves)

    buffers = {}
    root_nodes = []
    for t, g in zip(roots, grads):
        fn = t._grad_fn
        if fn is None:  # a leaf as root
            if capture is not None:
                for i in cap_leaves.get(id(t), ()):
                    results[i] = _add(results[i], g)
            elif accumulate:
                _accumulate_leaf(t, g, create_graph)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * fn.nout
            root_nodes.append(fn)
        buf[t._out_idx] = _add(buf[t._out_idx], g)

    deps, needed = _graph(root_nodes, capture_nodes)
    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    checker = STATE.anomaly_checker if STATE.anomaly else None
    while ready:
        node = ready.pop()
        gouts = buffers.pop(node)
        if node.tensor_hooks:
            for idx, hooks in node.tensor_hooks.items():
                g = gouts[idx]
                if g is None:
                    continue
                for h in hooks:
                    r = h(g)
                    if r is not None:
                        g = r
                gouts[idx] = g
        if node.retained:
            for idx, ref in node.retained.items():
                t = ref()
                if t is not None and gouts[idx] is not None:
                    t._set_retained_grad(gouts[idx], create_graph)
        if capture is not None:
            for idx in range(node.nout):
                for i in cap_edges.get((node, idx), ()):
                    results[i] = _add(results[i], gouts[idx])
            if node not in needed:
                _release(node, retain_graph)
                continue
        if node.pre_hooks:
            for h in node.pre_hooks:
                r = h(tuple(gouts))
                if r is not None:
                    gouts = list(r)
        gins = node.apply(node, gouts)
        if checker is not None:
            checker(node, gins)
        if node.hooks:
            for h in node.hooks:
                r = h(tuple(gins), tuple(gouts))
                if r is not None:
                    gins = tuple(r)
        _release(node, retain_graph)
        for (target, idx), g in zip(node.next, gins):
            if target is None:
                continue
            if type(target) is Node:
                if g is not None and (needed is None or target in needed):
                    buf = buffers.get(target)
                    if buf is None:
                        buf = buffers[target] = [None] * target.nout
                    buf[idx] = _add(buf[idx], g)
                d = deps[target] - 1
                deps[target] = d
                if d == 0:
                    if target in buffers:
                        ready.append(target)
                    else:
                        # nothing flowed into it (all grads None): its inputs get nothing either
                        _propagate_nothing(target, deps, buffers, ready, retain_graph)
            elif g is not None:
                if capture is not None:
                    for i in cap_leaves.get(id(target), ()):
                        results[i] = _add(results[i], g)
                elif accumulate:
                    _accumulate_leaf(target, g, create_graph)
    return results


def _propagate_nothing(node, deps, buffers, ready, retain_graph):
    stack = [node]
    while stack:
        n = stack.pop()
        _release(n, retain_graph)
        for t, _ in n.next:
            if type(t) is Node:
                d = deps[t] - 1
                deps[t] = d
                if d == 0:
                    if t in buffers:
                        ready.append(t)
                    else:
                        stack.append(t)


def _release(node, retain_graph):
    if not retain_graph:
        node.saved = None


def _accumulate_leaf(t, g, create_graph):
    hooks = t._hooks
    if hooks:
        for h in hooks:
            r = h(g)
            if r is not None:
                g = r
    t._accumulate_grad(g, create_graph)
