"""NumPy and DLPack interop. Every path shares memory: an ember tensor's storage *is* a
NumPy array, and DLPack exchanges go through NumPy's implementation. bfloat16, which
NumPy's DLPack lacks, travels as int16 with the DLPack type code patched to kDLBfloat."""
from __future__ import annotations

import ctypes

import numpy as np

from ..ir import dtypes as D
from .tensor import Tensor, _wrap, constant

__all__ = ["from_numpy", "from_dlpack", "to_dlpack"]

_KDL_BFLOAT = 4
# offset of DLTensor.dtype.code inside the capsule's struct, by capsule name
_DTYPE_CODE_OFFSET = {b"dltensor": 20, b"dltensor_versioned": 52}
_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype, _capsule_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
_capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_ptr.restype, _capsule_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if not ndarray.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    D.from_numpy_dtype(ndarray.dtype)  # raises TypeError naming the supported dtypes
    return constant(_wrap(ndarray))


def dlpack_capsule(t, stream=None, max_version=None, dl_device=None, copy=None):
    """The DLPack capsule of an ember tensor (called by Tensor.__dlpack__)."""
    if t._requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    if copy:
        raise BufferError("ember: DLPack export with copy=True is not supported; clone() first")
    kw = {} if max_version is None else {"max_version": max_version}
    a = t._data
    if a.dtype == D.bfloat16.np:
        cap = a.view(np.int16).__dlpack__(stream=stream, **kw)
        name = _capsule_name(cap)
        ptr = _capsule_ptr(cap, name)
        ctypes.c_uint8.from_address(ptr + _DTYPE_CODE_OFFSET[name]).value = _KDL_BFLOAT
        return cap
    return a.__dlpack__(stream=stream, **kw)


def to_dlpack(tensor):
    return dlpack_capsule(tensor)


def from_dlpack(ext_tensor):
    """An ember tensor sharing memory with any object that has __dlpack__ (torch tensors,
    NumPy arrays, JAX/CuPy arrays on the CPU)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if type(ext_tensor).__module__.startswith("torch") and \
            str(getattr(ext_tensor, "dtype", "")) == "torch.bfloat16":
        return constant(_wrap(np.from_dlpack(ext_tensor.view(_torch_int16(ext_tensor)))
                              .view(D.bfloat16.np)))
    if not hasattr(ext_tensor, "__dlpack__"):
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ (got "
                        f"{type(ext_tensor).__name__})")
    try:
        arr = np.from_dlpack(ext_tensor)
    except (BufferError, RuntimeError, TypeError) as e:
        raise RuntimeError(f"from_dlpack: cannot import {type(ext_tensor).__name__} "
                           f"(dtype {getattr(ext_tensor, 'dtype', '?')}): {e}") from None
    try:
        D.from_numpy_dtype(arr.dtype)
    except TypeError:
        raise TypeError(f"from_dlpack: unsupported dtype {arr.dtype}; ember supports "
                        f"{', '.join(d.name for d in D.ALL_DTYPES)}") from None
    return constant(_wrap(arr))


def _torch_int16(t):
    return __import__("torch").int16
