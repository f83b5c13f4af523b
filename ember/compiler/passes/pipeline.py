"""`optimize(graph)`: the cleanup passes (simplify, constant folding, CSE, DCE) repeated
until none changes the graph.

Note for executors: after optimization a graph output may be a graph input (`x * 1` is
`x`), a graph constant (folding) or the same value as another output (CSE). A traced
graph can be like that already (`return x`, a captured tensor, `return y, y`); an
executor that promises fresh output tensors copies such outputs.
"""
from __future__ import annotations

from ...ir.graph import Graph
from .cse import run as _cse
from .dce import run as _dce
from .fold import run as _fold
from .simplify import run as _simplify

__all__ = ["optimize", "CLEANUP"]

# each: graph -> (new graph, number of changes)
CLEANUP = (_simplify, _fold, _cse, _dce)


def optimize(graph: Graph, max_rounds: int = 16) -> Graph:
    """Run the cleanup passes in turn until a whole round changes nothing (or
    `max_rounds` rounds ran). The result computes the same outputs; see each pass for
    its exact guarantee."""
    for _ in range(max_rounds):
        changed = 0
        for step in CLEANUP:
            graph, n = step(graph)
            changed += n
        if not changed:
            break
    return graph
