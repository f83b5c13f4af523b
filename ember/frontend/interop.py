"""NumPy and DLPack interop."""
import numpy as np

from ..ir import dtypes as D
from .tensor import Tensor, _wrap


def from_numpy(ndarray):
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    return _wrap(ndarray)


def from_dlpack(ext):
    if isinstance(ext, Tensor):
        return ext
    return _wrap(np.from_dlpack(ext))
