"""Public convolution ops: conv1d/2d/3d, conv_transpose1d/2d/3d and convolution (the forms
`torch.nn.functional` re-exports), with PyTorch's argument handling and error messages; and
constant_pad_nd, the public face of the `pad` primitive that nn's padding layers build on.

All of them lower to the one `conv` primitive (see `ember/ir/ops.py`):
- conv: padding (p, p) per dim, or 'same' as (total // 2, total - total // 2), so even
  kernels need no extra pad; 'valid' is 0.
- conv_transpose: the input dilated by the stride (lhs_dilation), the kernel flipped with
  in/out channels swapped within each group, padding (d*(k-1) - p, d*(k-1) - p + output_padding);
  padding larger than d*(k-1) becomes a negative (cropping) pad.
The bias is a broadcast add after the primitive.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ..dispatch import dispatch
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "convolution", "constant_pad_nd"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
# PyTorch's names for dtypes: in "expected scalar type X" and in "Input type (x)" messages
_SCALAR = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
           "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
           "bool": "Bool"}
_CTYPE = {"float32": "float", "float64": "double", "float16": "c10::Half",
          "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int", "int16": "short int",
          "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}
# the CPU kernel PyTorch names when a dtype is unsupported (1-d convs run as 2-d there)
_KERNEL_NAME = {(False, 1): "slow_conv2d_cpu", (False, 2): "slow_conv2d_cpu",
                (False, 3): "compute_columns3d", (True, 1): "slow_conv_transpose2d_out_cpu",
                (True, 2): "slow_conv_transpose2d_out_cpu",
                (True, 3): "slow_conv_transpose3d_out_cpu"}
_AXES = {1: ("height", "width"), 2: ("height", "width"), 3: ("depth", "height", "width")}


def _dtname(t):
    return _NP2DT[t._data.dtype].name


def _as_list(v, n):
    """The binding's view of an int-list argument: an int is repeated n times."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer, tuple, list)):
        raise TypeError(f"expected a tuple of ints, got {type(v).__name__}")
    if isinstance(v, (int, np.integer)):
        return [int(v)] * n
    return [int(e) for e in v]


def _expand(name, v, n):
    """expand_param_if_needed: one value, or exactly one per spatial dim of the weight."""
    if len(v) == 1:
        return v * n
    if len(v) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values "
                           f"to match the convolution dimensions, but got {name}={v}")
    return v


def _sizes(t):
    return list(t._data.shape)


def _axis_msg(prefixes, n):
    """'output_padding_height: 0 output_padding_width: 2 ...' (1-d shown as 2-d)."""
    parts = []
    for prefix, vals, neutral in prefixes:
        vals = ([neutral] + list(vals)) if n == 1 else list(vals)
        parts += [f"{prefix}_{ax}: {v}" for ax, v in zip(_AXES[n], vals)]
    return " ".join(parts)


def _check_tensor(x, op, arg, pos):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _check_common(op, n, input, weight, bias, groups):
    """Checks PyTorch makes before looking at the convolution parameters."""
    _check_tensor(input, op, "input", 1)
    _check_tensor(weight, op, "weight", 2)
    if bias is not None:
        _check_tensor(bias, op, "bias", 3)
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to {op}, "
                           f"but got input of size: {_sizes(input)}")
    if bias is not None and bias._data.dtype != input._data.dtype:
        raise RuntimeError(f"Input type ({_CTYPE[_dtname(input)]}) and bias type "
                           f"({_CTYPE[_dtname(bias)]}) should be the same")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _check_shapes(x, weight, bias, groups, padding, stride, dilation, transposed,
                  output_padding=None):
    """check_shape_forward: parameter signs, weight/groups, channels, bias, kernel fit."""
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if output_padding is not None and any(p < 0 for p in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d < 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    ws = _sizes(weight)
    if ws[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {ws} instead")
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{ws}] instead")
    c = x._data.shape[1]
    if not transposed:
        if c != ws[1] * groups:
            raise RuntimeError(f"Given groups={groups}, weight of size {ws}, expected input"
                               f"{_sizes(x)} to have {ws[1] * groups} channels, but got {c} "
                               f"channels instead")
        nout = ws[0]
    else:
        if c != ws[0]:
            raise RuntimeError(f"Given transposed=1, weight of size {ws}, expected input"
                               f"{_sizes(x)} to have {ws[0]} channels, but got {c} channels "
                               f"instead")
        nout = ws[1] * groups
    if bias is not None and (bias.dim() != 1 or bias._data.shape[0] != nout):
        pre = "Given transposed=1, weight" if transposed else "Given weight"
        raise RuntimeError(f"{pre} of size {ws}, expected bias to be 1-dimensional with {nout} "
                           f"elements, but got bias of size {_sizes(bias)} instead")
    n = len(ws) - 2
    if any(k <= 0 for k in ws[2:]):
        if n == 3:
            raise RuntimeError(f"kernel size should be greater than zero, but got: "
                               f"{' x '.join(map(str, ws[2:]))} (TxHxW)")
        raise RuntimeError("kernel size should be greater than zero, but got "
                           + _axis_msg([("kernel", ws[2:], 1)], n))
    if any(d == 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got {list(dilation)}")


def _check_dtypes(x, weight, transposed):
    if x._data.dtype != weight._data.dtype:
        raise RuntimeError(f"expected scalar type {_SCALAR[_dtname(x)]} but found "
                           f"{_SCALAR[_dtname(weight)]}")
    if x._data.dtype == np.bool_:
        n = x.dim() - 2
        raise NotImplementedError(f"\"{_KERNEL_NAME[(transposed, n)]}\" not implemented for "
                                  f"'Bool'")


def _add_bias(out, bias):
    if bias is None:
        return out
    return out + bias.reshape((1, -1) + (1,) * (out.dim() - 2))


def _batched(input, n):
    return (input, False) if input.dim() == n + 2 else (input.unsqueeze(0), True)


def _conv(op, n, input, weight, bias, stride, padding, dilation, groups):
    _check_common(op, n, input, weight, bias, groups)
    nk = weight.dim() - 2
    stride = _expand("stride", _as_list(stride, n), nk)
    dilation = _expand("dilation", _as_list(dilation, n), nk)
    x, unbatched = _batched(input, n)
    if isinstance(padding, str):
        pads = _string_padding(padding, stride, dilation, weight)
        _check_shapes(x, weight, bias, groups, [0] * nk, stride, dilation, False)
    else:
        padding = _expand("padding", _as_list(padding, n), nk)
        _check_shapes(x, weight, bias, groups, padding, stride, dilation, False)
        pads = [(p, p) for p in padding]
    _check_fits(x, weight, pads, dilation)
    _check_dtypes(x, weight, False)
    out = dispatch("conv", x, weight, stride=tuple(stride), padding=tuple(pads),
                   lhs_dilation=(1,) * nk, rhs_dilation=tuple(dilation), groups=groups)
    out = _add_bias(out, bias)
    return out.squeeze(0) if unbatched else out


def _string_padding(padding, stride, dilation, weight):
    if padding == "valid":
        return [(0, 0)] * len(stride)
    if padding != "same":
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    if any(s != 1 for s in stride):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    pads = []
    for d, k in zip(dilation, weight._data.shape[2:]):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return pads


def _check_fits(x, weight, pads, dilation):
    size = [n + lo + hi for n, (lo, hi) in zip(x._data.shape[2:], pads)]
    kernel = [d * (k - 1) + 1 for d, k in zip(dilation, weight._data.shape[2:])]
    if any(k > s for k, s in zip(kernel, size)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, size))}). Kernel size: "
                           f"({' x '.join(map(str, kernel))}). Kernel size can't be greater "
                           f"than actual input size")


def _flipped_transpose(weight, groups):
    """(G*Ci, Co, *K) -> (G*Co, Ci, *K) flipped in space: the kernel of the equivalent conv."""
    ci, co, *k = weight._data.shape
    nk = len(k)
    if groups == 1:
        w = weight.transpose(0, 1)
    else:
        w = weight.reshape(groups, ci // groups, co, *k).transpose(1, 2).reshape(
            groups * co, ci // groups, *k)
    return w.flip(tuple(range(2, nk + 2)))


def _conv_transpose(op, n, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    _check_common(op, n, input, weight, bias, groups)
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    nk = weight.dim() - 2
    stride = _expand("stride", _as_list(stride, n), nk)
    padding = _expand("padding", _as_list(padding, n), nk)
    output_padding = _expand("output_padding", _as_list(output_padding, n), nk)
    dilation = _expand("dilation", _as_list(dilation, n), nk)
    x, unbatched = _batched(input, n)
    _check_shapes(x, weight, bias, groups, padding, stride, dilation, True, output_padding)
    _check_dtypes(x, weight, True)
    if any(op_ >= s and op_ >= d for op_, s, d in zip(output_padding, stride, dilation)):
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           "got " + _axis_msg([("output_padding", output_padding, 0),
                                               ("stride", stride, 1),
                                               ("dilation", dilation, 1)], nk))
    ks = weight._data.shape[2:]
    out_sizes = [(i - 1) * s - 2 * p + d * (k - 1) + 1 + o for i, s, p, d, k, o in zip(
        x._data.shape[2:], stride, padding, dilation, ks, output_padding)]
    if any(o <= 0 for o in out_sizes):
        ins = list(x._data.shape[2:])
        if nk == 1:
            ins, out_sizes = [1] + ins, [1] + out_sizes
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, ins))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(map(str, out_sizes))}). Output size is too small")
    pads = tuple((d * (k - 1) - p, d * (k - 1) - p + o) for k, p, d, o in zip(
        ks, padding, dilation, output_padding))
    out = dispatch("conv", x, _flipped_transpose(weight, groups), stride=(1,) * nk,
                   padding=pads, lhs_dilation=tuple(stride), rhs_dilation=tuple(dilation),
                   groups=groups)
    out = _add_bias(out, bias)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """torch.convolution: the N-d form, N taken from the weight."""
    n = weight.dim() - 2
    if n not in (1, 2, 3):
        raise RuntimeError(f"convolution: expected a 3-, 4- or 5-dimensional weight, got "
                           f"{_sizes(weight)}")
    if transposed:
        return _conv_transpose("conv_transpose%dd" % n, n, input, weight, bias, stride, padding,
                               output_padding, groups, dilation)
    return _conv("conv%dd" % n, n, input, weight, bias, stride, padding, dilation, groups)


def constant_pad_nd(input, pad, value=0):
    """Pad (or crop, for negative entries) the last len(pad) // 2 dims with `value`;
    pad = (last_lo, last_hi, second_last_lo, ...) as in F.pad."""
    _check_tensor(input, "constant_pad_nd", "input", 1)
    pad = [int(p) for p in pad]
    nd = input.dim()
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) > 2 * nd:
        raise RuntimeError(f"Length of pad should be no more than twice the number of dimensions "
                           f"of the input. Pad length is {len(pad)}while the input has "
                           f"{nd}dimensions.")
    pads = [(0, 0, 0)] * nd
    for i in range(len(pad) // 2):
        d = nd - 1 - i
        lo, hi = pad[2 * i], pad[2 * i + 1]
        if input._data.shape[d] + lo + hi < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
        pads[d] = (lo, hi, 0)
    if all(lo == 0 and hi == 0 for lo, hi, _ in pads):
        return input.clone()
    return dispatch("pad", input, pads=tuple(pads), value=value)
