"""ember.save / ember.load: tensors and nested containers in files, safely.

`save(obj, f, format="ember")` writes a safetensors file: the tensors are its entries (named
by their path in obj, e.g. "layer.weight", so any safetensors tool can read them) and the
object's structure is JSON in the file's metadata (`ember.runtime.formats.ember_file`),
with a CRC-32 over the header and all tensor bytes. `format="torch"` writes the zip archive
torch.save writes, which `torch.load(f, weights_only=True)` reads.

`load(f)` recognises the file by its first bytes, not its name: an ember file, any
safetensors file (loaded as a dict of tensors, in name order), or a PyTorch `.pt`/`.pth`
zip checkpoint. Loading never runs code from the file: the ember format is JSON decoded into
a fixed set of containers, and PyTorch pickles go through an unpickler that resolves only an
allow-list of names (tensor rebuilders, storage types, dtypes, Size, device, OrderedDict,
set...) and raises `ForbiddenGlobalError` naming anything else. `weights_only` is accepted
for compatibility; the loader is always restricted, whatever its value.

What a save/load round trip preserves:
- every dtype, shape and value, requires_grad (a tensor that required grad loads as a leaf
  that requires grad, as in PyTorch), and nn.Parameter-ness;
- identity within one saved object: the same tensor object reached twice loads as one
  tensor object;
- dict (key order), OrderedDict (with its attributes, e.g. a state_dict's `_metadata`),
  list, tuple, set, frozenset, namedtuple (recreated as a namedtuple type with the same name
  and fields), and values None, bool, int, float (nan/inf included), complex, str, bytes,
  bytearray, ember dtypes, devices and ember.Size.

What it does not preserve:
- memory sharing between different tensor objects: a view is saved as its own data (a
  contiguous copy of what it shows, never its whole base), so a view and its base, or two
  views of one base, load as independent tensors;
- `.grad`, hooks, autograd history, and Python attributes set on tensors;
- the types of dict subclasses other than OrderedDict (they load as dict), of other tuple
  and list subclasses, of namedtuples (a new type is made); NumPy scalars load as Python
  numbers; containers reached twice are saved twice; reference cycles raise ValueError.

Loading a PyTorch checkpoint, by contrast, keeps its storage sharing: tensors that viewed one
storage in torch view one buffer in ember.

Integrity: files truncated, bit-flipped or of another kind raise `SerializationError`
(a RuntimeError) naming the file and the problem. The checksum costs one CRC-32 pass over
the data on save and on load (about 4 GB/s, i.e. about a memory copy). Files from other
safetensors writers carry no checksum, so only their structure is checked. Saving to a path
is atomic: the file is written in a private temporary directory beside the target, fsynced
and renamed over the target (then the directory is fsynced); on any error the target is
untouched and the temporary directory removed. Saving to a file object writes in place.
"""
from __future__ import annotations

import collections
import io
import os
import pickle

import numpy as np

from .frontend.interop import from_numpy
from .frontend.tensor import Size, Tensor
from .ir import dtypes as D
from .runtime import formats as F
from .runtime.device import device as _device
from .runtime.formats import (DeviceValue, ForbiddenGlobalError, SerializationError,  # noqa: F401
                              SizeValue, StoredTensor)

__all__ = ["save", "load", "SerializationError", "ForbiddenGlobalError"]

_PLAIN = (type(None), bool, int, float, complex, str, bytes, bytearray, D.DType)


# ---------------------------------------------------------------- ember objects -> records
class _ToRecords:
    """Converts an object to the neutral tree the format writers take (see records.py)."""

    def __init__(self):
        self.tensors = {}   # id(Tensor) -> StoredTensor (obj keeps its tensors alive)
        self.active = set()  # ids of the containers being converted (cycle detection)
        from .nn.parameter import Parameter  # ember.nn imports ember: import late
        self.Parameter = Parameter

    def __call__(self, obj, path="obj"):
        t = type(obj)
        if t in _PLAIN:
            return obj
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if t is Size:
            return SizeValue(obj)
        if t is _device:
            return DeviceValue(str(obj))
        if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
            return obj.item()
        for base, build in _CONTAINERS:
            if isinstance(obj, base):
                return self.container(obj, path, build)
        raise TypeError(f"ember.save: cannot save an object of type {t.__name__} at {path}; "
                        f"ember files hold tensors, dicts, lists, tuples, sets and plain values "
                        f"(None, bool, int, float, complex, str, bytes, dtype, device, Size)")

    def tensor(self, t):
        rec = self.tensors.get(id(t))
        if rec is None:
            arr = t.detach().cpu().numpy()
            rec = StoredTensor.of_array(arr, str(t.device), bool(t.requires_grad),
                                        isinstance(t, self.Parameter))
            self.tensors[id(t)] = rec
        return rec

    def container(self, obj, path, build):
        if id(obj) in self.active:
            raise ValueError(f"ember.save: obj contains a reference cycle at {path}")
        self.active.add(id(obj))
        try:
            return build(self, obj, path)
        finally:
            self.active.discard(id(obj))


def _items(conv, seq, path):
    return [conv(v, f"{path}[{i}]") for i, v in enumerate(seq)]


def _pairs(conv, d, path):
    return [(conv(k, f"{path} key"), conv(v, f"{path}[{k!r}]")) for k, v in d.items()]


def _odict(conv, d, path):
    """An OrderedDict keeps its attributes (a state_dict's `_metadata`); a subclass's
    attributes are its own business and are not saved."""
    out = collections.OrderedDict(_pairs(conv, d, path))
    if type(d) is collections.OrderedDict:
        out.__dict__.update((k, conv(v, f"{path}.{k}")) for k, v in vars(d).items())
    return out


def _tuple(conv, t, path):
    items = _items(conv, t, path)
    return type(t)(*items) if hasattr(type(t), "_fields") else tuple(items)


# (isinstance base, builder): the first match wins, so subclasses come before their bases
_CONTAINERS = (
    (collections.OrderedDict, lambda c, d, p: _odict(c, d, p)),
    (dict, lambda c, d, p: dict(_pairs(c, d, p))),
    (list, lambda c, v, p: _items(c, v, p)),
    (tuple, _tuple),
    (frozenset, lambda c, v, p: frozenset(_items(c, v, p))),
    (set, lambda c, v, p: set(_items(c, v, p))),
)


# ---------------------------------------------------------------- records -> ember objects
class _FromRecords:
    """Builds ember objects from a neutral tree, placing each storage per map_location."""

    def __init__(self, map_location, label):
        self.map_location, self.label = map_location, label
        self.memo = {}      # id(record or container) -> built object (sharing, cycles)
        self.storages = {}  # id(StoredStorage) -> (array, device)
        from .nn.parameter import Parameter
        self.Parameter = Parameter

    def __call__(self, x):
        t = type(x)
        if t in _PLAIN:
            return x
        hit = self.memo.get(id(x))
        if hit is not None:
            return hit
        build = _BUILDERS.get(t)
        if build is None:
            build = _namedtuple if isinstance(x, tuple) else None
        if build is None:  # readers only produce the types above
            raise SerializationError(f"{self.label}: unexpected {t.__name__} in the file")
        return build(self, x)

    def tensor(self, rec):
        base, dev = self.storage(rec.storage)
        arr = F.strided_view(base, rec.offset, rec.shape, rec.stride)
        out = from_numpy(arr)
        if dev.type != "cpu":
            out = out.to(dev)
        if rec.requires_grad and not out.dtype.is_floating_point:
            raise SerializationError(f"{self.label}: a tensor of dtype {out.dtype} is marked "
                                     f"requires_grad")
        if rec.parameter:
            out = self.Parameter(out, requires_grad=rec.requires_grad)
        elif rec.requires_grad:
            out.requires_grad_(True)
        self.memo[id(rec)] = out
        return out

    def storage(self, st):
        hit = self.storages.get(id(st))
        if hit is None:
            hit = self.storages[id(st)] = _place(st.array, st.location, self.map_location)
        return hit

    def fill(self, x, empty, fill):
        """Containers are memoized before their items are built, so cycles in a PyTorch
        pickle (a list holding itself) load as cycles instead of recursing forever."""
        out = empty
        self.memo[id(x)] = out
        fill(out)
        return out


def _fill_odict(b, x, o):
    o.update((b(k), b(v)) for k, v in x.items())
    o.__dict__.update((k, b(v)) for k, v in vars(x).items())  # e.g. a state_dict's _metadata


def _namedtuple(b, x):
    return type(x)(*[b(v) for v in x])


_BUILDERS = {
    StoredTensor: _FromRecords.tensor,
    SizeValue: lambda b, x: Size(x),
    DeviceValue: lambda b, x: _device(str(x)),
    list: lambda b, x: b.fill(x, [], lambda o: o.extend(b(v) for v in x)),
    dict: lambda b, x: b.fill(x, {}, lambda o: o.update((b(k), b(v)) for k, v in x.items())),
    collections.OrderedDict: lambda b, x: b.fill(x, collections.OrderedDict(),
                                                  lambda o: _fill_odict(b, x, o)),
    collections.Counter: lambda b, x: b.fill(
        x, collections.Counter(), lambda o: o.update({b(k): b(v) for k, v in x.items()})),
    tuple: lambda b, x: tuple(b(v) for v in x),
    set: lambda b, x: {b(v) for v in x},
    frozenset: lambda b, x: frozenset(b(v) for v in x),
}


# ---------------------------------------------------------------- map_location
def _place(array, location, map_location):
    """(storage array, device) for a storage saved at `location`, as torch.load's
    map_location decides: None keeps it, a str/device moves everything there, a dict
    renames locations, a callable(storage, location) returns a storage or None."""
    if map_location is None:
        target = location
    elif isinstance(map_location, dict):
        names = {str(k): v for k, v in map_location.items()}
        target = names.get(location, location)
    elif isinstance(map_location, (str, _device)) or _is_torch_device(map_location):
        target = map_location
    elif callable(map_location):
        res = map_location(from_numpy(array), location)
        if res is None:
            target = location
        elif isinstance(res, Tensor):
            if res.dtype.np != array.dtype or res.numel() != array.size:
                raise RuntimeError(f"ember.load: map_location returned a tensor of "
                                   f"{res.numel()} {res.dtype} elements for a storage of "
                                   f"{array.size} {D.from_numpy_dtype(array.dtype)} elements")
            array, target = np.ascontiguousarray(res.detach().cpu().numpy()).reshape(-1), \
                res.device
        else:
            raise TypeError(f"ember.load: map_location callable must return a Tensor or None, "
                            f"got {type(res).__name__}")
    else:
        raise TypeError(f"ember.load: map_location must be None, a str, a device, a dict or a "
                        f"callable, got {type(map_location).__name__}")
    dev = _device(target)
    if dev.type != "cpu":
        from . import cuda
        if not cuda.is_available():
            cuda._unavailable(f"ember.load (a storage saved on '{location}' maps to '{dev}'; "
                              f"pass map_location='cpu' to load it on the CPU)")
    return array, dev


def _is_torch_device(x):
    return type(x).__module__.startswith("torch") and type(x).__name__ == "device"


# ---------------------------------------------------------------- public API
def _is_path(f):
    return isinstance(f, (str, os.PathLike))


def _label(f):
    if _is_path(f):
        return f"ember.load: {os.fspath(f)!r}"
    return f"ember.load: {getattr(f, 'name', None) or '<' + type(f).__name__ + '>'}"


def save(obj, f, pickle_module=None, pickle_protocol=2, *, format="ember"):
    """Save obj (a tensor, or containers of tensors and plain values) to a path or a binary
    file object. format="ember" (default) writes ember's safetensors-based file;
    format="torch" writes the zip archive torch.save writes. pickle_protocol is accepted for
    compatibility; the archive always uses protocol 2, the one torch.load(weights_only=True)
    reads. Saving to a path is atomic."""
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.save: pickle_module is not supported (ember writes its own "
                         "pickles); leave it as None")
    if type(pickle_protocol) is not int or not 2 <= pickle_protocol <= pickle.HIGHEST_PROTOCOL:
        raise ValueError(f"ember.save: pickle_protocol must be an int from 2 to "
                         f"{pickle.HIGHEST_PROTOCOL}, got {pickle_protocol!r}")
    writer = F.WRITERS.get(format)
    if writer is None:
        raise ValueError(f"ember.save: unknown format {format!r}; expected one of "
                         f"{', '.join(map(repr, F.WRITERS))}")
    tree = _ToRecords()(obj)
    if _is_path(f):
        # torch.save names the archive's top folder after the file
        stem = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        F.atomic_write(f, lambda tmp: writer(tree, tmp, stem))
    else:
        writer(tree, f, "archive")


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None):
    """Load what `save` (or torch.save, or any safetensors writer) stored in a path or a
    binary file object. The kind of file is recognised by its first bytes.

    map_location: None (keep saved locations), "cpu", a device, a dict {"cuda:0": "cpu"}, or
    callable(storage_tensor, location) -> tensor or None. weights_only is accepted for
    compatibility: loading is always restricted to tensors and plain data."""
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.load: pickle_module is not supported: ember only reads PyTorch "
                         "pickles through its restricted loader")
    if mmap:
        raise ValueError("ember.load: mmap=True is not supported; files are read into memory")
    label = _label(f)
    if _is_path(f):
        with open(f, "rb") as fh:
            tree = F.read(fh, label)
    else:
        tree = F.read(f if _seekable(f) else io.BytesIO(f.read()), label)
    return _FromRecords(map_location, label)(tree)


def _seekable(f):
    try:
        return f.seekable()
    except (AttributeError, OSError, ValueError):
        return False
