from ..frontend.autograd.function import Function, FunctionCtx  # noqa: F401
