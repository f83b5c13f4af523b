"""F.pad: constant, reflect, replicate and circular padding (negative padding crops).

Constant padding is the `pad` primitive (ember.constant_pad_nd). The other modes are one
index_select per padded dim with the source index of every output position, so their
gradients are index_add scatters and need no per-mode rule:
reflect mirrors about the edge elements, replicate clamps, circular wraps (after cropping,
as PyTorch does).
"""
from __future__ import annotations

import numpy as np

import ember

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")
_KERNEL_NAME = {("reflect", 1): "reflection_pad1d", ("reflect", 2): "reflection_pad2d",
                ("reflect", 3): "reflection_pad3d", ("replicate", 1): "replication_pad1d",
                ("replicate", 2): "replication_pad2d", ("replicate", 3): "replication_pad3d"}
_AXES = ("D", "H", "W")


def _reflect(j, n):
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(j)
    j = np.mod(j, period)
    return np.where(j >= n, period - j, j)


_SOURCE = {
    "reflect": _reflect,
    "replicate": lambda j, n: np.clip(j, 0, n - 1),
    "circular": lambda j, n: np.mod(j, n),
}


def _check_pad_arg(pad):
    out = []
    for i, p in enumerate(pad):
        if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found "
                            f"element of type {type(p).__name__} at pos {i}")
        out.append(int(p))
    return out


def _unsupported(npad, nd):
    return NotImplementedError(
        f"Padding size {npad} is not supported for {nd}D input tensor.\n"
        "Supported combinations for non-constant padding:\n"
        "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
        "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
        "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _check_non_constant(input, pad, mode):
    nd, k = input.dim(), len(pad) // 2
    if len(pad) % 2 or k not in (1, 2, 3) or nd not in (k + 1, k + 2):
        raise _unsupported(len(pad), nd)
    shape = list(input.shape)
    lead = shape[:-k]
    if any(s == 0 for s in (lead[1:] if nd == k + 2 else lead) + shape[-k:]):
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{shape}")
    if input.dtype == ember.bool and mode != "circular":
        raise NotImplementedError(f"\"{_KERNEL_NAME[(mode, k)]}\" not implemented for 'Bool'")
    for i in range(k):
        d = nd - 1 - i
        lo, hi, n = pad[2 * i], pad[2 * i + 1], shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) at "
                               f"dimension {d} of input {shape}")
    outs = [shape[nd - 1 - i] + pad[2 * i] + pad[2 * i + 1] for i in range(k)][::-1]
    if mode != "circular" and any(o <= 0 for o in outs):
        axes = _AXES[3 - k:]
        ins = ", ".join(f"{a}: {n}" for a, n in zip(axes, shape[-k:]))
        calc = " ".join(f"{a}: {o}" for a, o in zip(axes, outs))
        raise RuntimeError(f"input ({ins}) is too small. Calculated output {calc}")


def _index_pad(x, pad, mode):
    for i in range(len(pad) // 2):
        d = x.dim() - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if lo == 0 and hi == 0:
            continue
        n = x.shape[d]
        if mode == "circular":
            if lo > n or hi > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            # PyTorch crops first, then wraps around what is left
            if lo < 0 or hi < 0:
                x = x.narrow(d, max(-lo, 0), n - max(-lo, 0) - max(-hi, 0))
                n, lo, hi = x.shape[d], max(lo, 0), max(hi, 0)
        src = _SOURCE[mode](np.arange(-lo, n + hi), n)
        x = x.index_select(d, ember.from_numpy(np.ascontiguousarray(src, dtype=np.int64)))
    return x


def pad(input, pad, mode="constant", value=None):
    pad = _check_pad_arg(pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * input.dim():
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.dim()}")
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode == "constant":
        return ember.constant_pad_nd(input, pad, 0 if value is None else value)
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    _check_non_constant(input, pad, mode)
    return _index_pad(input, pad, mode)
