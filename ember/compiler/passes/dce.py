"""Dead-code elimination: drop every node none of whose outputs reaches a graph output, and
every constant nothing reads.

Random draws are not kept for their side effect on the generator: a draw whose result is
unused is dead like any other node. The graph's meaning is its outputs' values; which
positions of the generator's stream feed them is not part of it (eager code that draws
and discards would shift later draws, a compiled graph need not reproduce that), the same
choice PyTorch's compiler makes. Graph inputs are never removed: they are the signature.
"""
from __future__ import annotations

from ...ir.graph import Graph
from .rewrite import Rewriter

__all__ = ["dce", "live_nodes"]


def live_nodes(graph: Graph) -> set:
    """The nodes whose results reach a graph output (node objects)."""
    live_values = set(graph.outputs)
    live = set()
    for n in reversed(graph.nodes):
        if any(o in live_values for o in n.outputs):
            live.add(n)
            live_values.update(n.value_inputs())
    return live


def run(graph: Graph):
    """(new graph, number of nodes and constants removed)."""
    live = live_nodes(graph)
    used = set(graph.outputs)
    for n in live:
        used.update(n.value_inputs())
    rw = Rewriter(graph, copy_constants=False)
    for v, arr in graph.constants.items():
        if v in used:
            rw.env[v] = rw.new.add_constant(arr)
        else:
            rw.changes += 1
    for n in graph.nodes:
        if n in live:
            rw.copy(n)
        else:
            rw.changes += 1
    return rw.finish(), rw.changes


def dce(graph: Graph) -> Graph:
    """A copy of `graph` without dead nodes and unused constants."""
    return run(graph)[0]
