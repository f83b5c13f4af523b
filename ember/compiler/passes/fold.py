"""Constant folding: a node whose tensor operands are all known (graph constants, or
outputs of `full`/`iota`) is evaluated now, with the same CPU kernels the reference
interpreter runs, and replaced by its value. The result is bit-for-bit what the
interpreter would have computed.

- A result whose elements are all equal becomes a `full` node (one scalar, any size);
  any other result becomes a graph constant only when it is at most `max_bytes`, so a
  huge table is never materialised into the graph.
- `full`/`iota` nodes are not folded on their own (they are already cheap, and a backend
  computes them inside a kernel); they are folded into what reads them.
- Never folded: random draws (each run draws anew), ops whose result size depends on the
  data (`nonzero`, `unique`), nodes with symbolic shapes, and nodes whose kernel result
  does not match the node's recorded type (an ill-typed graph is left for the verifier).
"""
from __future__ import annotations

import numpy as np

from ...ir.graph import Graph, Value
from ...ir.ops import PRIMITIVES
from ...runtime.registry import KERNELS
from .rewrite import Rewriter, has_static_shape, numel, uniform_value

__all__ = ["fold_constants", "DEFAULT_MAX_BYTES"]

DEFAULT_MAX_BYTES = 1 << 16        # the largest non-uniform constant folding may create
_SOURCES = frozenset({"full", "iota"})


def _foldable(node) -> bool:
    od = PRIMITIVES[node.op]
    return (od.kind != "random" and node.op not in _SOURCES
            and all(has_static_shape(o.shape) for o in node.outputs))


def _evaluate(node, args):
    with np.errstate(all="ignore"):   # inf/nan arise silently, as at run time
        out = KERNELS["cpu"][node.op](*args, **node.attrs)
    return out if type(out) is tuple else (out,)


class _Folder:
    def __init__(self, graph, max_bytes):
        self.rw = Rewriter(graph)
        self.max_bytes = max_bytes
        # known arrays for old values: constants now, folded results as they appear
        self.known = dict(graph.constants)

    def known_array(self, v):
        """The array of a known old value; `full`/`iota` outputs are evaluated on demand
        (bounded: a source far bigger than what folding may create is not expanded)."""
        if v in self.known:
            return self.known[v]
        n = v.node
        if n is None or n.op not in _SOURCES or not has_static_shape(v.shape):
            return None
        if numel(v.shape) * v.dtype.np.itemsize > 16 * self.max_bytes:
            return None
        try:
            arr = _evaluate(n, [])[0]
        except Exception:  # noqa: BLE001 - left for run time, where it names the user line
            return None
        self.known[v] = arr
        return arr

    def try_fold(self, n):
        if not _foldable(n):
            return None
        args = []
        for a in n.inputs:
            if isinstance(a, Value):
                arr = self.known_array(a)
                if arr is None:
                    return None
                args.append(arr)
            else:
                args.append(a)
        try:
            outs = _evaluate(n, args)
        except Exception:  # noqa: BLE001 - left for run time, where it names the user line
            return None
        outs = [np.asarray(o) for o in outs]
        for o, v in zip(outs, n.outputs):
            if o.dtype != v.dtype.np or tuple(o.shape) != tuple(v.shape):
                return None
        new = []
        for o, v in zip(outs, n.outputs):
            value = uniform_value(o) if o.size > 1 else None
            if value is not None:
                new.append(self.rw.emit("full", [], {"shape": tuple(v.shape), "dtype": v.dtype,
                                                     "value": value},
                                        out_types=[v.type], source=n.source))
            elif o.nbytes <= self.max_bytes:
                new.append(self.rw.constant(np.array(o, copy=True, order="C")))
            else:
                return None
        for o, v in zip(outs, n.outputs):
            self.known[v] = o
        return new

    def run(self):
        rw = self.rw
        for n in rw.old.nodes:
            if any(rw.pinned(o) for o in n.outputs):
                rw.copy(n)
                continue
            new = self.try_fold(n)
            if new is None:
                rw.copy(n)
            else:
                rw.replace(n, new)
        return rw.finish(), rw.changes


def run(graph: Graph, max_bytes=DEFAULT_MAX_BYTES):
    return _Folder(graph, max_bytes).run()


def fold_constants(graph: Graph, max_bytes: int = DEFAULT_MAX_BYTES) -> Graph:
    """A copy of `graph` with every foldable node replaced by its value (the nodes it read
    become dead: run `dce` after; `optimize` does)."""
    return run(graph, max_bytes)[0]
