"""nn.utils: gradient clipping, parameter/vector conversion, and the rnn packing helpers
(ember.nn.utils.rnn)."""
from .clip_grad import (  # noqa: F401
    clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401

try:  # the rnn helpers are written separately; the package must import without them
    from . import rnn  # noqa: F401
except ModuleNotFoundError as e:
    if e.name != __name__ + ".rnn":
        raise

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "parameters_to_vector", "vector_to_parameters", "rnn"]
