"""safetensors files: writing through the `safetensors` package, validated reading, checksums.

Layout: an 8-byte little-endian header length N, N bytes of JSON header
(`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`),
then the data section, which the tensors tile exactly (no gaps, no overlaps).

Writing uses `safetensors.numpy`, which handles every ember dtype (bfloat16 arrives as an
ml_dtypes array and is written as BF16). Reading is done here because the package cannot
serve it: its numpy loader has no BF16, its `deserialize` drops `__metadata__`, and its
errors do not say which field is wrong. This reader checks every field of the header
against the file before touching data, then reads each tensor into its own aligned,
writable array (no buffer of the whole file stays alive).

Checksum: writers may store `ember.crc32` in the metadata: a CRC-32 over a canonical form
of the header (metadata, and each tensor's name, dtype and shape) followed by every
tensor's bytes in name order. Offsets are left out because the package chooses them after
the checksum is computed; the tiling check covers them. CRC-32 runs at about 4 GB/s here,
i.e. it adds a pass over the data on save and on load (roughly a memory copy's cost).
"""
from __future__ import annotations

import json
import math
import struct
import zlib

import numpy as np
import safetensors.numpy

from ...ir import dtypes as D
from .records import SerializationError, dense

DTYPE_OF_CODE = {
    "BOOL": D.bool_, "U8": D.uint8, "I8": D.int8, "I16": D.int16, "I32": D.int32,
    "I64": D.int64, "F16": D.float16, "BF16": D.bfloat16, "F32": D.float32, "F64": D.float64,
}
CODE_OF_DTYPE = {d: c for c, d in DTYPE_OF_CODE.items()}
# codes other tools write that ember has no dtype for (named in the error)
FOREIGN_CODES = ("U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3",
                 "F6_E3M2", "C64", "C128")
MAX_HEADER = 100 * 1024 * 1024  # the limit the safetensors package enforces
CHECKSUM_KEY = "ember.crc32"
_META = "__metadata__"


def looks_like(head: bytes) -> bool:
    """True for the first bytes of a safetensors file: 8 bytes of header length, then the
    JSON header's "{". The length is not judged here, so a damaged one is reported as such."""
    return len(head) >= 9 and head[8:9] == b"{"


# ---------------------------------------------------------------- writing
def write(dest, arrays: dict, metadata: dict, checksum: bool = True) -> None:
    """Write `arrays` (name -> ndarray) and string metadata; `dest` is a path or a binary file."""
    arrays = {k: dense(a) for k, a in arrays.items()}  # the package needs dense
    meta = dict(metadata)
    if checksum:
        meta[CHECKSUM_KEY] = _checksum(meta, arrays)
    if isinstance(dest, str):
        safetensors.numpy.save_file(arrays, dest, metadata=meta)  # streams, no extra copy
    else:
        dest.write(safetensors.numpy.save(arrays, metadata=meta))


def _checksum(meta: dict, arrays: dict) -> str:
    """CRC-32 of the canonical header (metadata minus the checksum; each tensor's name, dtype
    and shape) and of each tensor's bytes, in name order."""
    meta = {k: v for k, v in meta.items() if k != CHECKSUM_KEY}
    names = sorted(arrays)
    tensors = [[k, CODE_OF_DTYPE[D.from_numpy_dtype(arrays[k].dtype)], list(arrays[k].shape)]
               for k in names]
    canon = json.dumps({"metadata": meta, "tensors": tensors}, sort_keys=True,
                       separators=(",", ":"))
    crc = zlib.crc32(canon.encode())
    for k in names:
        crc = zlib.crc32(arrays[k].reshape(-1).view(np.uint8), crc)
    return format(crc, "08x")


# ---------------------------------------------------------------- reading
def read(f, name: str):
    """(arrays by name in name order, metadata) from a seekable binary file positioned at the
    start of a safetensors file. Raises SerializationError naming `name` and the problem."""
    start = f.tell()
    size = f.seek(0, 2) - start
    f.seek(start)

    def fail(msg):
        raise SerializationError(f"{name}: {msg}")

    if size < 8:
        fail(f"file too short ({size} bytes) for a safetensors header")
    n = struct.unpack("<Q", f.read(8))[0]
    if n < 2 or n > MAX_HEADER or n > size - 8:
        fail(f"bad header length {n}: the file has {size - 8} bytes after the length field "
             f"(truncated or not a safetensors file)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        fail(f"header is not valid JSON ({e})")
    if not isinstance(header, dict):
        fail("header is not a JSON object")
    meta = header.pop(_META, None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        fail("__metadata__ must map strings to strings")
    entries = [_entry(k, v, fail) for k, v in header.items()]
    _check_tiling(entries, size - 8 - n, fail)
    arrays = {}
    for k, dt, shape, (b, _) in sorted(entries, key=lambda e: e[0]):
        a = np.empty(shape, dt.np)
        f.seek(start + 8 + n + b)
        if a.nbytes and f.readinto(a.reshape(-1).view(np.uint8)) != a.nbytes:
            fail(f"data of tensor {k!r} is truncated")
        arrays[k] = a
    if CHECKSUM_KEY in meta:
        got = _checksum(meta, arrays)
        if got != meta[CHECKSUM_KEY]:
            fail(f"checksum mismatch (stored crc32 {meta[CHECKSUM_KEY]}, computed {got}): the "
                 f"file is corrupted")
    return arrays, meta


def _entry(k, v, fail):
    """(name, dtype, shape, (begin, end)) of one header entry, every field checked."""
    if not isinstance(v, dict) or set(v) != {"dtype", "shape", "data_offsets"}:
        fail(f"header entry {k!r} must have exactly dtype, shape and data_offsets")
    code, shape, offs = v["dtype"], v["shape"], v["data_offsets"]
    if code in FOREIGN_CODES:
        fail(f"tensor {k!r} has dtype {code}, which ember does not support (supported: "
             f"{', '.join(DTYPE_OF_CODE)})")
    if code not in DTYPE_OF_CODE:
        fail(f"tensor {k!r} has unknown dtype {code!r}")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        fail(f"tensor {k!r} has invalid shape {shape!r}")
    if not isinstance(offs, list) or len(offs) != 2 or \
            not all(type(o) is int and o >= 0 for o in offs) or offs[0] > offs[1]:
        fail(f"tensor {k!r} has invalid data_offsets {offs!r}")
    dt = DTYPE_OF_CODE[code]
    need = math.prod(shape) * dt.itemsize
    if offs[1] - offs[0] != need:
        fail(f"size mismatch for tensor {k!r}: dtype {code} and shape {shape} need {need} bytes "
             f"but data_offsets {offs} hold {offs[1] - offs[0]}")
    return k, dt, tuple(shape), tuple(offs)


def _check_tiling(entries, data_len, fail):
    """The tensors must cover the data section exactly, as the format requires."""
    pos = 0
    for k, _, _, (b, e) in sorted(entries, key=lambda x: x[3]):
        if b != pos:
            what = "overlap the previous tensor" if b < pos else f"leave a gap at byte {pos}"
            fail(f"data_offsets {[b, e]} of tensor {k!r} {what}")
        pos = e
    if pos > data_len:
        fail(f"data offsets out of range: the tensors need {pos} bytes of data but the file "
             f"holds {data_len} (truncated file?)")
    if pos < data_len:
        fail(f"{data_len - pos} bytes of data after the last tensor (corrupted file?)")
