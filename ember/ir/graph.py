"""The graph IR: a `Graph` of SSA `Node`s over the primitive op table.

- A `Value` is defined once: as a graph input, a constant, or an output of one node. It has
  a `TensorType` (shape, dtype); a dimension is an int or a `Sym` (a named symbolic size,
  e.g. a batch dimension "B").
- A `Node` applies one primitive (`ir.ops.PRIMITIVES`) to inputs that are Values or literal
  scalars (Python numbers of the operand dtype, as eager dispatch passes them), with the
  op's attributes, and records the user source line that created it.
- The IR knows nothing of devices or kernels: running a graph is the runtime's job
  (`ember.runtime.interpreter`), compiling it the compiler's.

`str(graph)` prints one line a node, jaxpr-style; `verify` checks well-formedness and
re-runs each op's shape/dtype rule; `to_json`/`from_json` round-trip with a schema version;
`to_dot` draws it for Graphviz.
"""
from __future__ import annotations

import base64
import itertools
import json

import numpy as np

from . import dtypes as D
from .ops import PRIMITIVES, TensorType

__all__ = ["Sym", "Value", "Node", "Graph", "GraphError", "SCHEMA_VERSION", "type_str"]

SCHEMA_VERSION = 1

_SHORT = {"bool": "b8", "uint8": "u8", "int8": "i8", "int16": "i16", "int32": "i32",
          "int64": "i64", "float16": "f16", "bfloat16": "bf16", "float32": "f32",
          "float64": "f64"}


class GraphError(ValueError):
    """An ill-formed or ill-typed graph, or a bad serialized graph."""


class Sym(str):
    """A symbolic dimension (e.g. Sym("B")): equal to itself, unequal to any int."""
    __slots__ = ()

    def __repr__(self):
        return f"Sym({str.__repr__(self)})"


def _has_sym(shape):
    return any(isinstance(d, str) for d in shape)


def type_str(t: TensorType, device="cpu") -> str:
    s = f"{_SHORT[t.dtype.name]}[{','.join(str(d) for d in t.shape)}]"
    return s if device == "cpu" else f"{s}@{device}"


class Value:
    __slots__ = ("id", "type", "node", "index", "name", "device")

    def __init__(self, id, type, node=None, index=0, name=None, device="cpu"):
        self.id = id
        self.type = type
        self.node = node      # the producing Node; None for graph inputs and constants
        self.index = index    # which output of `node`
        self.name = name
        # where the value lives, as a label ("cpu", "cuda:0"): the IR compares devices but
        # knows nothing of them; backends and the runtime give the labels meaning
        self.device = device

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    def __repr__(self):
        return f"%{self.name or self.id}"


class Node:
    __slots__ = ("op", "inputs", "attrs", "outputs", "source")

    def __init__(self, op, inputs, attrs, outputs, source=None):
        self.op = op
        self.inputs = tuple(inputs)
        self.attrs = dict(attrs)
        self.outputs = tuple(outputs)
        self.source = source  # "file.py:12" of the user line that created the node

    def value_inputs(self):
        return [v for v in self.inputs if isinstance(v, Value)]

    def __repr__(self):
        return _node_line(self)


class Graph:
    def __init__(self, name="graph"):
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.constants: dict[Value, np.ndarray] = {}
        # values whose gradient is cut (detach(), no_grad regions): autodiff stops there
        self.stop_gradient: set[Value] = set()
        self._ids = itertools.count()

    # ------------------------------------------------------------ building
    def _value(self, type, node=None, index=0, name=None, device="cpu"):
        if not isinstance(type, TensorType):
            type = TensorType(tuple(type[0]), type[1])
        return Value(next(self._ids), TensorType(tuple(type.shape), type.dtype), node, index,
                     name, device)

    def add_input(self, type, name=None, device="cpu") -> Value:
        v = self._value(type, name=name, device=device)
        self.inputs.append(v)
        return v

    def add_constant(self, array, device="cpu") -> Value:
        array = np.asarray(array)
        v = self._value(TensorType(array.shape, D.from_numpy_dtype(array.dtype)), device=device)
        self.constants[v] = array
        return v

    def add_node(self, op, inputs, attrs=None, out_types=None, source=None) -> Node:
        """Append `op(inputs, **attrs)`; output types come from the op's rule unless given."""
        opdef = PRIMITIVES.get(op)
        if opdef is None:
            raise GraphError(f"add_node: '{op}' is not a primitive op")
        attrs = dict(attrs or {})
        if out_types is None:
            out_types = opdef.rule(*[v.type if isinstance(v, Value) else v for v in inputs],
                                   **attrs)
        node = Node(op, inputs, attrs, (), source)
        device = next((v.device for v in inputs if isinstance(v, Value)), "cpu")
        node.outputs = tuple(self._value(t, node, i, device=device)
                             for i, t in enumerate(out_types))
        self.nodes.append(node)
        return node

    def set_outputs(self, values):
        self.outputs = list(values)

    def values(self):
        """Every value, in definition order (inputs, constants, then node outputs)."""
        yield from self.inputs
        yield from self.constants
        for n in self.nodes:
            yield from n.outputs

    def users(self):
        """value -> list of nodes that read it."""
        out = {}
        for n in self.nodes:
            for v in n.value_inputs():
                out.setdefault(v, []).append(n)
        return out

    def copy(self):
        return Graph.from_json(self.to_json())

    # ------------------------------------------------------------ checking
    def verify(self):
        """Raise GraphError naming the node (and its source line) if the graph is ill-formed
        (a value used before or without definition, defined twice, an unknown op, wrong
        operand count) or ill-typed (recorded output types disagree with the op's rule)."""
        defined = set()
        for v in itertools.chain(self.inputs, self.constants):
            if v in defined:
                raise GraphError(f"value {v} is defined twice")
            defined.add(v)
        for v, arr in self.constants.items():
            if tuple(arr.shape) != tuple(v.shape) or D.from_numpy_dtype(arr.dtype) is not v.dtype:
                raise GraphError(f"constant {v}: data {arr.dtype}{list(arr.shape)} does not "
                                 f"match its type {type_str(v.type)}")
        for n in self.nodes:
            self._verify_node(n, defined)
            for o in n.outputs:
                if o in defined:
                    raise GraphError(f"{_where(n)}: value {o} is defined twice")
                defined.add(o)
        for v in self.outputs:
            if v not in defined:
                raise GraphError(f"graph output {v} is not defined by the graph")
        return self

    def _verify_node(self, n, defined):
        opdef = PRIMITIVES.get(n.op)
        if opdef is None:
            raise GraphError(f"{_where(n)}: unknown op '{n.op}'")
        ins = n.value_inputs()
        for v in ins:
            if v not in defined:
                raise GraphError(f"{_where(n)}: operand {v} is used before it is defined")
        if opdef.arity >= 0 and len(n.inputs) != opdef.arity:
            raise GraphError(f"{_where(n)}: '{n.op}' takes {opdef.arity} operand(s), "
                             f"got {len(n.inputs)}")
        if len(n.outputs) != opdef.nout:
            raise GraphError(f"{_where(n)}: '{n.op}' has {opdef.nout} output(s), the node "
                             f"records {len(n.outputs)}")
        devices = {v.device for v in ins} | {o.device for o in n.outputs}
        if len(devices) > 1:
            raise GraphError(f"{_where(n)}: operands and results are on different devices "
                             f"({', '.join(sorted(devices))})")
        symbolic = any(_has_sym(v.shape) for v in ins)
        try:
            expect = opdef.rule(*[v.type if isinstance(v, Value) else v for v in n.inputs],
                                **n.attrs)
        except Exception as e:  # noqa: BLE001 - reported with the node
            if symbolic:  # rules do arithmetic on sizes; symbolic ones are checked at run time
                return
            raise GraphError(f"{_where(n)}: ill-typed '{n.op}': {e}") from None
        for o, t in zip(n.outputs, expect):
            if o.dtype is not t.dtype or (not symbolic and tuple(o.shape) != tuple(t.shape)):
                raise GraphError(f"{_where(n)}: '{n.op}' should produce {type_str(t)}, the "
                                 f"node records {type_str(o.type)} for {o}")

    # ------------------------------------------------------------ text
    def __str__(self):
        ins = ", ".join(f"{v}: {type_str(v.type, v.device)}" for v in self.inputs)
        lines = [f"{self.name}({ins}) {{"]
        for v, arr in self.constants.items():
            lines.append(f"  {v}: {type_str(v.type, v.device)} = constant "
                         f"{_const_preview(arr)}")
        for n in self.nodes:
            lines.append("  " + _node_line(n))
        lines.append(f"  return ({', '.join(map(repr, self.outputs))})")
        lines.append("}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self):
        """Graphviz DOT text: inputs/constants as ellipses, nodes as boxes, typed edges."""
        out = [f'digraph "{self.name}" {{', "  rankdir=TB;", '  node [fontname="monospace"];']
        for v in self.inputs:
            out.append(f'  v{v.id} [shape=ellipse, label="{v} : {type_str(v.type)}"];')
        for v in self.constants:
            out.append(f'  v{v.id} [shape=ellipse, style=dashed, label="const {type_str(v.type)}"];')
        for i, n in enumerate(self.nodes):
            attrs = _attrs_text(n.attrs).replace('"', "'")
            out.append(f'  n{i} [shape=box, label="{n.op}{(" " + attrs) if attrs else ""}"];')
            for v in n.value_inputs():
                src = _dot_src(self, v)
                out.append(f'  {src} -> n{i} [label="{type_str(v.type)}"];')
        for k, v in enumerate(self.outputs):
            out.append(f'  out{k} [shape=doublecircle, label="out{k}"];')
            out.append(f"  {_dot_src(self, v)} -> out{k};")
        out.append("}")
        return "\n".join(out)

    # ------------------------------------------------------------ JSON
    def to_json(self) -> str:
        ids = {}

        def ref(v):
            return ids[v]

        def vdesc(v):
            ids[v] = len(ids)
            return {"id": ids[v], "shape": [_dim_json(d) for d in v.shape],
                    "dtype": v.dtype.name, "device": v.device,
                    **({"name": v.name} if v.name else {})}

        doc = {"schema_version": SCHEMA_VERSION, "name": self.name,
               "inputs": [vdesc(v) for v in self.inputs],
               "constants": [{**vdesc(v), "data": base64.b64encode(
                   np.ascontiguousarray(a).tobytes()).decode("ascii")}
                   for v, a in self.constants.items()],
               "nodes": []}
        for n in self.nodes:
            doc["nodes"].append({
                "op": n.op,
                "inputs": [{"value": ref(v)} if isinstance(v, Value) else {"literal": _enc(v)}
                           for v in n.inputs],
                "attrs": {k: _enc(a) for k, a in n.attrs.items()},
                "outputs": [vdesc(o) for o in n.outputs],
                **({"source": n.source} if n.source else {})})
        doc["outputs"] = [ref(v) for v in self.outputs]
        doc["stop_gradient"] = sorted(ids[v] for v in self.stop_gradient if v in ids)
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text) -> "Graph":
        try:
            doc = json.loads(text)
        except (TypeError, ValueError) as e:
            raise GraphError(f"graph JSON is not valid JSON: {e}") from None
        if not isinstance(doc, dict) or "schema_version" not in doc:
            raise GraphError("graph JSON has no schema_version: not an ember graph")
        if doc["schema_version"] != SCHEMA_VERSION:
            raise GraphError(f"graph JSON schema_version {doc['schema_version']} is not "
                             f"supported (this ember reads version {SCHEMA_VERSION})")
        try:
            return cls._from_doc(doc)
        except (KeyError, IndexError, TypeError) as e:
            raise GraphError(f"graph JSON is malformed: {type(e).__name__}: {e}") from None

    @classmethod
    def _from_doc(cls, doc):
        g = cls(doc.get("name", "graph"))
        vals = {}

        def vtype(d):
            return TensorType(tuple(_dim_from_json(x) for x in d["shape"]), D.to_dtype(d["dtype"]))

        for d in doc["inputs"]:
            vals[d["id"]] = g.add_input(vtype(d), d.get("name"), d.get("device", "cpu"))
        for d in doc["constants"]:
            t = vtype(d)
            arr = np.frombuffer(base64.b64decode(d["data"]), dtype=t.dtype.np).reshape(t.shape)
            v = g._value(t, device=d.get("device", "cpu"))
            g.constants[v] = arr.copy()
            vals[d["id"]] = v
        for nd in doc["nodes"]:
            ins = [vals[i["value"]] if "value" in i else _dec(i["literal"]) for i in nd["inputs"]]
            node = Node(nd["op"], ins, {k: _dec(a) for k, a in nd["attrs"].items()}, (),
                        nd.get("source"))
            outs = []
            for k, od in enumerate(nd["outputs"]):
                v = g._value(vtype(od), node, k, od.get("name"), od.get("device", "cpu"))
                vals[od["id"]] = v
                outs.append(v)
            node.outputs = tuple(outs)
            g.nodes.append(node)
        g.outputs = [vals[i] for i in doc["outputs"]]
        g.stop_gradient = {vals[i] for i in doc.get("stop_gradient", ())}
        return g


# ---------------------------------------------------------------- helpers

def _where(n):
    return f"node '{n.op}'" + (f" (created at {n.source})" if n.source else "")


def _dot_src(g, v):
    return f"v{v.id}" if v.node is None else f"n{g.nodes.index(v.node)}"


def _const_preview(arr):
    if arr.size <= 4:
        return np.array2string(arr.astype(np.float64) if arr.dtype.kind == "V" else arr,
                               separator=",").replace("\n", "")
    return "{...}"


def _attr_text(a):
    if isinstance(a, D.DType):
        return a.name
    if isinstance(a, np.generic):  # a literal operand: its value (its dtype is the operands')
        return repr(a.item() if a.dtype.kind != "V" else float(a))
    if isinstance(a, tuple):
        return "(" + ",".join(_attr_text(x) for x in a) + ("," if len(a) == 1 else "") + ")"
    return repr(a)


def _attrs_text(attrs):
    return ", ".join(f"{k}={_attr_text(v)}" for k, v in attrs.items() if not k.startswith("_"))


def _node_line(n):
    outs = ", ".join(f"{o}: {type_str(o.type, o.device)}" for o in n.outputs)
    args = ", ".join(repr(v) if isinstance(v, Value) else _attr_text(v) for v in n.inputs)
    attrs = _attrs_text(n.attrs)
    line = f"{outs} = {n.op} {args}" + (f" {{{attrs}}}" if attrs else "")
    return line + (f"    # {n.source}" if n.source else "")


def _dim_json(d):
    return {"sym": str(d)} if isinstance(d, str) else int(d)


def _dim_from_json(d):
    return Sym(d["sym"]) if isinstance(d, dict) else int(d)


def _enc(a):
    """Attribute/literal -> JSON (tagged where JSON would lose the type)."""
    if a is None or isinstance(a, (bool, str)):
        return a
    if isinstance(a, D.DType):
        return {"dtype": a.name}
    if isinstance(a, (int, float)):
        if isinstance(a, float) and not np.isfinite(a):
            return {"float": repr(a)}
        return a
    if isinstance(a, np.generic):
        v = a.item() if a.dtype.kind != "V" else float(a)
        return {"np": repr(v) if isinstance(v, float) else v, "dtype": str(a.dtype)}
    if isinstance(a, (tuple, list)):
        return {"tuple" if isinstance(a, tuple) else "list": [_enc(x) for x in a]}
    if isinstance(a, dict):
        return {"dict": {k: _enc(v) for k, v in a.items()}}
    raise GraphError(f"cannot serialize attribute value {a!r} of type {type(a).__name__}")


def _dec(a):
    if not isinstance(a, dict):
        return a
    if "dtype" in a and len(a) == 1:
        return D.to_dtype(a["dtype"])
    if "float" in a:
        return float(a["float"])
    if "np" in a:
        import ml_dtypes  # noqa: F401 - registers bfloat16 with NumPy
        dt = np.dtype(a["dtype"]) if a["dtype"] != "bfloat16" else D.bfloat16.np
        v = a["np"]
        return dt.type(float(v) if isinstance(v, str) else v)
    if "tuple" in a:
        return tuple(_dec(x) for x in a["tuple"])
    if "list" in a:
        return [_dec(x) for x in a["list"]]
    if "dict" in a:
        return {k: _dec(v) for k, v in a["dict"].items()}
    raise GraphError(f"unknown tagged value in graph JSON: {a}")
