"""`.code` of a traced callable: its graph rendered as readable Python-like source.

One line per node, `v12 = matmul(x, v11)`, attributes as keywords, the user line that
made the node as a comment; inputs keep their names (arguments, then parameters and
buffers with '.' spelled '_'); constants are listed first.
"""
from __future__ import annotations

import re

import numpy as np

from ..ir import dtypes as D
from ..ir.graph import Value, type_str

__all__ = ["python_code"]


def _ident(name, taken):
    base = re.sub(r"\W", "_", name or "") or "arg"
    if base[0].isdigit():
        base = "_" + base
    out, k = base, 1
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def _lit(a):
    if isinstance(a, D.DType):
        return f"ember.{a.name}"
    if isinstance(a, np.generic):
        return repr(a.item()) if a.dtype.kind != "V" else repr(float(a))
    if isinstance(a, tuple):
        return "(" + ", ".join(_lit(x) for x in a) + ("," if len(a) == 1 else "") + ")"
    if isinstance(a, list):
        return "[" + ", ".join(_lit(x) for x in a) + "]"
    return repr(a)


def python_code(graph, name="forward"):
    taken = set()
    names = {}
    for v in graph.inputs:
        names[v] = _ident(v.name, taken)
    for k, v in enumerate(graph.constants):
        names[v] = _ident(f"c{k}", taken)
    args = ", ".join(names[v] for v in graph.inputs)
    lines = [f"def {name}({args}):"]
    for v in graph.inputs:
        lines.append(f"    # {names[v]}: {type_str(v.type)}")
    for v, arr in graph.constants.items():
        lines.append(f"    {names[v]} = constant({type_str(v.type)})")
    for n in graph.nodes:
        for o in n.outputs:
            names[o] = _ident(f"v{o.id}", taken)
        outs = ", ".join(names[o] for o in n.outputs)
        operands = [names[v] if isinstance(v, Value) else _lit(v) for v in n.inputs]
        operands += [f"{k}={_lit(a)}" for k, a in n.attrs.items() if not k.startswith("_")]
        line = f"    {outs} = {n.op}({', '.join(operands)})"
        if n.source:
            line += f"  # {n.source}"
        lines.append(line)
    rets = [names[v] for v in graph.outputs]
    lines.append(f"    return {rets[0]}" if len(rets) == 1 else
                 f"    return ({', '.join(rets)}{',' if len(rets) == 1 else ''})")
    return "\n".join(lines) + "\n"
