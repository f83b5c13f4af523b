"""nn.Parameter and nn.Buffer: tensors that modules register as state."""
from __future__ import annotations

import numpy as np

from ..frontend.tensor import Tensor, _wrap

__all__ = ["Parameter", "Buffer", "UninitializedParameter"]


class Parameter(Tensor):
    """A leaf tensor that a Module registers as a parameter when assigned as an attribute.

    It shares memory and the version counter with `data`, as PyTorch's does."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _wrap(np.empty((0,), np.float32))
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected data to be a Tensor, got {type(data).__name__}")
        p = _wrap(data._data, data._version, cls=cls)
        p.requires_grad = requires_grad
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        p = type(self)(_wrap(self._data.copy()), self._requires_grad)
        if self._grad is not None:
            p._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = p
        return p


class UninitializedParameter(Parameter):
    pass


class Buffer(Tensor):
    """nn.Buffer(data, persistent=True): assigning one to a Module attribute registers a buffer.
    What the module stores is a plain Tensor (as in PyTorch)."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _wrap(np.empty((0,), np.float32))
        b = _wrap(data._data, data._version, cls=cls)
        b._requires_grad = data._requires_grad
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent=True):
        pass


def _rebuild_parameter(data, requires_grad):
    return Parameter(_wrap(data), requires_grad)
