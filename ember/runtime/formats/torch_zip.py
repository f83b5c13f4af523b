"""PyTorch's zip checkpoint format (torch.save since 1.6), read and written without torch.

An archive holds, under one top folder: `data.pkl` (the object, pickled with protocol 2,
tensors reduced to `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
requires_grad, backward_hooks)` and storages replaced by persistent ids
`('storage', torch.<Type>Storage, key, location, numel)`), `data/<key>` (each storage's raw
bytes), `byteorder`, `version`, and a few small bookkeeping records.

Reading runs the pickle through `_Unpickler`, whose `find_class` resolves only the names in
`_ALLOWED`, each to a function written here that validates its arguments and returns the
neutral records of `records.py` (never a torch or user object), and which refuses the BUILD
opcode except on OrderedDicts (it is the one way a pickle could set attributes on an
allowed object). Any other global, e.g.
`posix.system` or `builtins.eval`, raises ForbiddenGlobalError naming it, before anything
from the file can run: pickle can only call what `find_class` hands it. Views are checked
against their storage's size, so a crafted file cannot address memory outside it.

Writing uses the pure-Python pickler (it lets GLOBAL opcodes name torch functions without
importing torch) and lays the archive out as torch.save does, entries aligned to 64 bytes.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

from ...ir import dtypes as D
from .records import (STORAGE_NAME_OF, TORCH_STORAGE_NAMES, DeviceValue, ForbiddenGlobalError,
                      SerializationError, SizeValue, StoredStorage, StoredTensor,
                      check_view_bounds, dense)

ALIGNMENT = 64
# torch dtype names ember has no dtype for: reported as unsupported rather than forbidden
_UNSUPPORTED = {"complex32", "complex64", "complex128", "uint16", "uint32", "uint64",
                "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
                "ComplexFloatStorage", "ComplexDoubleStorage", "QInt8Storage", "QUInt8Storage",
                "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage"}


# ---------------------------------------------------------------- reading
class _Marker:
    """Stands for a torch class a pickle may name (never callable, never a real class)."""
    __slots__ = ("qualname", "dtype")

    def __init__(self, qualname, dtype=None):
        self.qualname, self.dtype = qualname, dtype

    def __repr__(self):
        return self.qualname


_TENSOR = _Marker("torch.Tensor")
_PARAMETER = _Marker("torch.nn.parameter.Parameter")


def _bad(msg):
    raise SerializationError(f"malformed tensor record in data.pkl: {msg}")


def _int_tuple(v, what):
    if not isinstance(v, (tuple, list)) or not all(type(x) is int for x in v):
        _bad(f"{what} must be a tuple of ints, got {v!r}")
    return tuple(v)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    # backward_hooks are dropped (torch warns and drops them too); metadata only carries
    # flags of dtypes ember lacks
    if type(storage) is not StoredStorage:
        _bad(f"expected a storage, got {type(storage).__name__}")
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    check_view_bounds(storage.array.size, storage_offset, size, stride, "tensor in data.pkl")
    if type(requires_grad) is not bool:
        _bad(f"requires_grad must be a bool, got {requires_grad!r}")
    return StoredTensor(storage, storage_offset, size, stride, requires_grad)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if type(data) is not StoredTensor or type(requires_grad) is not bool:
        _bad("a Parameter must wrap a tensor and have a bool requires_grad")
    return StoredTensor(data.storage, data.offset, data.shape, data.stride, requires_grad, True)


def _rebuild_from_type_v2(func, new_type, args, state):
    # Python attributes in `state` are not restored: setting names chosen by the file on
    # ember objects is exactly what this loader refuses to do
    if not any(func is f for f in _REBUILDERS) or \
            not (new_type is _TENSOR or new_type is _PARAMETER) or type(args) is not tuple:
        _bad("unsupported tensor subclass rebuild")
    t = func(*args)
    if new_type is _PARAMETER:
        t = StoredTensor(t.storage, t.offset, t.shape, t.stride, t.requires_grad, True)
    return t


_REBUILDERS = (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter)


def _size(dims=()):
    return SizeValue(_int_tuple(dims, "torch.Size"))


def _device(kind, index=None):
    if type(kind) is not str or (index is not None and type(index) is not int):
        _bad(f"bad torch.device arguments {kind!r}, {index!r}")
    return DeviceValue(kind if index is None else f"{kind}:{index}")


def _encode(s, encoding="utf-8"):
    """codecs.encode as protocol-2 pickles use it for bytes: str in, bytes out, nothing else."""
    if type(s) is not str or encoding not in ("latin1", "latin-1"):
        _bad("_codecs.encode is only allowed for latin1 bytes")
    return s.encode("latin1")


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray, ("builtins", "complex"): complex,
    ("_codecs", "encode"): _encode,
    ("torch", "Size"): _size, ("torch", "device"): _device,
    ("torch", "Tensor"): _TENSOR, ("torch.nn.parameter", "Parameter"): _PARAMETER,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    **{("torch", d.name): d for d in D.ALL_DTYPES},
    **{(mod, n): _Marker(f"torch.{n}", d) for n, d in TORCH_STORAGE_NAMES.items()
       for mod in ("torch", "torch.storage")},
}
_MODULE_ALIASES = {"__builtin__": "builtins"}  # protocol-2 pickles use Python 2 names


class _Unpickler(pickle._Unpickler):
    """The pure-Python unpickler (the C one's opcodes cannot be overridden) with `find_class`
    restricted to _ALLOWED and the BUILD opcode limited to what torch.save emits: the
    attributes of an OrderedDict (a state_dict's `_metadata`). Anywhere else BUILD would set
    attributes on an object the pickle holds, which could alter allowed globals (dtype
    objects, functions, classes) for the whole process."""
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, archive, prefix, label, big_endian, hint):
        super().__init__(file, encoding="utf-8")
        self.archive, self.prefix, self.label = archive, prefix, label
        self.big_endian, self.hint = big_endian, hint
        self.storages = {}

    def find_class(self, module, name):
        module = _MODULE_ALIASES.get(module, module)
        obj = _ALLOWED.get((module, name))
        if obj is not None:
            return obj
        if module == "torch" and name in _UNSUPPORTED:
            raise SerializationError(f"{self.label}: the file uses torch.{name}, which ember "
                                     f"does not support")
        raise ForbiddenGlobalError(
            f"{self.label}: refusing to load the global '{module}.{name}' named in data.pkl. "
            f"ember.load only rebuilds tensors, dtypes, devices, sizes and plain containers "
            f"from PyTorch files and never runs code from them (weights_only=False does not "
            f"change this).{self.hint}")

    def load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        # the OrderedDict was made by this pickle (find_class returns the class, not one)
        if type(inst) is collections.OrderedDict and type(state) is dict and \
                all(type(k) is str for k in state):
            inst.__dict__.update(state)
            return
        raise SerializationError(f"{self.label}: refusing the BUILD opcode in data.pkl on a "
                                 f"{type(inst).__name__} (only an OrderedDict's attributes may "
                                 f"be set)")

    dispatch[pickle.BUILD[0]] = load_build

    def persistent_load(self, pid):
        if type(pid) is not tuple or len(pid) != 5 or pid[0] != "storage":
            raise SerializationError(f"{self.label}: unsupported persistent id {str(pid)[:80]}")
        _, stype, key, location, numel = pid
        if not isinstance(stype, _Marker) or stype.dtype is None or type(key) is not str or \
                type(location) is not str or type(numel) is not int or numel < 0:
            raise SerializationError(f"{self.label}: malformed storage id {str(pid)[:120]}")
        st = self.storages.get(key)
        if st is None:
            st = self.storages[key] = StoredStorage(self._read_storage(key, stype.dtype, numel),
                                                    location)
        elif st.array.dtype != stype.dtype.np or st.array.size != numel:
            raise SerializationError(f"{self.label}: storage {key} is referenced with two "
                                     f"different dtypes or sizes")
        return st

    def _read_storage(self, key, dtype, numel):
        name = f"{self.prefix}data/{key}"
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise SerializationError(f"{self.label}: the archive lacks storage {name}") from None
        need = numel * dtype.itemsize
        if info.file_size != need:
            raise SerializationError(f"{self.label}: size mismatch for storage {name}: {numel} "
                                     f"elements of {dtype.name} need {need} bytes, the archive "
                                     f"entry holds {info.file_size}")
        a = np.empty(numel, dtype.np)
        with self.archive.open(info) as fh:
            got = fh.readinto(a.view(np.uint8))
            fh.read()  # at end of entry: lets zipfile verify the entry's CRC-32
        if got != need:
            raise SerializationError(f"{self.label}: storage {name} is truncated")
        if self.big_endian:
            a.byteswap(inplace=True)
        return a


def _prefix(archive, label):
    """The archive's top folder (torch.save names it after the file; 'archive' for streams)."""
    tops = [n[:-len("data.pkl")] for n in archive.namelist()
            if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(tops) != 1:
        raise SerializationError(f"{label}: zip archive without exactly one <folder>/data.pkl: "
                                 f"not a PyTorch checkpoint")
    return tops[0]


def _byteorder(archive, prefix, label):
    try:
        order = archive.read(prefix + "byteorder").decode("ascii", "replace")
    except KeyError:
        return False  # written before the record existed: little-endian
    if order not in ("little", "big"):
        raise SerializationError(f"{label}: unknown byteorder record {order!r}")
    return order == "big"


_UNPICKLE_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
                    KeyError, IndexError, OverflowError, RecursionError, struct.error,
                    zipfile.BadZipFile, zlib.error)


def read(f, label: str):
    """The neutral tree of a PyTorch zip checkpoint read from the seekable binary file f."""
    try:
        archive = zipfile.ZipFile(f)
        prefix = _prefix(archive, label)
        names = archive.namelist()
        hint = (" (This is a TorchScript archive written by torch.jit.save; ember.load reads "
                "checkpoints written by torch.save.)") \
            if any(n.startswith(prefix + "code/") for n in names) else ""
        pkl = archive.read(prefix + "data.pkl")
        unpickler = _Unpickler(io.BytesIO(pkl), archive, prefix, label,
                               _byteorder(archive, prefix, label), hint)
        return unpickler.load()
    except SerializationError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise SerializationError(f"{label}: truncated or corrupted zip archive ({e})") from None
    except _UNPICKLE_ERRORS as e:
        raise SerializationError(f"{label}: malformed data.pkl ({type(e).__name__}: {e})") \
            from None


# ---------------------------------------------------------------- writing
class _Global:
    """A module-level name written as a GLOBAL opcode (its module is never imported)."""
    __slots__ = ("module", "name")
    _cache: dict = {}

    def __new__(cls, module, name):
        g = cls._cache.get((module, name))
        if g is None:
            g = cls._cache[(module, name)] = object.__new__(cls)
            g.module, g.name = module, name
        return g

    def __call__(self, *args):  # pickle requires reduce callables to be callable
        raise TypeError(f"{self.module}.{self.name} is a stand-in for writing pickles")


class _Pickler(pickle._Pickler):
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # id(StoredStorage) -> (key, storage)

    def persistent_id(self, obj):
        if type(obj) is not StoredStorage:
            return None
        entry = self.storages.get(id(obj))
        if entry is None:
            entry = self.storages[id(obj)] = (str(len(self.storages)), obj)
        dt = D.from_numpy_dtype(obj.array.dtype)
        return ("storage", _Global("torch", STORAGE_NAME_OF[dt]), entry[0], obj.location,
                obj.array.size)

    def reducer_override(self, obj):
        t = type(obj)
        if t is StoredTensor:
            return self._reduce_tensor(obj)
        if t is SizeValue:
            return _Global("torch", "Size"), (tuple(obj),)
        if t is DeviceValue:
            return _Global("torch", "device"), (str(obj),)
        if t is frozenset or (isinstance(obj, tuple) and hasattr(t, "_fields")):
            raise TypeError(f"ember.save(format='torch'): cannot store a {t.__name__}: "
                            f"torch.load(weights_only=True) refuses it (use a tuple, list or "
                            f"dict, or format='ember')")
        return NotImplemented

    def _reduce_tensor(self, r):
        # objects made here stay alive: the pickler's memo holds every object it saved
        hooks = collections.OrderedDict()
        if r.parameter:  # as torch: _rebuild_parameter(plain tensor, requires_grad, hooks)
            inner = StoredTensor(r.storage, r.offset, r.shape, r.stride)
            return _Global("torch._utils", "_rebuild_parameter"), (inner, r.requires_grad, hooks)
        return (_Global("torch._utils", "_rebuild_tensor_v2"),
                (r.storage, r.offset, r.shape, r.stride, r.requires_grad, hooks))

    def save_torch_global(self, obj):
        self.write(pickle.GLOBAL + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
        self.memoize(obj)

    def save_dtype(self, obj):
        self.save(_Global("torch", obj.name))

    dispatch[_Global] = save_torch_global
    dispatch[D.DType] = save_dtype


def _add(archive, name, data):
    """Add a stored entry whose data starts at a multiple of ALIGNMENT, padding the local
    header's extra field as torch does."""
    data = memoryview(data).cast("B") if not isinstance(data, bytes) else data
    zinfo = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zinfo.compress_type = zipfile.ZIP_STORED
    zip64 = len(data) * 1.05 > zipfile.ZIP64_LIMIT  # zipfile then adds a 20-byte extra
    header = 30 + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    pad = -(archive.start_dir + header) % ALIGNMENT
    zinfo.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    archive.writestr(zinfo, data)


def write(tree, dest, archive_name="archive") -> None:
    """Write a neutral tree as a torch.save archive; `dest` is a path or a binary file.
    The pickle uses protocol 2: torch.load(weights_only=True) rejects the FRAME opcode of
    protocols 4 and 5."""
    buf = io.BytesIO()
    pickler = _Pickler(buf, 2)
    pickler.dump(tree)
    root = archive_name + "/"
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as archive:
        _add(archive, root + "data.pkl", buf.getvalue())
        _add(archive, root + ".format_version", b"1")
        _add(archive, root + ".storage_alignment", str(ALIGNMENT).encode())
        _add(archive, root + "byteorder", b"little")
        for key, st in pickler.storages.values():
            _add(archive, f"{root}data/{key}", dense(st.array).view(np.uint8))
        _add(archive, root + "version", b"3\n")
        _add(archive, root + ".data/serialization_id",
             str(int.from_bytes(os.urandom(16), "little")).zfill(40).encode())
