"""Ember: a deep-learning framework with a PyTorch-shaped API and a tracing JIT compiler."""
from .ir.dtypes import (  # noqa: F401
    DType as dtype, bool_ as bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32,
    float64, get_default_dtype, set_default_dtype, promote_types,
)
from .runtime.device import device  # noqa: F401
from .frontend.tensor import Tensor, Size  # noqa: F401
from .frontend import ops as _ops

for _m in _ops.MODULES:
    globals().update({_n: getattr(_m, _n) for _n in _m.__all__})

from .frontend.autograd.grad_mode import (  # noqa: F401,E402
    no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode,
    is_inference_mode_enabled,
)
from . import autograd  # noqa: F401,E402
from .frontend.interop import from_numpy, from_dlpack  # noqa: F401,E402
from .frontend.printing import set_printoptions, get_printoptions, printoptions  # noqa: F401,E402
from . import cuda, random  # noqa: F401,E402

half, float, double, long, int, short = float16, float32, float64, int64, int32, int16
bool_ = bool
__version__ = "0.1.0"

# Libraries on top of the core load on first use (`ember.nn`, `ember.optim`, ...), which keeps
# `import ember` fast; `import ember.nn` works as usual.
_LAZY_MODULES = ("nn", "optim", "utils", "linalg", "serialization", "jit", "compiler")
_LAZY_ATTRS = {"save": "serialization", "load": "serialization"}


def __getattr__(name):
    import importlib
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    raise AttributeError(f"module 'ember' has no attribute '{name}'")
