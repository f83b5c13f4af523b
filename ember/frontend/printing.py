"""Tensor printing, character for character PyTorch's (torch/_tensor_str.py), with 'ember'
for 'torch'. It works on the NumPy storage directly: printing never records autograd."""
from __future__ import annotations

import contextlib
import math

import numpy as np

from ..ir import dtypes as D

_DEFAULTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}
_PROFILES = {
    "default": _DEFAULTS,
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_OPTS = dict(_DEFAULTS, sci_mode=None)
_NP2DT = {d.np: d for d in D.ALL_DTYPES}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None):
    if profile is not None:
        _OPTS.update(_PROFILES[profile])
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            _OPTS[k] = v
    _OPTS["sci_mode"] = sci_mode


def get_printoptions():
    return dict(_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Decides one width and one notation (int-like, fixed or scientific) for all values."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = _OPTS["precision"]
        flat = arr.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
        else:
            vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
            if vals.size == 0:
                return
            mag = np.abs(vals)
            lo, hi = float(mag.min()), float(mag.max())
            self.int_mode = bool(np.all(vals == np.ceil(vals)))
            forced = _OPTS["sci_mode"]
            self.sci_mode = (hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) if forced is None \
                else forced
            values = vals.tolist()
            if self.sci_mode:
                self.max_width = max(self.max_width, max(len(f"{v:.{p}e}") for v in values))
            elif self.int_mode:
                # integral floats print as "3." : one more character than the digits
                self.max_width = max(self.max_width, max(len(f"{v:.0f}") for v in values) + 1)
            else:
                self.max_width = max(self.max_width, max(len(f"{v:.{p}f}") for v in values))

    def format(self, v):
        p = _OPTS["precision"]
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{p}f}"
        else:
            s = f"{v}"
        return (self.max_width - len(s)) * " " + s


def _summarized(a):
    """Only the edge items, which is what the formatter measures when summarizing."""
    e = _OPTS["edgeitems"]
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate((a[:e], a[-e:])) if a.shape[0] > 2 * e else a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    rows = range(a.shape[0])
    if a.shape[0] > 2 * e:
        rows = list(range(e)) + list(range(a.shape[0] - e, a.shape[0]))
    return np.stack([_summarized(a[i]) for i in rows])


def _vector_str(a, indent, summarize, fmt):
    e = _OPTS["edgeitems"]
    per_line = max(1, int(math.floor((_OPTS["linewidth"] - indent) / (fmt.max_width + 2))))
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in a[:e].tolist()] + [" ..."] +
                [fmt.format(v) for v in a[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _str_with(a, indent, summarize, fmt):
    dim = a.ndim
    if dim == 0:
        return fmt.format(a.item())
    if dim == 1:
        return _vector_str(a, indent, summarize, fmt)
    e = _OPTS["edgeitems"]
    n = a.shape[0]
    if summarize and n > 2 * e:
        slices = ([_str_with(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] +
                  [_str_with(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        slices = [_str_with(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _tensor_str(a, indent):
    if a.size == 0:
        return "[]"
    summarize = a.size > _OPTS["threshold"]
    if a.dtype.kind == "f" and a.dtype.itemsize < 4 or a.dtype.kind == "V" or \
            a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    fmt = _Formatter(_summarized(a) if summarize else a)
    return _str_with(a, indent, summarize, fmt)


def _add_suffixes(body, suffixes, indent):
    out = [body]
    last = len(body) - body.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _OPTS["linewidth"]:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    out.append(")")
    return "".join(out)


def tensor_repr(t, tensor_contents=None):
    name = type(t).__name__
    prefix = "tensor(" if name in ("Tensor", "Parameter") else name + "("
    indent = len(prefix)
    a = t._data
    dt = _NP2DT[a.dtype]
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if dt is not D.get_default_dtype():
            suffixes.append(f"dtype={dt}")
        body = "[]"
    else:
        if not _OPTS["edgeitems"]:
            suffixes.append(f"size={tuple(a.shape)}")
        if dt not in (D.get_default_dtype(), D.int64, D.bool_):
            suffixes.append(f"dtype={dt}")
        body = _tensor_str(a, indent)
    if tensor_contents is not None:
        body = tensor_contents
    fn = t.grad_fn   # a stale view's is regenerated first
    if fn is not None:
        suffixes.append(f"grad_fn=<{fn.name.torch}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, indent)
