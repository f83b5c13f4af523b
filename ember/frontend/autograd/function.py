"""autograd.Function (filled in with the autograd API work)."""


class FunctionCtx:
    pass


class Function:
    pass
