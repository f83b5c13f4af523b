"""Graph autodiff: the joint forward+backward graph of a forward graph, and its partition
into a forward graph that saves what the backward needs and a backward graph that reads it.

- `grad_graph(fwd, wrt)` replays the forward graph through the eager frontend on example
  data, under a tracer, with the `wrt` inputs requiring grad; then runs the eager autograd
  engine on cotangent inputs. The engine calls the very VJP rules eager autograd uses
  (`ember.frontend.autograd.rules`), and the tracer records the ops they run: the result
  is one *joint* graph (inputs: primals then cotangents; outputs: primal outputs then the
  gradients of the `wrt` inputs). Symbolic dims are given example sizes, so the joint graph
  is specialized to them (`joint.bindings`).
- `partition(joint)` chooses which forward values the backward gets by a min cut (the
  idea of functorch's rematerializing partitioner): every value the backward reads is
  either saved by the forward or recomputed in the backward from saved values. Cheap ops
  (elementwise, casts, views, constants) may be recomputed; matmul/conv/reductions/
  indexing/externs are not, and random draws never are (a recompute would draw anew).
  Graph inputs cost nothing to save (the caller holds them); any other value costs its
  bytes, and the min cut picks the cheapest set to save. `saved_bytes(joint)` compares
  it with saving every forward value the backward reads.
- `differentiable_dependence(graph, wrt)`: which outputs gradients from which inputs reach.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..ir import dtypes as D
from ..ir.graph import Graph, Value
from ..ir.ops import PRIMITIVES

__all__ = ["JointGraph", "grad_graph", "partition", "saved_bytes", "example_inputs",
           "differentiable_dependence", "prune"]

# op kinds the backward may recompute instead of saving their results
_RECOMPUTABLE = frozenset({"elementwise", "cast", "movement", "creation"})
_SYM_SIZES = (11, 13, 17, 19, 23, 29, 31, 37)   # example sizes for symbolic dims


class JointGraph(Graph):
    """A joint forward+backward graph. inputs: the forward's inputs, then one cotangent per
    entry of `cotangent_of` (a forward output index); outputs: the forward's outputs, then
    the gradient of each input in `wrt`."""

    def __init__(self, name="joint"):
        super().__init__(name)
        self.num_primals = 0
        self.num_fwd_outputs = 0
        self.wrt: list[int] = []
        self.cotangent_of: list[int] = []
        self.bindings: dict = {}


def _is_float(t):
    return t.dtype.category == D.FLOAT


# ---------------------------------------------------------------- example data

def example_inputs(graph, seed=0):
    """Arrays of the graph's input types: floats standard normal, integers and bools zero
    (always valid indices); symbolic dims get distinct example sizes. Returns (arrays,
    {symbol: size})."""
    rng = np.random.default_rng(seed)
    sizes = {}
    arrays = []
    for v in graph.inputs:
        shape = tuple(sizes.setdefault(d, _SYM_SIZES[len(sizes) % len(_SYM_SIZES)])
                      if isinstance(d, str) else d for d in v.shape)
        dt = v.dtype
        if _is_float(v.type):
            arrays.append(rng.standard_normal(shape).astype(dt.np))
        else:
            arrays.append(np.zeros(shape, dt.np))
    return arrays, sizes


# ---------------------------------------------------------------- the joint graph

def grad_graph(graph, wrt, *, outputs=None, example=None, name=None) -> JointGraph:
    """The joint graph of `graph` for the gradients of inputs `wrt` (indices of floating
    inputs) with respect to the floating outputs `outputs` (indices; default all).
    `example`: input arrays to trace on (default `example_inputs(graph)`); the backward
    recorded must not depend on their values (data-dependent rules raise TracingError)."""
    from ..frontend.autograd.grad_mode import enable_grad
    from ..frontend.tensor import _wrap
    from ..frontend.ops.random import Generator
    from ..frontend.tracer import Tracer, replay, stop_gradient_values
    from ..runtime.autograd import run_backward

    wrt = list(wrt)
    for k in wrt:
        if not 0 <= k < len(graph.inputs) or not _is_float(graph.inputs[k].type):
            raise ValueError(f"grad_graph: wrt index {k} is not a floating-point input of "
                             f"{graph.name}")
    bindings = {}
    if example is None:
        example, bindings = example_inputs(graph)
    if outputs is None:
        outputs = range(len(graph.outputs))
    outputs = [i for i in outputs if _is_float(graph.outputs[i].type)]
    joint = JointGraph(name or f"{graph.name}_joint")
    joint.wrt, joint.bindings = wrt, bindings
    private = Generator()   # recording must not advance the user's random stream
    tracer = Tracer(joint, strict=True, generator=private)
    with tracer, enable_grad():
        ins = []
        for k, (v, arr) in enumerate(zip(graph.inputs, example)):
            t = _wrap(np.array(arr, copy=True))
            tracer.add_input(t, v.name)
            if k in wrt:
                t.requires_grad_(True)
            ins.append(t)
        env = {}
        outs = replay(graph, ins, env=env, generator=private)
        # the forward's gradient cuts, kept for replaying the joint graph (create_graph)
        joint.stop_gradient = {tracer.value(env[v], "detach")
                               for v in stop_gradient_values(graph) if v in env}
        roots, cots = [], []
        for i in outputs:
            o = outs[i]
            g = _wrap(np.ones(o._data.shape, o._data.dtype))
            base = graph.outputs[i].name or f"out{i}"
            tracer.add_input(g, f"grad_{base}")
            joint.cotangent_of.append(i)
            if o._requires_grad:
                roots.append(o)
                cots.append(g)
        targets = [ins[k] for k in wrt]
        grads = run_backward(roots, cots, capture=targets, accumulate=False) if roots \
            else [None] * len(targets)
        grads = [_as_input_grad(g, t) for g, t in zip(grads, targets)]
        joint.num_primals = len(graph.inputs)
        joint.num_fwd_outputs = len(graph.outputs)
        joint.set_outputs([tracer.value(o, "output") for o in outs] +
                          [tracer.value(g, "output") for g in grads])
    prune(joint)
    return joint


def _as_input_grad(g, t):
    """The gradient the engine gives input t, in t's shape and dtype (zeros when none
    flows), as eager accumulation would store it."""
    from ..frontend.ops.creation import zeros
    if g is None:
        return zeros(tuple(t.shape), dtype=t.dtype)
    if tuple(g.shape) != tuple(t.shape):
        g = g.sum_to_size(tuple(t.shape))
    return g if g.dtype is t.dtype else g.to(t.dtype)


def prune(graph):
    """Drop nodes no output depends on (random draws stay: they advance the generator,
    as the eager code did) and constants nothing reads. In place; returns graph."""
    live = set(graph.outputs)
    keep = []
    for n in reversed(graph.nodes):
        if PRIMITIVES[n.op].kind == "random" or any(o in live for o in n.outputs):
            keep.append(n)
            live.update(n.value_inputs())
    graph.nodes = keep[::-1]
    graph.constants = {v: a for v, a in graph.constants.items() if v in live}
    stop = getattr(graph, "stop_gradient", None)
    if stop:
        defined = set(graph.inputs) | {o for n in graph.nodes for o in n.outputs}
        graph.stop_gradient = {v for v in stop if v in defined}
    return graph


def differentiable_dependence(graph, wrt):
    """For each output, the set of inputs in `wrt` whose gradient reaches it (through
    floating values and differentiable ops, never through graph.stop_gradient)."""
    from ..frontend.tracer import stop_gradient_values
    stop = stop_gradient_values(graph)
    masks = {v: 1 << k for k, v in enumerate(graph.inputs) if k in set(wrt)}
    for n in graph.nodes:
        if not PRIMITIVES[n.op].differentiable:
            continue
        m = 0
        for v in n.value_inputs():
            m |= masks.get(v, 0)
        if m:
            for o in n.outputs:
                if _is_float(o.type) and o not in stop:
                    masks[o] = m
    return [{k for k in wrt if masks.get(v, 0) >> k & 1} for v in graph.outputs]


# ---------------------------------------------------------------- partition

def _nbytes(v):
    n = v.dtype.itemsize
    for d in v.shape:
        n *= d
    return n


def _regions(joint):
    """(tangent-dependent nodes, values the backward reads from the forward region)."""
    tangents = set(joint.inputs[joint.num_primals:])
    bwd_nodes = []
    dep = set(tangents)
    for n in joint.nodes:
        if any(v in dep for v in n.value_inputs()):
            dep.update(n.outputs)
            bwd_nodes.append(n)
    needed = []
    seen = set()
    reads = [v for n in bwd_nodes for v in n.value_inputs()]
    reads += joint.outputs[joint.num_fwd_outputs:]
    for v in reads:
        if v not in dep and v not in seen and v not in joint.constants:
            seen.add(v)
            needed.append(v)
    return dep, needed


def _min_cut_saved(joint, dep, needed):
    """The forward values to save, by a min cut of the forward region (see module doc)."""
    primals = set(joint.inputs[:joint.num_primals])
    fwd_vals = [v for v in joint.inputs[:joint.num_primals]]
    fwd_vals += [o for n in joint.nodes for o in n.outputs if o not in dep]
    ids = {v: i for i, v in enumerate(fwd_vals)}
    src, sink = 2 * len(fwd_vals), 2 * len(fwd_vals) + 1
    flow = _MaxFlow(2 * len(fwd_vals) + 2)
    inf = _MaxFlow.INF
    for v in fwd_vals:
        i = ids[v]
        if v in primals:
            flow.add(src, 2 * i, inf)
            flow.add(2 * i, 2 * i + 1, 0)
            continue
        n = v.node
        if PRIMITIVES[n.op].kind not in _RECOMPUTABLE:
            flow.add(src, 2 * i, inf)   # computed in the forward; saved if needed later
        flow.add(2 * i, 2 * i + 1, _nbytes(v))
        for u in n.value_inputs():
            if u in ids:
                flow.add(2 * ids[u] + 1, 2 * i, inf)
    for v in needed:
        flow.add(2 * ids[v] + 1, sink, inf)
    flow.run(src, sink)
    reach = flow.reachable(src)
    # walk back from what the backward reads: sink-side values are recomputed (their
    # operands are read in turn), cut values are saved
    saved, seen, todo = set(), set(), list(needed)
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        i = ids[v]
        if reach[2 * i]:
            saved.add(v)
        else:
            todo.extend(u for u in v.node.value_inputs() if u in ids)
    return [v for v in fwd_vals if v in saved]


class _MaxFlow:
    """Dinic's max flow on integer capacities, then the source side of a min cut."""
    INF = 1 << 62

    def __init__(self, n):
        self.adj = [[] for _ in range(n)]
        self.to, self.cap = [], []

    def add(self, a, b, c):
        self.adj[a].append(len(self.to))
        self.to.append(b)
        self.cap.append(c)
        self.adj[b].append(len(self.to))
        self.to.append(a)
        self.cap.append(0)

    def _levels(self, s, t):
        level = [-1] * len(self.adj)
        level[s] = 0
        q = deque([s])
        while q:
            a = q.popleft()
            for e in self.adj[a]:
                if self.cap[e] > 0 and level[self.to[e]] < 0:
                    level[self.to[e]] = level[a] + 1
                    q.append(self.to[e])
        return level if level[t] >= 0 else None

    def _push(self, s, t, level, it):
        """One augmenting path along the level graph (iterative DFS); its flow, or 0."""
        path = []
        a = s
        while a != t:
            adj = self.adj[a]
            while it[a] < len(adj):
                e = adj[it[a]]
                if self.cap[e] > 0 and level[self.to[e]] == level[a] + 1:
                    break
                it[a] += 1
            if it[a] < len(adj):
                e = adj[it[a]]
                path.append(e)
                a = self.to[e]
                continue
            if not path:             # no path left from the source
                return 0
            level[a] = -1            # a dead end: never enter it again
            e = path.pop()
            a = self.to[e ^ 1]       # back to the edge's tail
            it[a] += 1
        f = min(self.cap[e] for e in path)
        for e in path:
            self.cap[e] -= f
            self.cap[e ^ 1] += f
        return f

    def run(self, s, t):
        total = 0
        while True:
            level = self._levels(s, t)
            if level is None:
                return total
            it = [0] * len(self.adj)
            while True:
                f = self._push(s, t, level, it)
                if not f:
                    break
                total += f
                if total >= self.INF:
                    raise RuntimeError("partition: no finite cut (a value the backward needs "
                                       "cannot be saved nor recomputed)")

    def reachable(self, s):
        seen = [False] * len(self.adj)
        seen[s] = True
        q = deque([s])
        while q:
            a = q.popleft()
            for e in self.adj[a]:
                if self.cap[e] > 0 and not seen[self.to[e]]:
                    seen[self.to[e]] = True
                    q.append(self.to[e])
        return seen


def _extract(joint, inputs, outputs, name, effects=()):
    """The subgraph computing `outputs` from `inputs` (joint values), in joint order; nodes
    in `effects` (random draws) are kept even when nothing reads them."""
    g = Graph(name)
    env = {}
    for v in inputs:
        env[v] = g.add_input(v.type, v.name)
    live = set(outputs)
    nodes = []
    for n in reversed(joint.nodes):
        if n in effects or any(o in live and o not in env for o in n.outputs):
            nodes.append(n)
            live.update(n.value_inputs())
    for v, arr in joint.constants.items():
        if v in live and v not in env:
            env[v] = g.add_constant(arr)
    for n in reversed(nodes):
        try:
            args = [env[v] if isinstance(v, Value) else v for v in n.inputs]
        except KeyError:
            raise RuntimeError(f"partition: {name} needs a value that is neither an input nor "
                               f"computable from them (node '{n.op}')") from None
        new = g.add_node(n.op, args, n.attrs, out_types=[o.type for o in n.outputs],
                         source=n.source)
        env.update(zip(n.outputs, new.outputs))
    g.set_outputs([env[v] for v in outputs])
    return g


def partition(joint: JointGraph, keep=()):
    """(forward graph, backward graph, saved values). The forward graph takes the primals
    and returns the forward outputs followed by the saved values; the backward graph takes
    the saved values followed by the cotangents and returns the gradients of joint.wrt.
    `saved` lists the joint's values in that order. `keep`: forward values to save
    whatever the cut says (random draws, for replaying the joint later)."""
    dep, needed = _regions(joint)
    needed += [v for v in keep if v not in needed]
    saved = _min_cut_saved(joint, dep, needed)
    nf = joint.num_fwd_outputs
    draws = {n for n in joint.nodes if PRIMITIVES[n.op].kind == "random"}
    fwd = _extract(joint, joint.inputs[:joint.num_primals], joint.outputs[:nf] + saved,
                   f"{joint.name}_forward", draws)
    bwd = _extract(joint, saved + joint.inputs[joint.num_primals:], joint.outputs[nf:],
                   f"{joint.name}_backward")
    for n in bwd.nodes:
        if PRIMITIVES[n.op].kind == "random":
            raise RuntimeError("partition: a random draw ended up in the backward graph")
    return fwd, bwd, saved


def saved_bytes(joint: JointGraph):
    """Bytes kept from the forward for the backward, graph inputs excluded (the caller holds
    them anyway): `save_all` saves every forward value the backward reads (no recompute),
    `min_cut` is what `partition` saves."""
    dep, needed = _regions(joint)
    primals = set(joint.inputs[:joint.num_primals])
    saved = _min_cut_saved(joint, dep, needed)
    return {"save_all": sum(_nbytes(v) for v in needed if v not in primals),
            "min_cut": sum(_nbytes(v) for v in saved if v not in primals),
            "save_all_values": len([v for v in needed if v not in primals]),
            "min_cut_values": len([v for v in saved if v not in primals])}
