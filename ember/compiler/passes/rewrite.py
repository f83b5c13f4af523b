"""What every pass shares: copying a graph node by node into a new one (`Rewriter`), and
asking what is known about an operand (`known_scalar`, `kernel_result_dtype`).

Passes never edit their input graph: each builds a new `Graph` through a `Rewriter`, which
maps old values to new ones. A pass either copies a node, replaces its outputs by other
(already copied) values, or emits new nodes in its place. The rewriter keeps what the
tracer attached to the graph (`stop_gradient`: values that gradients must not flow
through) and never lets a pass replace such a value by another one, since the mark would
then move onto a value whose gradient must flow (see `pinned`).
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Value
from ...runtime.registry import KERNELS

__all__ = ["Rewriter", "is_literal", "known_scalar", "uniform_value", "kernel_result_dtype", "same_type",
           "stop_gradient_values", "has_static_shape", "numel"]


def is_literal(a) -> bool:
    """A literal operand: a Python or NumPy scalar inlined in a node (not a graph Value)."""
    return not isinstance(a, Value)


def stop_gradient_values(graph) -> set:
    return getattr(graph, "stop_gradient", None) or set()


def same_type(a: Value, b: Value) -> bool:
    return a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)


def has_static_shape(shape) -> bool:
    return all(type(d) is int or isinstance(d, np.integer) for d in shape)


def numel(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def kernel_result_dtype(op, operands, attrs):
    """The NumPy dtype the CPU kernel of `op` gives for these operands (Values stand for
    one-element arrays of their dtype; literals are passed as they are). This is how a
    pass asks whether a literal promotes: `bfloat16 * 1.0` is float32 in the runtime, so
    `x * 1.0` is not a no-op there. None if the kernel refuses the probe."""
    args = [np.ones((1,), v.dtype.np) if isinstance(v, Value) else v for v in operands]
    try:
        out = KERNELS["cpu"][op](*args, **attrs)
    except Exception:  # noqa: BLE001 - the probe failing just means "don't know"
        return None
    out = out[0] if type(out) is tuple else out
    return np.asarray(out).dtype


def uniform_value(arr):
    """The one value all of arr's elements have, or None (NaN counts as one value; +0.0
    and -0.0 are two)."""
    if arr.size == 0:
        return None
    flat = arr.reshape(-1)
    if arr.dtype.kind in "fV":      # V: bfloat16
        f = flat.astype(np.float64)
        same = (np.all(np.isnan(f)) if np.isnan(f[0]) else
                bool(np.all(f == f[0])) and bool(np.all(np.signbit(f) == np.signbit(f[0]))))
    else:
        same = bool(np.all(flat == flat[0]))
    return flat[0] if same else None


def known_scalar(a, graph, max_elements=1 << 16):
    """The one value every element of operand `a` has, when the graph says so: a literal, a
    `full` node, or a graph constant whose elements are all equal (constants bigger than
    `max_elements` are not scanned). Returns a scalar or None."""
    if is_literal(a):
        return a
    if a.node is not None:
        return a.dtype.np.type(a.node.attrs["value"]) if a.node.op == "full" else None
    arr = graph.constants.get(a)
    if arr is None or arr.size > max_elements:
        return None
    return uniform_value(arr)


class Rewriter:
    """Copies `graph` into `self.new`. Inputs and constants are copied up front; nodes are
    copied (`copy`), replaced (`replace`) or rebuilt (`emit`) by the pass, in order."""

    def __init__(self, graph: Graph, copy_constants=True):
        self.old = graph
        try:  # a Graph subclass (e.g. a joint forward/backward graph) stays one
            self.new = type(graph)(graph.name)
        except TypeError:
            self.new = Graph(graph.name)
        self.env: dict = {}
        self.stop = stop_gradient_values(graph)
        self.changes = 0
        for v in graph.inputs:
            self.env[v] = self.new.add_input(v.type, v.name)
        if copy_constants:
            for v, arr in graph.constants.items():
                self.env[v] = self.new.add_constant(arr)

    # -------------------------------------------------------------- mapping
    def __getitem__(self, v):
        """The new value (or the literal itself) for an old operand."""
        return self.env[v] if isinstance(v, Value) else v

    def operands(self, node):
        return [self[v] for v in node.inputs]

    def pinned(self, v: Value) -> bool:
        """A value another value must not stand in for (a gradient cut of the tracer)."""
        return v in self.stop

    # -------------------------------------------------------------- building
    def copy(self, node, inputs=None, attrs=None):
        """Copy `node` (optionally with new operands/attributes), keeping its types."""
        new = self.new.add_node(node.op, self.operands(node) if inputs is None else inputs,
                                node.attrs if attrs is None else attrs,
                                out_types=[o.type for o in node.outputs], source=node.source)
        for o, n in zip(node.outputs, new.outputs):
            n.name = o.name
            self.env[o] = n
        return new

    def replace(self, node, values):
        """The outputs of `node` are `values` (new-graph Values); the node is dropped."""
        for o, v in zip(node.outputs, values):
            self.env[o] = v
        self.changes += 1

    def emit(self, op, inputs, attrs=None, out_types=None, source=None) -> Value:
        """A new node in the new graph; returns its (first) output."""
        return self.new.add_node(op, inputs, attrs or {}, out_types=out_types,
                                 source=source).outputs[0]

    def constant(self, array) -> Value:
        return self.new.add_constant(np.ascontiguousarray(array))

    def finish(self) -> Graph:
        """Set the outputs and carry the graph's attachments over to the new graph."""
        self.new.set_outputs([self.env[v] for v in self.old.outputs])
        if hasattr(self.old, "stop_gradient"):
            self.new.stop_gradient = {self.env[v] for v in self.old.stop_gradient
                                      if v in self.env}
        for k, v in vars(self.old).items():  # what a producer attached (example bindings...)
            if k not in _CORE:
                setattr(self.new, k, v)
        return self.new


_CORE = frozenset({"name", "inputs", "outputs", "nodes", "constants", "_ids", "stop_gradient"})
