"""parameters_to_vector and vector_to_parameters."""
from __future__ import annotations

import ember

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    return ember.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    if not isinstance(vec, ember.Tensor):
        raise TypeError(f"expected ember.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        # the parameter's storage becomes a view of vec, as in PyTorch
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n
