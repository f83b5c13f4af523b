"""CPU kernels: strided views (`as_strided`, `unfold`): NumPy arrays over the input's memory.

A tensor's *storage* is the array that owns its memory (the end of the `.base` chain); as
in PyTorch, `as_strided` addresses that storage in elements. Views are made with
`np.ndarray(buffer=storage)` so the result's `.base` chain still leads to the storage
(NumPy's own `as_strided` puts a helper object in the chain, which `storage_of` also
walks through).
"""
import numpy as np


class _Interface:
    """An object exposing raw array memory to NumPy; `.base` keeps the owner alive."""

    def __init__(self, interface, base):
        self.__array_interface__ = interface
        self.base = base


def storage_of(a):
    """(storage array, a's offset into it in elements)."""
    root = a
    while True:
        b = root.base
        if not isinstance(b, np.ndarray):
            b = getattr(b, "base", None)  # NumPy's as_strided helper, or ours
            if not isinstance(b, np.ndarray):
                break
        root = b
    start = root.__array_interface__["data"][0]
    return root, (a.__array_interface__["data"][0] - start) // max(a.itemsize, 1)


def _repeats(shape, strides):
    return any(st == 0 and n > 1 for n, st in zip(shape, strides))


def strided_view(a, shape, strides, offset):
    """A view of a's storage with `shape` and element `strides`, starting `offset`
    elements into the storage. Writable when `a` is, unless an element repeats along a
    dim of stride 0 (in-place writes are refused there, as for expanded tensors)."""
    root, own = storage_of(a)
    isz = a.itemsize
    bstrides = tuple(s * isz for s in strides)
    if root.flags.c_contiguous or root.flags.f_contiguous:
        out = np.ndarray(shape, a.dtype, root, offset * isz, bstrides)
    else:  # memory NumPy does not own (e.g. imported): address it from a's own pointer
        iface = dict(a.__array_interface__)
        ptr = iface["data"][0] + (offset - own) * isz
        iface.update(data=(ptr, not a.flags.writeable), shape=tuple(shape), strides=bstrides)
        iface.pop("mask", None)
        out = np.asarray(_Interface(iface, a))
        if out.dtype != a.dtype:
            out = out.view(a.dtype)
    writeable = a.flags.writeable and not _repeats(shape, strides)
    if out.flags.writeable != writeable:
        out.flags.writeable = writeable
    return out


def _as_strided(x, *, size, stride, storage_offset, in_stride=None, in_offset=None):
    """x's storage viewed with (size, stride, storage_offset). `in_stride`/`in_offset`
    (x's own layout, which the VJP rule reads) are not needed to run it."""
    root, _ = storage_of(x)
    isz = max(x.itemsize, 1)
    need = 0 if 0 in size else storage_offset + 1 + sum(
        (n - 1) * s for n, s in zip(size, stride))
    have = root.nbytes // isz
    if need > have:
        raise RuntimeError(
            f"as_strided: setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
            f"{storage_offset}, and itemsize {isz} requiring a storage size of {need * isz} are "
            f"out of bounds for storage of size {have * isz}")
    return strided_view(x, tuple(size), tuple(stride), storage_offset)


def unfold_geometry(shape, strides, dimension, size, step):
    """(shape, element strides) of x.unfold(dimension, size, step) for x of this layout."""
    if not shape:  # a 0-d tensor unfolds to shape (size,), size being 0 or 1
        return (size,), (1,)
    n = (shape[dimension] - size) // step + 1
    out_shape = shape[:dimension] + (n,) + shape[dimension + 1:] + (size,)
    st = list(strides)
    st[dimension] = strides[dimension] * step
    return out_shape, tuple(st) + (strides[dimension],)


def _unfold(x, *, dimension, size, step):
    isz = max(x.itemsize, 1)
    shape, strides = unfold_geometry(x.shape, tuple(s // isz for s in x.strides),
                                     dimension, size, step)
    _, own = storage_of(x)
    return strided_view(x, shape, strides, own)


KERNELS = {"as_strided": _as_strided, "unfold": _unfold}
