"""The neutral object tree that every file format reads and writes, and the errors they raise.

Format code lives in the runtime and cannot build frontend Tensors, so readers produce (and
writers consume) plain Python containers whose leaves are either plain values or these
records. `ember.serialization` converts between records and ember objects:

- `StoredStorage`: a flat 1-D NumPy array plus the location it was saved from ("cpu",
  "cuda:0"); several tensors may view one storage (PyTorch files do that).
- `StoredTensor`: a strided view of a storage (offset, shape, stride in elements) plus
  requires_grad and whether it was an nn.Parameter.
- `SizeValue` / `DeviceValue`: an `ember.Size` / an `ember.device` in the tree.
- Dtypes appear as `ember.ir.dtypes.DType` objects, which already are ember's dtypes.
"""
from __future__ import annotations

import pickle

import numpy as np

from ...ir import dtypes as D


class SerializationError(RuntimeError):
    """A file that ember.load cannot read: truncated, corrupted, or of an unknown kind."""


class ForbiddenGlobalError(SerializationError, pickle.UnpicklingError):
    """A pickle inside a PyTorch archive names a global outside ember's allow-list.

    Also a pickle.UnpicklingError, the class torch.load(weights_only=True) raises."""


class StoredStorage:
    __slots__ = ("array", "location")

    def __init__(self, array: np.ndarray, location: str = "cpu"):
        self.array = array          # 1-D, native byte order
        self.location = location


class StoredTensor:
    __slots__ = ("storage", "offset", "shape", "stride", "requires_grad", "parameter")

    def __init__(self, storage, offset, shape, stride, requires_grad=False, parameter=False):
        self.storage = storage
        self.offset = offset
        self.shape = tuple(shape)
        self.stride = tuple(stride)
        self.requires_grad = requires_grad
        self.parameter = parameter

    @classmethod
    def of_array(cls, array: np.ndarray, location="cpu", requires_grad=False, parameter=False):
        """A record owning a C-contiguous copy (or the array itself if already contiguous)."""
        a = dense(array)
        return cls(StoredStorage(a.reshape(-1), location), 0, a.shape,
                   contiguous_strides(a.shape), requires_grad, parameter)

    def array(self, storage_array=None) -> np.ndarray:
        """The tensor's values: a view of `storage_array` (default: the record's storage)."""
        base = self.storage.array if storage_array is None else storage_array
        return strided_view(base, self.offset, self.shape, self.stride)


class SizeValue(tuple):
    """An ember.Size inside a neutral tree."""
    __slots__ = ()


class DeviceValue(str):
    """An ember.device inside a neutral tree, by its string ('cpu', 'cuda:0')."""
    __slots__ = ()


def dense(a: np.ndarray) -> np.ndarray:
    """a itself if C-contiguous, else a C-contiguous copy (np.ascontiguousarray would turn a
    0-d array into a 1-d one)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def contiguous_strides(shape) -> tuple:
    st, acc = [], 1
    for d in reversed(shape):
        st.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(st))


def check_view_bounds(numel: int, offset: int, shape, stride, what: str) -> None:
    """Raise unless (offset, shape, stride) stays inside a storage of `numel` elements.

    Files are untrusted: an out-of-range view would read memory outside the storage."""
    ints = all(type(v) is int for v in (offset, *shape, *stride))
    if not ints or len(shape) != len(stride) or offset < 0 or \
            any(v < 0 for v in (*shape, *stride)):
        raise SerializationError(f"{what}: invalid view (offset={offset!r}, size={shape!r}, "
                                 f"stride={stride!r})")
    if 0 in shape:
        last = offset - 1
    else:
        last = offset + sum((s - 1) * st for s, st in zip(shape, stride))
    if last >= numel or offset > numel:
        raise SerializationError(f"{what}: view (offset={offset}, size={tuple(shape)}, "
                                 f"stride={tuple(stride)}) reaches element {last} of a storage "
                                 f"with {numel} elements")


def strided_view(base: np.ndarray, offset, shape, stride) -> np.ndarray:
    """A bounds-checked view of the 1-D C-contiguous storage `base` (its `.base` chain leads
    to the storage, so Tensor.storage_offset() sees the layout). Read-only where an element
    repeats along a stride-0 dim, as for expanded tensors."""
    check_view_bounds(base.size, offset, shape, stride, "tensor")
    if 0 in shape:
        return np.empty(shape, base.dtype)
    isz = base.itemsize
    out = np.ndarray(tuple(shape), base.dtype, base, offset * isz, [s * isz for s in stride])
    if any(st == 0 and n > 1 for n, st in zip(shape, stride)):
        out.flags.writeable = False
    return out


# PyTorch's legacy storage class names (they name a storage's dtype in a pickle), per dtype.
TORCH_STORAGE_NAMES = {
    "FloatStorage": D.float32, "DoubleStorage": D.float64, "HalfStorage": D.float16,
    "BFloat16Storage": D.bfloat16, "LongStorage": D.int64, "IntStorage": D.int32,
    "ShortStorage": D.int16, "CharStorage": D.int8, "ByteStorage": D.uint8,
    "BoolStorage": D.bool_, "UntypedStorage": D.uint8,
}
STORAGE_NAME_OF = {d: n for n, d in TORCH_STORAGE_NAMES.items() if n != "UntypedStorage"}
