"""Dropout family: dropout, alpha_dropout, channel-wise (feature) dropout 1d/2d/3d and
feature_alpha_dropout.

All are `input * noise` (+ `b` for alpha dropout), with noise drawn once per element or,
for feature dropout, once per (sample, channel) and broadcast over the spatial dims:
the recorded graph is one multiply whose gradient is `g * noise`."""
from __future__ import annotations

import math
import warnings

import ember

__all__ = ["dropout", "alpha_dropout", "feature_alpha_dropout", "dropout1d", "dropout2d",
           "dropout3d"]

# SELU's negative saturation value, -scale * alpha: where alpha dropout sends dropped units
_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _noise_shape(input, feature):
    if not feature:
        return tuple(input.shape)
    if input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    return tuple(input.shape[:2]) + (1,) * (input.dim() - 2)


def _mul(input, t, inplace):
    return input.mul_(t) if inplace else input * t


def _dropout_impl(input, p, training, inplace, feature=False, alpha=False):
    """PyTorch's _dropout_impl: identity when not training, p == 0 or empty input."""
    if p == 0.0 or not training or input.numel() == 0:
        return input
    if p == 1.0:
        return _mul(input, ember.zeros((), dtype=input.dtype), inplace)
    noise = ember.empty(_noise_shape(input, feature), dtype=input.dtype).bernoulli_(1.0 - p)
    if not alpha:
        return _mul(input, noise.mul_(1.0 / (1.0 - p)), inplace)
    # affine correction keeping zero mean / unit variance for SELU networks
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1.0) * (1.0 - p))
    b = (noise - 1.0).mul_(_ALPHA * a).add_(_ALPHA * a * p)
    out = _mul(input, noise.mul_(a), inplace)
    return out.add_(b) if inplace else out + b


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    return _dropout_impl(input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def _unbatched_feature_dropout(input, p, training, inplace):
    """Channel dropout of an input without a batch dim: add one, drop, take it off."""
    x = input.unsqueeze_(0) if inplace else input.unsqueeze(0)
    out = _dropout_impl(x, p, training, inplace, feature=True)
    return out.squeeze_(0) if inplace else out.squeeze(0)


def dropout1d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    ndim = input.dim()
    if ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. "
                           f"Note that dropout1d exists to provide channel-wise dropout on inputs "
                           f"with 1 spatial dimension, a channel dimension, and an optional batch "
                           f"dimension (i.e. 2D or 3D inputs).")
    if ndim == 2:
        return _unbatched_feature_dropout(input, p, training, inplace)
    return _dropout_impl(input, p, training, inplace, feature=True)


def _warn_dims(name, ndim, expected, spatial):
    if ndim not in expected:
        warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and "
                      f"will result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {name} "
                      f"exists to provide channel-wise dropout on inputs with {spatial} spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. "
                      f"{expected[0]}D or {expected[1]}D inputs).", stacklevel=3)


def dropout2d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    ndim = input.dim()
    _warn_dims("dropout2d", ndim, (3, 4), 2)
    if ndim == 3:
        # kept as PyTorch does: a 3-D input is read as (N, C, L)
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change in "
                      "a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    _check_p(p)
    ndim = input.dim()
    _warn_dims("dropout3d", ndim, (4, 5), 3)
    if ndim != 5:
        return _unbatched_feature_dropout(input, p, training, inplace)
    return _dropout_impl(input, p, training, inplace, feature=True)
