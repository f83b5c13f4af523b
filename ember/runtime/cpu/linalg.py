"""CPU kernels: linalg family."""
import numpy as np
import ml_dtypes

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def _matmul(a, b):
    """np.matmul with batch broadcasting; half types accumulate in float32 and round once
    (NumPy's float16 matmul is slow and bfloat16 has none)."""
    dt = a.dtype
    if dt in _LOW:
        return np.matmul(a.astype(np.float32), b.astype(np.float32)).astype(dt)
    return np.matmul(a, b)


KERNELS = {"matmul": _matmul}
