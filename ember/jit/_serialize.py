"""ember.jit.save / ember.jit.load: traced graphs and their weights in one file.

The file is an `ember.save` file (safetensors-based, checksummed, written atomically): its
JSON metadata holds, under the key "ember.jit", every traced graph (the IR's versioned JSON
schema) with its calling convention, and its tensors are the parameters and buffers.
Loading parses JSON and builds graphs of known primitives: no code from the file runs, and
the original Python source is not needed. A module is saved with the graphs of its
all-train and all-eval configurations (traced now if they were not yet), so the loaded
module honours train() and eval().
"""
from __future__ import annotations

import collections
import json

from ..ir.graph import Graph
from ._trace import TracedFunction, _Program, _Trace

__all__ = ["save", "load"]

FORMAT = "ember.jit"
VERSION = 1
_JSON_SCALARS = (type(None), bool, int, float, str)


# ---------------------------------------------------------------- specs as JSON

def _spec_json(spec):
    kind = spec[0]
    if kind == "T":
        return ["T"]
    if kind == "C":
        if not isinstance(spec[1], _JSON_SCALARS):
            raise TypeError(f"ember.jit.save: a traced input or output holds a "
                            f"{type(spec[1]).__name__} ({spec[1]!r}); only tensors, None, bool, "
                            f"int, float, str and tuples/lists/dicts of them can be saved")
        return ["C", spec[1]]
    if kind == "dict":
        for k in spec[1]:
            if not isinstance(k, (str, int)):
                raise TypeError(f"ember.jit.save: dict keys must be str or int, got {k!r}")
        return ["dict", list(spec[1]), [_spec_json(s) for s in spec[2]]]
    if kind == "namedtuple":
        return ["namedtuple", spec[1].__name__, list(spec[1]._fields),
                [_spec_json(s) for s in spec[2]]]
    return [kind, [_spec_json(s) for s in spec[1]]]


def _spec_from_json(j):
    kind = j[0]
    if kind == "T":
        return ("T",)
    if kind == "C":
        return ("C", j[1])
    if kind == "dict":
        return ("dict", list(j[1]), [_spec_from_json(s) for s in j[2]])
    if kind == "namedtuple":
        return ("namedtuple", collections.namedtuple(j[1], j[2]),
                [_spec_from_json(s) for s in j[3]])
    if kind in ("tuple", "list"):
        return (kind, [_spec_from_json(s) for s in j[1]])
    raise RuntimeError(f"ember.jit.load: unknown structure kind {kind!r} in the file")


# ---------------------------------------------------------------- save

def _trace_json(key, tr):
    order = {v: k for k, v in enumerate(tr.graph.values())}
    stop = getattr(tr.graph, "stop_gradient", None) or ()
    return {"mode": None if key is None else list(key), "graph": tr.graph.to_json(),
            "stop_gradient": sorted(order[v] for v in stop),
            "in_spec": _spec_json(tr.in_spec), "out_spec": _spec_json(tr.out_spec),
            "n_user": tr.n_user, "n_out": tr.n_out, "mutated": list(tr.mutated),
            "feeds": list(tr.feeds), "names": list(tr.names)}


def _state_meta(module):
    paths = [p for p, _ in module.named_modules()]
    non_persistent = [f"{p}.{b}" if p else b for p, m in module.named_modules()
                      for b in m._non_persistent_buffers_set]
    return {"modules": paths, "training": [m.training for m in module.modules()],
            "non_persistent": non_persistent}


def save(m, f, _extra_files=None):
    """Write a TracedModule or TracedFunction (graphs + weights) to path or file `f`."""
    import ember
    from ._module import TracedModule
    if isinstance(m, TracedModule):
        kind, program = "module", m._program
        if m._orig is not None:   # make the file honour train() and eval()
            for mode in (True, False):
                key = tuple(mode for _ in m._root().modules())
                program.trace_for(key, restore=True)
        holder = m
    elif isinstance(m, TracedFunction):
        kind, program, holder = "function", m._program, m._program.module
    else:
        raise TypeError(f"ember.jit.save: expected a traced module or function (the result of "
                        f"ember.jit.trace or ember.jit.load), got {type(m).__name__}")
    meta = {"format": FORMAT, "version": VERSION, "kind": kind, "name": program.name,
            "traces": [_trace_json(k, tr) for k, tr in program.traces.items()]}
    params, buffers = {}, {}
    if holder is not None:
        meta.update(_state_meta(holder))
        params = dict(holder.named_parameters())
        buffers = dict(holder.named_buffers())
    ember.save({FORMAT: json.dumps(meta), "parameters": params, "buffers": buffers}, f)


# ---------------------------------------------------------------- load

def _trace_from_json(j):
    graph = Graph.from_json(j["graph"]).verify()
    values = list(graph.values())
    graph.stop_gradient = {values[i] for i in j["stop_gradient"]}
    key = None if j["mode"] is None else tuple(bool(x) for x in j["mode"])
    tr = _Trace(graph, _spec_from_json(j["in_spec"]), _spec_from_json(j["out_spec"]),
                int(j["n_user"]), int(j["n_out"]), [int(i) for i in j["mutated"]],
                [int(i) for i in j["feeds"]], [str(n) for n in j["names"]])
    return key, tr


def load(f, map_location=None, _extra_files=None):
    """Read a file written by ember.jit.save: a TracedModule or TracedFunction."""
    import ember
    from ._module import TracedModule, _Submodule
    obj = ember.load(f)
    if not isinstance(obj, dict) or FORMAT not in obj:
        raise RuntimeError(f"ember.jit.load: {f!r} is not a file written by ember.jit.save")
    try:
        meta = json.loads(obj[FORMAT])
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise RuntimeError(f"ember.jit.load: unsupported format {meta.get('format')!r} "
                               f"version {meta.get('version')!r} (this ember reads "
                               f"{FORMAT} version {VERSION})")
        program = _Program(None, None, None, True, meta["name"])
        for j in meta["traces"]:
            key, tr = _trace_from_json(j)
            program.traces[key] = tr
        state = (meta.get("modules"), meta.get("training"), obj["parameters"], obj["buffers"],
                 meta.get("non_persistent", []))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise RuntimeError(f"ember.jit.load: {f!r} is malformed: {type(e).__name__}: {e}") from None
    if meta["kind"] == "module":
        return TracedModule._loaded(program, meta["name"], *state)
    if state[0] is not None:  # a traced method: its module's weights
        holder = TracedModule._loaded(_Program(None, None, None, True, meta["name"]),
                                      meta["name"], *state)
        holder.__class__ = _Submodule
        program.module = holder
    return TracedFunction(program)
