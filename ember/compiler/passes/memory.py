"""Memory planning: liveness over a schedule, then offsets in one arena so that buffers
whose lifetimes do not overlap share memory.

- The schedule is a fusion plan's groups in order (`plan_memory(plan)`: only group
  outputs are materialised, values inside a kernel live in registers) or a graph's nodes in
  order (`plan_memory(graph)`: every node result is a buffer).
- Views alias their base: a `view` group (or, for a graph schedule, a view op) gets no
  buffer; reading it keeps its base alive. Graph inputs and constants are the caller's
  memory and are never planned; graph outputs get buffers of their own, outside the arena,
  so nothing is ever placed in memory the caller receives (a view returned as an output
  pins its base the same way).
- A buffer is live from the step that writes it to the last step that reads it (both
  included: a kernel reads its inputs while it writes its outputs, so they never share).
- Offsets: greedy by size (largest first), each buffer at the best-fitting gap among the
  buffers it overlaps in time, aligned to `alignment` bytes.
- Symbolic dims (Sym) need example sizes: `bindings={"B": 32}`. Buffers whose size
  depends on the data (`nonzero`, `unique`) cannot be planned: they are listed as
  `dynamic` and allocated at run time.

`MemoryPlan` reports `peak_bytes` (the arena plus the output buffers: what running the
schedule allocates), `unplanned_bytes` (the sum of all its buffers: every value in its
own allocation) and `live_peak_bytes` (the most bytes live at once: the bound no
placement can beat). `run_planned` executes a schedule with every buffer placed at its
planned offset in one arena, the check that the plan is sound.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...ir.graph import Graph, Value, type_str
from ...runtime.registry import KERNELS
from .fusion import VIEW_OPS, FusionPlan

__all__ = ["plan_memory", "MemoryPlan", "Buffer", "MemoryPlanError", "run_planned"]


class MemoryPlanError(RuntimeError):
    """A memory plan cannot be made (unbound symbolic dims) or is unsound."""


@dataclass
class Buffer:
    value: Value
    size: int                  # bytes
    start: int                 # first step that writes it
    end: int                   # last step that reads it
    offset: int = -1           # in the arena; -1 for output buffers (their own memory)
    is_output: bool = False

    def overlaps_in_time(self, other) -> bool:
        return self.start <= other.end and other.start <= self.end


@dataclass
class _Step:
    nodes: list                       # Node objects run at this step
    reads: list                       # values read from outside the step
    writes: list                      # values materialised by the step
    aliases: dict = field(default_factory=dict)   # view value -> the value it views


def _graph_steps(graph):
    steps = []
    for n in graph.nodes:
        if n.op in VIEW_OPS:
            steps.append(_Step([n], n.value_inputs(), [], {n.outputs[0]: n.inputs[0]}))
        else:
            steps.append(_Step([n], n.value_inputs(), list(n.outputs)))
    return steps


def _plan_steps(plan):
    steps = []
    for grp in plan.groups:
        members = plan.members(grp)
        if grp.kind == "view":
            (n,) = members
            steps.append(_Step(members, list(grp.inputs), [], {n.outputs[0]: n.inputs[0]}))
        else:
            steps.append(_Step(members, list(grp.inputs), list(grp.outputs)))
    return steps


def _bytes(v, bindings):
    n = 1
    for d in v.shape:
        if d is None:
            return None
        if isinstance(d, str):
            if d not in bindings:
                name = str.__repr__(d)
                raise MemoryPlanError(f"plan_memory: {v} has symbolic dim {name}; pass example "
                                      f"sizes, e.g. bindings={{{name}: 32}}")
            d = bindings[d]
        n *= int(d)
    return n * v.dtype.np.itemsize


def _align(n, a):
    return (n + a - 1) // a * a


class MemoryPlan:
    def __init__(self, graph, steps, buffers, aliases, dynamic, arena_bytes, alignment):
        self.graph = graph
        self.steps = steps
        self.buffers = buffers            # Buffer per materialised value, in schedule order
        self.aliases = aliases            # view value -> the value owning its memory
        self.dynamic = dynamic            # values sized at run time
        self.arena_bytes = arena_bytes
        self.alignment = alignment
        self._by_value = {b.value: b for b in buffers}

    def buffer_of(self, v):
        """The buffer holding v (a view's is its base's); None for inputs and constants."""
        return self._by_value.get(self.aliases.get(v, v))

    @property
    def output_bytes(self) -> int:
        return sum(b.size for b in self.buffers if b.is_output)

    @property
    def peak_bytes(self) -> int:
        return self.arena_bytes + self.output_bytes

    @property
    def unplanned_bytes(self) -> int:
        return sum(b.size for b in self.buffers)

    @property
    def live_peak_bytes(self) -> int:
        live = [0] * (len(self.steps) + 1)
        for b in self.buffers:
            for s in range(b.start, b.end + 1):
                live[s] += b.size
        return max(live, default=0)

    def check(self):
        """Raise MemoryPlanError if two buffers live at the same time share bytes, or a
        buffer lies outside the arena or off alignment."""
        arena = [b for b in self.buffers if not b.is_output and b.size]
        for b in arena:
            if b.offset < 0 or b.offset + b.size > self.arena_bytes or b.offset % self.alignment:
                raise MemoryPlanError(f"buffer of {b.value} at {b.offset} (+{b.size}) lies "
                                      f"outside the {self.arena_bytes}-byte arena or off "
                                      f"alignment")
        arena.sort(key=lambda b: b.offset)
        for i, b in enumerate(arena):
            for c in arena[i + 1:]:
                if c.offset >= b.offset + b.size:
                    break
                if b.overlaps_in_time(c):
                    raise MemoryPlanError(f"buffers of {b.value} [{b.start},{b.end}] and "
                                          f"{c.value} [{c.start},{c.end}] overlap in memory")
        return self

    def __str__(self):
        lines = [f"MemoryPlan '{self.graph.name}': {len(self.steps)} steps, "
                 f"{len(self.buffers)} buffers; arena {self.arena_bytes} B + outputs "
                 f"{self.output_bytes} B = peak {self.peak_bytes} B (unplanned "
                 f"{self.unplanned_bytes} B, live peak {self.live_peak_bytes} B)"]
        for b in self.buffers:
            where = "output" if b.is_output else f"@{b.offset}"
            lines.append(f"  {b.value}: {type_str(b.value.type)} {b.size} B {where} "
                         f"steps {b.start}..{b.end}")
        for v in self.dynamic:
            lines.append(f"  {v}: {type_str(v.type)} sized at run time")
        return "\n".join(lines)

    __repr__ = __str__


def _liveness(graph, steps, bindings):
    """(buffers without offsets, aliases, dynamic values)."""
    external = set(graph.inputs) | set(graph.constants)
    aliases = {}
    for s in steps:
        for view, base in s.aliases.items():
            aliases[view] = aliases.get(base, base)
    root = lambda v: aliases.get(v, v)  # noqa: E731
    start, end = {}, {}
    for k, s in enumerate(steps):
        for v in s.writes:
            start[v] = end[v] = k
        for v in s.reads:
            r = root(v)
            if r in start:
                end[r] = max(end[r], k)
    outputs = {root(v) for v in graph.outputs}
    buffers, dynamic = [], []
    for v in start:
        if v in external:
            continue
        size = _bytes(v, bindings)
        if size is None:
            dynamic.append(v)
            continue
        is_out = v in outputs
        buffers.append(Buffer(v, size, start[v], len(steps) if is_out else end[v],
                              is_output=is_out))
    return buffers, aliases, dynamic


def _assign_offsets(buffers, alignment):
    """Greedy by size: each buffer (largest first) goes to the smallest gap that fits
    among the already placed buffers it overlaps in time, else after them all."""
    placed = []
    arena = 0
    for b in sorted(buffers, key=lambda b: (-b.size, b.start)):
        if b.is_output:
            continue
        size = _align(b.size, alignment)
        conflicts = sorted((p for p in placed if p.overlaps_in_time(b)),
                           key=lambda p: p.offset)
        best, best_gap, cursor = None, None, 0
        for p in conflicts:
            gap = p.offset - cursor
            if gap >= size and (best_gap is None or gap < best_gap):
                best, best_gap = cursor, gap
            cursor = max(cursor, p.offset + _align(p.size, alignment))
        b.offset = cursor if best is None else best
        arena = max(arena, b.offset + size)
        placed.append(b)
    return arena


def plan_memory(source, bindings=None, *, alignment=64) -> MemoryPlan:
    """Plan the buffers of a FusionPlan's schedule (or of a Graph's, one node a step)."""
    if isinstance(source, FusionPlan):
        graph, steps = source.graph, _plan_steps(source)
    elif isinstance(source, Graph):
        graph, steps = source, _graph_steps(source)
    else:
        raise TypeError(f"plan_memory: expected a Graph or a FusionPlan, got "
                        f"{type(source).__name__}")
    buffers, aliases, dynamic = _liveness(graph, steps, dict(bindings or {}))
    arena = _assign_offsets(buffers, alignment)
    return MemoryPlan(graph, steps, buffers, aliases, dynamic, arena, alignment).check()


# ---------------------------------------------------------------- execution in the arena

def run_planned(mplan: MemoryPlan, arrays, *, poison=True, device="cpu"):
    """Run the plan's schedule with every planned buffer at its offset in one arena (output
    buffers apart), copying each result into its buffer. A plan that let two live buffers
    share bytes gives wrong results here. `poison` fills the arena with NaN bytes first, so
    a read of memory nothing wrote shows up too."""
    from ...runtime.interpreter import bind_inputs
    g = mplan.graph
    syms = bind_inputs(g, arrays)
    kernels = KERNELS[device]
    arena = np.full(max(mplan.arena_bytes, 1), 0xFF if poison else 0, np.uint8)
    env = dict(zip(g.inputs, arrays))
    env.update(g.constants)
    storage = {}
    for b in mplan.buffers:
        shape = tuple(syms.get(d, d) if isinstance(d, str) else d for d in b.value.shape)
        dt = b.value.dtype.np
        if int(np.prod(shape, dtype=np.int64)) * dt.itemsize != b.size:
            raise MemoryPlanError(f"run_planned: {b.value} is {shape} here, but the plan was "
                                  f"made for {b.size} bytes (other symbolic sizes)")
        if b.is_output:
            storage[b.value] = np.empty(shape, dt)
        else:
            storage[b.value] = arena[b.offset:b.offset + b.size].view(dt).reshape(shape)
    for step in mplan.steps:
        local = {v: env[v] for v in step.reads}
        for n in step.nodes:
            args = [local[v] if isinstance(v, Value) else v for v in n.inputs]
            out = kernels[n.op](*args, **n.attrs)
            for v, o in zip(n.outputs, out if type(out) is tuple else (out,)):
                local[v] = o
        for v in step.writes:
            if v in storage:
                np.copyto(storage[v], local[v], casting="no")
                env[v] = storage[v]
            else:
                env[v] = local[v]       # sized at run time
        for v in step.aliases:
            env[v] = local[v]
    return [env[v] for v in g.outputs]
