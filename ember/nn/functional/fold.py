"""unfold (im2col) and fold (col2im) over 4-D (or unbatched 3-D / 2-D) inputs.

unfold is a window view: pad, `Tensor.unfold` per spatial dim, a dilation slice, then a
reshape to (N, C*kh*kw, L). fold, its adjoint (overlapping blocks summed), is a grouped
transposed convolution with one-hot kernels: block offset k of channel c goes to output
channel c at kernel position k, which is col2im exactly, and its gradient is im2col.
"""
from __future__ import annotations

import numpy as np

import ember

__all__ = ["unfold", "fold"]

_TYPE_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
              "uint8": "Byte", "bool": "Bool"}


def _pair(v, what):
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(e) for e in v)
    if len(v) != 2:
        raise RuntimeError(f"It is expected {what} equals to 2, but got size {len(v)}")
    return v


def _check_params(k, d, p, s):
    for vals, msg, bad in ((k, "kernel size should be greater than zero", lambda v: v <= 0),
                           (s, "stride should be greater than zero", lambda v: v <= 0),
                           (p, "padding should be non-negative", lambda v: v < 0),
                           (d, "dilation should be greater than zero", lambda v: v <= 0)):
        if any(bad(v) for v in vals):
            name = {"kernel size": "kernel", "stride": "stride", "padding": "pad",
                    "dilation": "dilation"}[msg.split(" should")[0]]
            raise RuntimeError(f"{msg}, but got {name}_height: {vals[0]} {name}_width: {vals[1]}")


def _blocks(sizes, k, d, p, s):
    return [(n + 2 * pp - (dd * (kk - 1) + 1)) // ss + 1 for n, kk, dd, pp, ss in zip(
        sizes, k, d, p, s)]


def _unsupported(op, x):
    name = _TYPE_NAME.get(str(x.dtype).split(".")[-1])
    if name is not None and (name != "Bool" or op == "col2im_out_cpu"):
        raise NotImplementedError(f"\"{op}\" not implemented for '{name}'")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    k, d = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    p, s = _pair(padding, "padding"), _pair(stride, "stride")
    _check_params(k, d, p, s)
    if input.dim() not in (3, 4) or any(n == 0 for n in input.shape[-3:]):
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and "
                           f"other non-zero dimensions for input, but got: {list(input.shape)}")
    _unsupported("im2col_out_cpu", input)
    x = input if input.dim() == 4 else input.unsqueeze(0)
    blocks = _blocks(x.shape[2:], k, d, p, s)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the array of sliding "
                           f"blocks as {tuple(blocks)}, but its components must be at least one.")
    if any(p):
        x = ember.constant_pad_nd(x, (p[1], p[1], p[0], p[0]))
    for i in range(2):
        x = x.unfold(2 + i, d[i] * (k[i] - 1) + 1, s[i])
    if d != (1, 1):
        x = x[..., ::d[0], ::d[1]]
    x = x[:, :, :blocks[0], :blocks[1]]
    n, c = x.shape[:2]
    out = x.permute(0, 1, 4, 5, 2, 3).reshape(n, c * k[0] * k[1], blocks[0] * blocks[1])
    return out if input.dim() == 4 else out.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    o = _pair(output_size, "output_size")
    k, d = _pair(kernel_size, "kernel_size"), _pair(dilation, "dilation")
    p, s = _pair(padding, "padding"), _pair(stride, "stride")
    _check_params(k, d, p, s)
    if input.dim() not in (2, 3) or any(n == 0 for n in input.shape[-2:]):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    x = input if input.dim() == 3 else input.unsqueeze(0)
    kk = k[0] * k[1]
    if x.shape[1] % kk:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={k}.")
    blocks = _blocks(o, k, d, p, s)
    if blocks[0] * blocks[1] != x.shape[2] or min(blocks) < 1:
        raise RuntimeError(f"Given output_size={o}, kernel_size={k}, dilation={d}, padding={p}, "
                           f"stride={s}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {blocks[0]} * {blocks[1]} = "
                           f"{blocks[0] * blocks[1]}, but got input.size(2)={x.shape[2]}.")
    _unsupported("col2im_out_cpu", input)
    c = x.shape[1] // kk
    onehot = np.eye(kk).reshape(kk, 1, k[0], k[1])
    weight = ember.from_numpy(np.ascontiguousarray(np.tile(onehot, (c, 1, 1, 1)))).to(x.dtype)
    # conv_transpose's size is o - extra; output_padding adds the rows no block reaches
    extra = [(n + 2 * pp - (dd * (ks - 1) + 1)) % ss for n, pp, dd, ks, ss in zip(o, p, d, k, s)]
    out = ember.conv_transpose2d(x.reshape(x.shape[0], c * kk, blocks[0], blocks[1]), weight,
                                 stride=s, padding=p, output_padding=extra, groups=c, dilation=d)
    return out if input.dim() == 3 else out.squeeze(0)
