"""Normalization functions: batch_norm, instance_norm, layer_norm, group_norm, rms_norm,
local_response_norm, normalize.

batch/instance/layer/group norm share one fused kernel, `_normalize`: normalize x over
`dims` with biased statistics, then scale and shift by per-feature weight and bias
broadcast as `wshape`. It is one autograd node whose backward is the closed form
    dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dxhat = g * weight,
and it updates running statistics (batch/instance norm) in the same pass."""
from __future__ import annotations

import ember

from ._fused import fused

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
           "local_response_norm", "normalize"]


def _shape_str(shape):
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _count(shape, dims):
    n = 1
    for d in dims:
        n *= shape[d]
    return n


# ---------------------------------------------------------------- the shared kernel

def _affine(xhat, weight, bias, wshape):
    """xhat * weight + bias, writing into xhat's buffer when it is a temporary."""
    if weight is not None:
        out = xhat * weight.reshape(wshape)
        if bias is not None:
            out.add_(bias.reshape(wshape))
        return out
    if bias is not None:
        return xhat + bias.reshape(wshape)
    return xhat


def _normalize_composite(x, weight, bias, dims, wshape, eps, running):
    var, mean = ember.var_mean(x, dims, correction=0, keepdim=True)
    if running is not None and ember.jit.is_tracing():  # a traced graph updates them too
        running(mean, var, _count(x.shape, dims))
    xhat = (x - mean) * ember.rsqrt(var + eps)
    if weight is not None:
        xhat = xhat * weight.reshape(wshape)
    if bias is not None:
        xhat = xhat + bias.reshape(wshape)
    return xhat


def _normalize_forward(x, weight, bias, dims, wshape, eps, running):
    # two passes (mean, then the centred squares) reusing the centred values for xhat
    mean = x.mean(dims, keepdim=True)
    xhat = x - mean
    var = (xhat * xhat).mean(dims, keepdim=True)
    if running is not None:
        running(mean, var, _count(x.shape, dims))
    rstd = var.add_(eps).rsqrt_()
    xhat.mul_(rstd)
    out = _affine(xhat, weight, bias, wshape)
    if out is xhat:
        out = xhat.clone()  # xhat is saved for backward; the output must not alias it
    return out, (xhat, rstd)


def _normalize_backward(g, saved, needs, dims, wshape, eps, running):
    x, weight, bias, xhat, rstd = saved
    gx = gw = gb = None
    if needs[0]:
        scale = 1.0 / _count(g.shape, dims)
        gxhat = g if weight is None else g * weight.reshape(wshape)
        mean_g = gxhat.sum(dims, keepdim=True).mul_(scale)
        proj = (gxhat * xhat).sum(dims, keepdim=True).mul_(scale)
        gx = (gxhat - mean_g).sub_(xhat * proj).mul_(rstd)
    if weight is not None and needs[1]:
        gw = _sum_to_weight(g * xhat, wshape).reshape(weight.shape)
    if bias is not None and needs[2]:
        gb = _sum_to_weight(g, wshape).reshape(bias.shape)
    return gx, gw, gb


def _sum_to_weight(t, wshape):
    """Sum t over the dims along which a weight of shape wshape (right-aligned) broadcasts."""
    full = (1,) * (t.dim() - len(wshape)) + tuple(wshape)
    bdims = tuple(d for d in range(t.dim()) if full[d] == 1 and t.shape[d] != 1)
    return t.sum(bdims, keepdim=True) if bdims else t


_normalize = fused("NativeNormBackward", _normalize_forward, _normalize_backward,
                   _normalize_composite)


def _running_update(running_mean, running_var, momentum, reduce_batch=False):
    """Returns a callback folding batch statistics into the running buffers, in place:
    r = (1 - momentum) r + momentum * stat, with the unbiased variance (as PyTorch)."""
    def update(mean, var, n):
        with ember.no_grad():
            m, v = mean, var * (n / (n - 1) if n > 1 else float("nan"))
            if reduce_batch:  # instance norm: per-instance stats averaged over the batch
                m, v = m.mean(0), v.mean(0)
            m, v = m.reshape(-1), v.reshape(-1)
            if running_mean is not None:
                running_mean.mul_(1.0 - momentum).add_(m.to(running_mean.dtype) * momentum)
            if running_var is not None:
                running_var.mul_(1.0 - momentum).add_(v.to(running_var.dtype) * momentum)
    return update


# ---------------------------------------------------------------- batch norm / instance norm

def _verify_batch_size(size):
    n = size[0]
    for s in size[2:]:
        n *= s
    if n == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {size}")


def _verify_spatial_size(size):
    n = 1
    for s in size[2:]:
        n *= s
    if n == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input "
                         f"size {size}")


def _check_channels(input, tensors):
    if input.dim() < 2:
        ndim = max(input.dim(), 1)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got 1)")
    c = input.shape[1]
    for name, t in tensors:
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    return c


def _channel_shape(input):
    return (1, input.shape[1]) + (1,) * (input.dim() - 2)


def _with_running_stats(input, running_mean, running_var, weight, bias, eps):
    """(x - running_mean) / sqrt(running_var + eps) * weight + bias, per channel."""
    cshape = _channel_shape(input)
    scale = ember.rsqrt(running_var + eps)
    if weight is not None:
        scale = scale * weight
    shift = -running_mean * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(cshape) + shift.reshape(cshape)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if training:
        _verify_batch_size(input.shape)
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    _check_channels(input, (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                            ("running_var", running_var)))
    if not training:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
        return _with_running_stats(input, running_mean, running_var, weight, bias, eps)
    running = None
    if running_mean is not None or running_var is not None:
        running = _running_update(running_mean, running_var, momentum)
    dims = (0,) + tuple(range(2, input.dim()))
    return _normalize(input, weight, bias, dims=dims, wshape=_channel_shape(input), eps=eps,
                      running=running)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    if use_input_stats:
        _verify_spatial_size(input.shape)
    _check_channels(input, (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                            ("running_var", running_var)))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return _with_running_stats(input, running_mean, running_var, weight, bias, eps)
    running = None
    if running_mean is not None or running_var is not None:
        running = _running_update(running_mean, running_var, momentum, reduce_batch=True)
    dims = tuple(range(2, input.dim()))
    return _normalize(input, weight, bias, dims=dims, wshape=_channel_shape(input), eps=eps,
                      running=running)


# ---------------------------------------------------------------- layer norm / group norm

def _as_shape(shape):
    return (int(shape),) if isinstance(shape, int) else tuple(int(s) for s in shape)


def _check_normalized_shape(input, normalized_shape, tensors, sep):
    k = len(normalized_shape)
    if k == 0:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    for name, t in tensors:
        if t is not None and tuple(t.shape) != normalized_shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {_shape_str(t.shape)} and normalized_shape "
                               f"= {_shape_str(normalized_shape)}")
    if input.dim() < k or tuple(input.shape[input.dim() - k:]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={_shape_str(normalized_shape)}, expected "
                           f"input with shape [*{sep}{', '.join(str(s) for s in normalized_shape)}"
                           f"], but got input of size{_shape_str(input.shape)}")
    return k


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = _as_shape(normalized_shape)
    k = _check_normalized_shape(input, normalized_shape, (("weight", weight), ("bias", bias)),
                                ", ")
    dims = tuple(range(input.dim() - k, input.dim()))
    return _normalize(input, weight, bias, dims=dims, wshape=normalized_shape, eps=eps,
                      running=None)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.dim()}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {_shape_str(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape "
                               f"{_shape_str(t.shape)} and input of shape "
                               f"{_shape_str(input.shape)}")
    spatial = tuple(input.shape[2:])
    # (N, G, C/G, *spatial): statistics over everything but N and G; the per-channel
    # weight broadcasts as (1, G, C/G, 1, ...)
    grouped = input.reshape(n, num_groups, c // num_groups, *spatial)
    dims = tuple(range(2, grouped.dim()))
    wshape = (1, num_groups, c // num_groups) + (1,) * len(spatial)
    out = _normalize(grouped, weight, bias, dims=dims, wshape=wshape, eps=eps, running=None)
    return out.reshape(input.shape)


# ---------------------------------------------------------------- rms norm

def rms_norm(input, normalized_shape, weight=None, eps=None):
    normalized_shape = _as_shape(normalized_shape)
    k = _check_normalized_shape(input, normalized_shape, (("weight", weight),), "")
    if eps is None:
        eps = _FINFO_EPS[input.dtype]
    dims = tuple(range(input.dim() - k, input.dim()))
    out = input * ember.rsqrt((input * input).mean(dims, keepdim=True) + eps)
    return out if weight is None else out * weight


# machine epsilon per dtype (torch.finfo(dtype).eps), rms_norm's default eps
_FINFO_EPS = {ember.float16: 0.0009765625, ember.bfloat16: 0.0078125,
              ember.float32: 1.1920928955078125e-07, ember.float64: 2.220446049250313e-16}


# ---------------------------------------------------------------- local response norm

def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    sq = input * input
    c = input.shape[1]
    # average of x^2 over a window of `size` channels, zero-padded as PyTorch's avg_pool
    front, back = size // 2, (size - 1) // 2
    pads = [ember.zeros((sq.shape[0], p) + tuple(sq.shape[2:]), dtype=sq.dtype)
            for p in (front, back)]
    padded = ember.cat([pads[0], sq, pads[1]], 1)
    div = padded.narrow(1, 0, c)
    for i in range(1, size):
        div = div + padded.narrow(1, i, c)
    div = (div * (alpha / size)).add(k).pow(beta)
    return input / div


# ---------------------------------------------------------------- normalize

def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is None:
        return input / denom
    return ember.div(input, denom, out=out)
