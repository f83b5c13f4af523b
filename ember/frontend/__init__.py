"""Tensor, dispatch, the public op functions, grad modes (later: tracer and scripter)."""
from .tensor import Tensor, Size  # noqa: F401
from . import ops  # noqa: F401
