"""The reference interpreter: runs any graph (`ember.ir.graph.Graph`) with the eager CPU
kernels, one node at a time. It is the oracle the compiler's passes and backends are
checked against, and the fallback executor for graphs nothing else compiles."""
from __future__ import annotations

import numpy as np

from ..ir.graph import Value, type_str
from .registry import KERNELS


class GraphRuntimeError(RuntimeError):
    """A node failed while running a graph; the message names the user line that made it."""


def bind_inputs(graph, arrays):
    """Check `arrays` against the graph's input types; returns {symbol: size}."""
    if len(arrays) != len(graph.inputs):
        raise GraphRuntimeError(f"{graph.name}: expected {len(graph.inputs)} input(s), got "
                                f"{len(arrays)}")
    syms = {}
    for k, (v, a) in enumerate(zip(graph.inputs, arrays)):
        ok = a.dtype == v.dtype.np and a.ndim == len(v.shape)
        if ok:
            for want, got in zip(v.shape, a.shape):
                if isinstance(want, str):
                    ok = syms.setdefault(want, got) == got
                else:
                    ok = want == got
                if not ok:
                    break
        if not ok:
            raise GraphRuntimeError(
                f"{graph.name}: input {k} ({v}) expects {type_str(v.type)}, got "
                f"{a.dtype}{list(a.shape)}" + (f" with {syms}" if syms else ""))
    return syms


def run_graph(graph, arrays, device="cpu"):
    """Evaluate `graph` on NumPy arrays; returns the list of output arrays."""
    bind_inputs(graph, arrays)
    kernels = KERNELS[device]
    env = dict(zip(graph.inputs, arrays))
    env.update(graph.constants)
    with np.errstate(all="ignore"):  # inf/nan silently, as eager (one context per graph run)
        _run_nodes(graph, kernels, env)
    return [env[v] for v in graph.outputs]


def _run_nodes(graph, kernels, env):
    for n in graph.nodes:
        args = [env[v] if isinstance(v, Value) else v for v in n.inputs]
        try:
            out = kernels[n.op](*args, **n.attrs)
        except Exception as e:  # noqa: BLE001 - re-raised with the node's user line
            where = f" (created at {n.source})" if n.source else ""
            raise GraphRuntimeError(f"{graph.name}: '{n.op}'{where} failed: "
                                    f"{type(e).__name__}: {e}") from e
        outs = out if type(out) is tuple else (out,)
        for v, o in zip(n.outputs, outs):
            env[v] = o if type(o) is np.ndarray else np.asarray(o)
