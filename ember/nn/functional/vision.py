"""interpolate (nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area), the
deprecated upsample* forms, pixel_shuffle and pixel_unshuffle.

Resampling is separable: each spatial dim (last first, as PyTorch's kernels accumulate) is
resampled by index_select at a few source positions per output position, weighted and
summed: 1 tap for nearest, 2 for linear, 4 for cubic. Source positions and weights are
computed as PyTorch's kernels compute them (in float for float/half inputs, in double for
double), so results match, and gradients are index_add scatters. 'area' is adaptive average
pooling.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import ember

from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_CUBIC_A = -0.75
# mode -> the number of spatial dims it takes (None: any of 1..3)
_MODE_DIMS = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1,
              "bilinear": 2, "bicubic": 2, "trilinear": 3}
_DIM_NAME = {1: "3D", 2: "4D", 3: "5D"}
_MODE_NEEDS = {"linear": "3D", "bilinear": "4D", "bicubic": "4D", "trilinear": "5D"}
_TYPE_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
              "uint8": "Byte", "bool": "Bool"}


def _opmath(x):
    return np.float64 if x.dtype == ember.float64 else np.float32


def _scale(n, o, scale, dt):
    """compute_scales_value: 1/scale_factor when one was given, else in/out."""
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(n) / dt(o)


def _nearest(n, o, scale, exact, dt):
    if not exact and o == n:
        return [(np.arange(o), None)]
    if not exact and o == 2 * n:
        return [(np.arange(o) >> 1, None)]
    s = np.float32(_scale(n, o, scale, np.float32))
    if exact:
        src = np.floor(((np.arange(o) + 0.5) * np.float64(s)).astype(np.float32))
    else:
        src = np.floor(np.arange(o).astype(np.float32) * s)
    return [(np.minimum(src.astype(np.int64), n - 1), None)]


def _source(n, o, scale, align_corners, cubic, dt):
    """area_pixel_compute_source_index for every output position, in the op-math type."""
    if align_corners:
        ratio = dt(n - 1) / dt(o - 1) if o > 1 else dt(0)
        return ratio * np.arange(o).astype(dt)
    ratio = _scale(n, o, scale, dt)
    src = ratio * (np.arange(o).astype(dt) + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _guard(src, n, dt):
    """(index, lambda): floor of the source position (at most n-1) and the fraction."""
    idx = np.minimum(np.floor(src).astype(np.int64), n - 1)
    lam = np.clip(src - idx.astype(dt), dt(0), dt(1)).astype(dt)
    return idx, lam


def _linear(n, o, scale, align_corners, dt):
    if o == n:
        return [(np.arange(o), None)]
    idx0, lam1 = _guard(_source(n, o, scale, align_corners, False, dt), n, dt)
    idx1 = idx0 + (idx0 < n - 1)
    return [(idx0, (dt(1) - lam1).astype(dt)), (idx1, lam1)]


def _cubic_coeffs(t, dt):
    a = dt(_CUBIC_A)

    def near(x):   # |x| <= 1
        return ((a + dt(2)) * x - (a + dt(3))) * x * x + dt(1)

    def far(x):    # 1 < |x| < 2
        return ((a * x - dt(5) * a) * x + dt(8) * a) * x - dt(4) * a

    return [far(t + dt(1)), near(t), near(dt(1) - t), far(dt(2) - t)]


def _cubic(n, o, scale, align_corners, dt):
    idx, lam = _guard(_source(n, o, scale, align_corners, True, dt), n, dt)
    coeffs = _cubic_coeffs(lam, dt)
    return [(np.clip(idx - 1 + j, 0, n - 1), coeffs[j].astype(dt)) for j in range(4)]


def _resample_dim(x, dim, taps):
    """sum_j x.index_select(dim, idx_j) * w_j (w_j broadcast along dim)."""
    out = None
    shape = [1] * x.dim()
    for idx, w in taps:
        part = x.index_select(dim, ember.from_numpy(np.ascontiguousarray(idx, dtype=np.int64)))
        if w is not None:
            shape[dim] = len(w)
            part = part * ember.from_numpy(np.ascontiguousarray(w)).reshape(shape).to(x.dtype)
        out = part if out is None else out + part
    return out


def _resample(x, sizes, scales, table):
    n = len(sizes)
    dt = _opmath(x)
    for i in reversed(range(n)):
        dim = x.dim() - n + i
        taps = table(x.shape[dim], sizes[i], None if scales is None else scales[i], dt)
        if x.dtype == ember.uint8 and taps[0][1] is not None:
            # images: each pass in float, rounded and clamped back to uint8 as PyTorch's
            # separable uint8 kernels do
            x = _resample_dim(x.float(), dim, taps).round().clamp(0, 255).to(ember.uint8)
        else:
            x = _resample_dim(x, dim, taps)
    return x


def _is_integer(v):
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return True
    return isinstance(v, ember.Tensor) and not v.dtype.is_floating_point


def _check_sizes_are_ints(size):
    if not all(_is_integer(v) for v in size):
        raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] "
                        f"or Tuple[int, int, int], but got size with types "
                        f"{[type(v) for v in size]}")


# argument -> (its name against the input's, how the message shows it, the expected format)
_PER_DIM_TEXT = {"size": ("output", "output size of", "output size in (o1, o2, ...,oK)"),
                 "scale_factor": ("scale_factor", "scale_factor of shape",
                                  "scale_factor in (s1, s2, ...,sK)")}


def _per_dim(input, value, what, convert, check=None):
    """`value` (a scalar or one entry per spatial dim of `input`) as a list of converted
    entries, one per spatial dim; `check` looks at a sequence once its length is right."""
    dim = input.dim() - 2
    if not isinstance(value, (list, tuple)):
        return [convert(value)] * dim
    if len(value) != dim:
        name, shown, fmt = _PER_DIM_TEXT[what]
        raise ValueError(
            f"Input and {name} must have the same number of spatial dimensions, but got input "
            f"with spatial dimensions of {list(input.shape[2:])} and {shown} {value}. Please "
            f"provide input tensor in (N, C, d1, d2, ...,dK) format and {fmt} format.")
    if check is not None:
        check(value)
    return [convert(v) for v in value]


def _sizes_and_scales(input, size, scale_factor, mode, recompute_scale_factor):
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        scale_factors = None
        output_size = _per_dim(input, size, "size", int, _check_sizes_are_ints)
    elif scale_factor is not None:
        output_size = None
        scale_factors = _per_dim(input, scale_factor, "scale_factor", float)
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor:
        output_size = [int(input.shape[i + 2] * scale_factors[i]) for i in range(dim)]
        scale_factors = None
    if output_size is None:   # the kernels' output size from a scale factor
        output_size = [int(math.floor(float(input.shape[i + 2]) * scale_factors[i]))
                       for i in range(dim)]
    return output_size, scale_factors


def _check_output(input, output_size):
    if any(o <= 0 for o in output_size):
        axes = ("D", "H", "W")[3 - len(output_size):]
        ins = ", ".join(f"{a}: {v}" for a, v in zip(axes, input.shape[2:]))
        outs = ", ".join(f"{a}: {v}" for a, v in zip(axes, output_size))
        sep = " and" if len(output_size) == 1 else ""
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({ins}){sep} output ({outs})")


def _check_dtype(input, mode):
    """Floating inputs everywhere; nearest takes any numeric dtype, the linear modes uint8
    images too (as PyTorch); bool nowhere."""
    dt = input.dtype
    if dt.is_floating_point or (dt != ember.bool and mode in ("nearest", "nearest-exact")):
        return
    if dt == ember.uint8 and mode in ("bilinear", "bicubic"):
        return
    kind = {"bicubic": "cubic", "nearest": "nearest", "nearest-exact": "nearest"}.get(mode,
                                                                                      "linear")
    kernel = f"compute_indices_weights_{kind}"
    if input.dim() == 4 and kind in ("nearest", "linear"):   # PyTorch's 2-d kernels
        kernel = f"upsample_{'bilinear' if kind == 'linear' else kind}2d_channels_last"
    raise NotImplementedError(f"\"{kernel}\" not implemented for "
                              f"'{_TYPE_NAME[str(dt).split('.')[-1]]}'")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    output_size, scales = _sizes_and_scales(input, size, scale_factor, mode,
                                            recompute_scale_factor)
    n = input.dim() - 2
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input")
    want = _MODE_DIMS.get(mode, -1)
    if n not in (1, 2, 3) or want == -1 or (want is not None and want != n):
        if mode in _MODE_NEEDS and n in (1, 2, 3):
            raise NotImplementedError(f"Got {_DIM_NAME[n]} input, but {mode} mode needs "
                                      f"{_MODE_NEEDS[mode]} input")
        raise NotImplementedError(
            "Input Error: Only 3D, 4D and 5D input Tensors supported"
            f" (got {input.dim()}D) for the modes: nearest | linear | bilinear | bicubic | "
            f"trilinear | lanczos | area | nearest-exact (got {mode})")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1](
            input, output_size)
    _check_output(input, output_size)
    _check_dtype(input, mode)
    if mode in ("nearest", "nearest-exact"):
        exact = mode == "nearest-exact"
        return _resample(input, output_size, scales,
                         lambda a, o, s, dt: _nearest(a, o, s, exact, dt))
    table = _cubic if mode == "bicubic" else _linear
    return _resample(input, output_size, scales,
                     lambda a, o, s, dt: table(a, o, s, align_corners, dt))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------ pixel (un)shuffle

def _check_factor(op, input, factor, what):
    if input.dim() < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.dim()} dimension(s)")
    if factor <= 0:
        raise RuntimeError(f"{op} expects a positive {what}, but got {factor}")


def pixel_shuffle(input, upscale_factor):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    _check_factor("pixel_shuffle", input, r, "upscale_factor")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    nb = len(lead)
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    r = int(downscale_factor)
    _check_factor("pixel_unshuffle", input, r, "downscale_factor")
    *lead, c, h, w = input.shape
    for name, size, dim in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={size} is not divisible "
                               f"by {r}")
    nb = len(lead)
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))
