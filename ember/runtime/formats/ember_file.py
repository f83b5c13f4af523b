"""The ember file format: a safetensors file whose metadata describes the saved object.

Tensors are the safetensors entries, named by their path in the object ("layer.weight",
"state.0.exp_avg"), so other safetensors tools read an ember file as a flat dict. The
metadata holds:

- `ember.format` = "ember.save", `ember.version` = "1";
- `ember.structure`: JSON `{"tensors": [...], "root": node}`. `tensors[i]` is
  `{"name", "requires_grad", "parameter", "location"}`; a node is a JSON scalar (null,
  true/false, int, finite float, string) or an object with one key naming its kind:
  `{"tensor": i}`, `{"list": [...]}`, `{"tuple": [...]}`, `{"dict": [[k, v], ...]}`,
  `{"odict": ...}`, `{"odict_attrs": [pairs, [[name, node], ...]]}` (an OrderedDict with
  attributes, like a state_dict's `_metadata`), `{"set": [...]}`, `{"frozenset": [...]}`,
  `{"namedtuple": [typename, fields, items]}`, `{"float": "nan" | "inf" | "-inf"}`,
  `{"complex": [re, im]}`, `{"bytes": base64}`, `{"bytearray": base64}`,
  `{"dtype": name}`, `{"device": str}`, `{"size": [ints]}`;
- `ember.crc32`: the checksum described in `safetensors_file`.

Decoding only builds the containers listed above; no name in the file is ever imported or
called (namedtuple types are recreated from their field names with
`collections.namedtuple`, which accepts identifiers only).
"""
from __future__ import annotations

import base64
import collections
import json
import math

from ...ir import dtypes as D
from . import safetensors_file as stf
from .records import DeviceValue, SerializationError, SizeValue, StoredTensor

FORMAT_KEY, VERSION_KEY, STRUCTURE_KEY = "ember.format", "ember.version", "ember.structure"
FORMAT_NAME, VERSION = "ember.save", 1
EMBER_KEYS = (FORMAT_KEY, VERSION_KEY, STRUCTURE_KEY, stf.CHECKSUM_KEY)
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# ---------------------------------------------------------------- encoding
class _Encoder:
    def __init__(self):
        self.tensors = []   # entries of the "tensors" table
        self.arrays = {}    # safetensors name -> contiguous array
        self.index = {}     # id(StoredTensor) -> position (the tree keeps records alive)

    def node(self, obj, path):
        enc = _ENCODERS.get(type(obj))
        if enc is None and isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
            enc = _Encoder.namedtuple
        if enc is None:
            raise TypeError(f"ember.save: cannot store an object of type {type(obj).__name__} "
                            f"(at {_where(path)})")
        return enc(self, obj, path)

    def items(self, seq, path):
        return [self.node(v, path + [str(i)]) for i, v in enumerate(seq)]

    def tensor(self, t, path):
        i = self.index.get(id(t))
        if i is None:
            i = self.index[id(t)] = len(self.tensors)
            name = self._fresh_name(".".join(path) or "tensor")
            self.arrays[name] = t.array()
            self.tensors.append({"name": name, "requires_grad": bool(t.requires_grad),
                                 "parameter": bool(t.parameter), "location": t.storage.location})
        return {"tensor": i}

    def _fresh_name(self, name):
        cand, n = name, 0
        while cand in self.arrays or cand == "__metadata__":
            n += 1
            cand = f"{name}#{n}"
        return cand

    def mapping(self, d, path, tag):
        return {tag: [[self.node(k, path + ["key"]), self.node(v, path + [str(k)])]
                      for k, v in d.items()]}

    def odict(self, d, path):
        """An OrderedDict; its attributes too (a state_dict's `_metadata`)."""
        node = self.mapping(d, path, "odict")
        attrs = vars(d)
        if not attrs:
            return node
        return {"odict_attrs": [node["odict"], [[k, self.node(v, path + [k])]
                                                for k, v in attrs.items()]]}

    def namedtuple(self, t, path):
        return {"namedtuple": [type(t).__name__, list(t._fields), self.items(t, path)]}

    def float_(self, x, path):
        if math.isfinite(x):
            return x
        return {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _where(path):
    return "obj" + "".join(f"[{p!r}]" for p in path)


_ENCODERS = {
    type(None): lambda e, x, p: x, bool: lambda e, x, p: x, int: lambda e, x, p: x,
    str: lambda e, x, p: x, float: _Encoder.float_,
    complex: lambda e, x, p: {"complex": [e.float_(x.real, p), e.float_(x.imag, p)]},
    bytes: lambda e, x, p: {"bytes": base64.b64encode(x).decode()},
    bytearray: lambda e, x, p: {"bytearray": base64.b64encode(x).decode()},
    list: lambda e, x, p: {"list": e.items(x, p)},
    tuple: lambda e, x, p: {"tuple": e.items(x, p)},
    set: lambda e, x, p: {"set": e.items(x, p)},
    frozenset: lambda e, x, p: {"frozenset": e.items(x, p)},
    dict: lambda e, x, p: e.mapping(x, p, "dict"),
    collections.OrderedDict: _Encoder.odict,
    SizeValue: lambda e, x, p: {"size": list(x)},
    DeviceValue: lambda e, x, p: {"device": str(x)},
    D.DType: lambda e, x, p: {"dtype": x.name},
    StoredTensor: _Encoder.tensor,
}


def write(tree, dest) -> None:
    """Write a neutral tree (see records) to `dest`, a path or a binary file object."""
    enc = _Encoder()
    root = enc.node(tree, [])
    structure = json.dumps({"tensors": enc.tensors, "root": root}, allow_nan=False,
                           separators=(",", ":"))
    meta = {FORMAT_KEY: FORMAT_NAME, VERSION_KEY: str(VERSION), STRUCTURE_KEY: structure}
    stf.write(dest, enc.arrays, meta)


# ---------------------------------------------------------------- decoding
_NAMEDTUPLES: dict = {}


def _namedtuple_type(typename, fields):
    key = (typename, tuple(fields))
    t = _NAMEDTUPLES.get(key)
    if t is None:
        t = _NAMEDTUPLES[key] = collections.namedtuple(typename, fields)
    return t


class _Decoder:
    def __init__(self, tensors, arrays):
        self.tensors, self.arrays, self.made = tensors, arrays, {}

    def node(self, n):
        if n is None or type(n) in (bool, int, float, str):
            return n
        if not isinstance(n, dict) or len(n) != 1:
            raise ValueError(f"bad node {str(n)[:80]}")
        (tag, v), = n.items()
        dec = _DECODERS.get(tag)
        if dec is None:
            raise ValueError(f"unknown node kind {tag!r}")
        return dec(self, v)

    def items(self, v):
        if not isinstance(v, list):
            raise ValueError("expected a list of nodes")
        return [self.node(x) for x in v]

    def tensor(self, i):
        t = self.made.get(i)
        if t is None:
            if type(i) is not int or not 0 <= i < len(self.tensors):
                raise ValueError(f"tensor index {i!r} out of range")
            e = self.tensors[i]
            name = e["name"]
            if name not in self.arrays:
                raise ValueError(f"the structure names tensor {name!r}, which the file lacks")
            rg, param, loc = e["requires_grad"], e["parameter"], e["location"]
            if type(rg) is not bool or type(param) is not bool or type(loc) is not str:
                raise ValueError(f"bad entry for tensor {name!r}")
            t = self.made[i] = StoredTensor.of_array(self.arrays[name], loc, rg, param)
        return t

    def mapping(self, v, cls):
        if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
            raise ValueError("expected a list of [key, value] pairs")
        return cls((self.node(k), self.node(x)) for k, x in v)

    def odict_attrs(self, v):
        pairs, attrs = v
        d = self.mapping(pairs, collections.OrderedDict)
        for k, x in attrs:
            d.__dict__[_str(k)] = self.node(x)  # a fresh dict's own namespace: nothing else
        return d

    def namedtuple(self, v):
        typename, fields, items = v
        return _namedtuple_type(typename, fields)(*self.items(items))


def _float(v):
    return _NONFINITE[v] if isinstance(v, str) else float(v)


def _str(v):
    if type(v) is not str:
        raise ValueError(f"expected a string, got {str(v)[:80]}")
    return v


def _int_list(v):
    if not isinstance(v, list) or not all(type(d) is int for d in v):
        raise ValueError(f"expected a list of ints, got {str(v)[:80]}")
    return v


_DECODERS = {
    "tensor": _Decoder.tensor,
    "list": lambda d, v: d.items(v),
    "tuple": lambda d, v: tuple(d.items(v)),
    "set": lambda d, v: set(d.items(v)),
    "frozenset": lambda d, v: frozenset(d.items(v)),
    "dict": lambda d, v: d.mapping(v, dict),
    "odict": lambda d, v: d.mapping(v, collections.OrderedDict),
    "odict_attrs": _Decoder.odict_attrs,
    "namedtuple": _Decoder.namedtuple,
    "float": lambda d, v: _NONFINITE[v],
    "complex": lambda d, v: complex(_float(v[0]), _float(v[1])),
    "bytes": lambda d, v: base64.b64decode(v, validate=True),
    "bytearray": lambda d, v: bytearray(base64.b64decode(v, validate=True)),
    "dtype": lambda d, v: D._BY_NAME[_str(v)],
    "device": lambda d, v: DeviceValue(_str(v)),
    "size": lambda d, v: SizeValue(_int_list(v)),
}


def is_ember(meta: dict) -> bool:
    """Whether safetensors metadata belongs to an ember file (any ember key counts, so a
    corrupted key is reported instead of loading the file as a plain tensor dict)."""
    return any(k in meta for k in EMBER_KEYS)


def decode(arrays: dict, meta: dict, name: str):
    """The neutral tree of an ember file whose safetensors part has already been read."""
    def fail(msg):
        raise SerializationError(f"{name}: {msg}")

    missing = [k for k in EMBER_KEYS if k not in meta]
    if missing:
        fail(f"corrupted ember file: metadata lacks {', '.join(missing)}")
    if meta[FORMAT_KEY] != FORMAT_NAME:
        fail(f"unknown format {meta[FORMAT_KEY]!r} (expected {FORMAT_NAME!r})")
    version = meta[VERSION_KEY]
    if not version.isdigit() or int(version) > VERSION:
        fail(f"unsupported ember file version {version!r} (this ember reads versions up to "
             f"{VERSION}; a newer ember wrote it)")
    try:
        s = json.loads(meta[STRUCTURE_KEY])
        if not isinstance(s, dict) or set(s) != {"tensors", "root"} or \
                not isinstance(s["tensors"], list) or \
                not all(isinstance(e, dict) for e in s["tensors"]):
            raise ValueError("expected {'tensors': [...], 'root': node}")
        return _Decoder(s["tensors"], arrays).node(s["root"])
    except (ValueError, TypeError, KeyError, IndexError, RecursionError) as e:
        fail(f"malformed ember.structure metadata: {e}")


def read(f, name: str):
    """The neutral tree of a safetensors file: an ember file's saved object, or for a file
    written by another tool a dict of its tensors (in name order)."""
    arrays, meta = stf.read(f, name)
    if is_ember(meta):
        return decode(arrays, meta, name)
    return {k: StoredTensor.of_array(a) for k, a in arrays.items()}
