from ..frontend.autograd.function import (  # noqa: F401
    Function, FunctionCtx, InplaceFunction, once_differentiable,
)
from ..runtime.autograd import Node  # noqa: F401

BackwardCFunction = FunctionCtx
