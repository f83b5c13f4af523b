from ..runtime.autograd import Node  # noqa: F401
