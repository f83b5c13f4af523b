"""Public ops: reduction family."""
from ...ir.ops import normalize_dim
from ..dispatch import dispatch
from ..tensor import install_methods

__all__ = ["sum"]


def _dims(dim, ndim, op):
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))


def sum(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    dims = _dims(dim, input._data.ndim, "sum")
    if dims is None:
        return dispatch("sum", input)
    return dispatch("sum", input, dims=dims, keepdim=keepdim)


def sum_to_size(self, *size):
    """Sum broadcast dimensions away so the result has `size` (inverse of expand)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = self._data.shape
    lead = len(shape) - len(size)
    dims = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(size)
                                       if d == 1 and shape[i + lead] != 1)
    r = dispatch("sum", self, dims=dims, keepdim=True) if dims else self
    return r.reshape(tuple(size)) if tuple(r._data.shape) != tuple(size) else r


METHODS = {"sum": sum, "sum_to_size": sum_to_size}
install_methods(METHODS)
