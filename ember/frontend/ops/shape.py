"""Public ops: shape and view family."""
from ..dispatch import dispatch, dispatch_view
from ..tensor import install_methods

__all__ = ["reshape", "permute"]


def _size_arg(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _infer(shape, numel, op):
    shape = list(shape)
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    if -1 in shape:
        known = 1
        for d in shape:
            if d != -1:
                known *= d
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{shape}' is invalid for input of size {numel}")
        shape[shape.index(-1)] = numel // known
    return tuple(shape)


def reshape(input, *shape):
    shape = _infer(_size_arg(shape), input._data.size, "reshape")
    return dispatch_view("reshape", input, shape=shape)


def permute(input, *dims):
    dims = tuple(d % max(input._data.ndim, 1) for d in _size_arg(dims))
    return dispatch_view("permute", input, dims=dims)


def expand(self, *sizes):
    sizes = _size_arg(sizes)
    lead = len(sizes) - self._data.ndim
    shape = tuple(self._data.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    return dispatch_view("expand", self, shape=shape)


METHODS = {"reshape": reshape, "permute": permute, "expand": expand}
install_methods(METHODS)
