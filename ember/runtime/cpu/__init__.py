"""Eager CPU kernels: NumPy arrays in, NumPy arrays out, one table per op family.

Kernels receive operands already promoted by the frontend (Python scalars arrive as
NumPy scalars of the operand dtype) and the op's attributes as keywords.
"""
import warnings

from ..registry import register_kernels
from . import elementwise, reduction, movement, indexing, linalg, random, extern

for _m in (elementwise, reduction, movement, indexing, linalg, random, extern):
    register_kernels("cpu", _m.KERNELS)

# PyTorch computes inf/nan silently; NumPy warns. Silencing NumPy's floating-point
# RuntimeWarnings raised inside these kernel modules, and in the frontend modules that call
# kernels (a NumPy warning is attributed to the Python caller of the ufunc, e.g. dispatch),
# costs nothing per call (np.errstate costs about a microsecond) and leaves warnings from
# the user's own NumPy code alone.
warnings.filterwarnings("ignore", category=RuntimeWarning,
                        module=r"ember\.(runtime\.cpu|frontend)(\.|$)")

# kernels of the primitives added with the extra ops (strided views, special functions, ...)
from . import strided, special, scan, decomp  # noqa: E402
for _m in (strided, special, scan, decomp):
    register_kernels("cpu", _m.KERNELS)

from . import conv  # noqa: E402  (the convolution primitive)
register_kernels("cpu", conv.KERNELS)
