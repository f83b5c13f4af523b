"""File formats: which reader a file needs (by its first bytes), writers by format name,
and atomic writes. The formats exchange the neutral object trees defined in `records`.

- `ember_file`: ember's own format, a safetensors file with the object's structure and a
  checksum in its metadata (`safetensors_file` does the safetensors layer).
- `torch_zip`: PyTorch's zip checkpoints, read through a restricted unpickler, and written.
"""
from __future__ import annotations

from . import ember_file, torch_zip
from .atomic import atomic_write  # noqa: F401
from .records import (DeviceValue, ForbiddenGlobalError, SerializationError,  # noqa: F401
                      SizeValue, StoredStorage, StoredTensor, strided_view)
from .safetensors_file import looks_like as _looks_like_safetensors

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip
# torch.save's pre-1.6 format starts with a pickled magic number
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"

WRITERS = {
    "ember": lambda tree, dest, archive_name: ember_file.write(tree, dest),
    "torch": torch_zip.write,
}


def read(f, label: str):
    """The neutral tree stored in the seekable binary file `f` (read from its position)."""
    start = f.tell()
    head = f.read(16)
    f.seek(start)
    if not head:
        raise SerializationError(f"{label}: the file is empty")
    if head.startswith(_ZIP_MAGIC):
        return torch_zip.read(f, label)
    if _looks_like_safetensors(head):
        return ember_file.read(f, label)
    if head.startswith(_LEGACY_TORCH_MAGIC):
        raise SerializationError(f"{label}: this is PyTorch's legacy (pre-1.6, non-zip) format, "
                                 f"which ember cannot read safely; re-save it with a current "
                                 f"torch.save")
    raise SerializationError(f"{label}: unknown file format (starts with {head[:8]!r}): not an "
                             f"ember/safetensors file nor a PyTorch zip archive")
