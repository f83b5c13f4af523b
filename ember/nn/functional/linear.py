"""linear and bilinear. linear is fused (one autograd node: matmul and bias add), since
it is most of the work of an MLP step."""
from __future__ import annotations

import ember

from ._fused import fused

__all__ = ["linear", "bilinear"]


def _linear_composite(x, weight, bias):
    out = ember.matmul(x, weight.t())
    return out if bias is None else out + bias


def _linear_forward(x, weight, bias):
    out = ember.matmul(x, weight.t())
    if bias is not None:
        out.add_(bias)
    return out, ()


def _linear_backward(g, saved, needs):
    x, weight, bias = saved
    gx = gw = gb = None
    g2 = g.reshape(-1, g.shape[-1])
    if needs[0]:
        gx = ember.matmul(g, weight)
    if needs[1]:
        gw = ember.matmul(g2.t(), x.reshape(-1, x.shape[-1]))
    if bias is not None and needs[2]:
        gb = g2.sum(0)
    return gx, gw, gb


_linear = fused("AddmmBackward", _linear_forward, _linear_backward, _linear_composite)


def _shape_mismatch(input, weight):
    # PyTorch reports the input flattened to a matrix: (prod(leading dims)) x in_features
    rows = input.numel() // input.shape[-1] if input.shape[-1] else 0
    out_f, in_f = weight.shape
    return RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} "
                        f"and {in_f}x{out_f})")


def linear(input, weight, bias=None):
    if weight.dim() != 2 or input.dim() == 0:
        out = ember.matmul(input, weight.t() if weight.dim() == 2 else weight)
        return out if bias is None else out + bias
    if input.shape[-1] != weight.shape[1]:
        raise _shape_mismatch(input, weight)
    if input.dtype != weight.dtype:
        raise _dtype_mismatch(input, weight, bias)
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), (1,), ()):
        out = ember.matmul(input, weight.t())
        return out + bias  # broadcasting decides, with the core's error for bad shapes
    return _linear(input, weight, bias)


# (PyTorch's scalar type name, its C++ name) per floating dtype
_DTYPE_NAMES = {ember.float32: ("Float", "float"), ember.float64: ("Double", "double"),
                ember.float16: ("Half", "c10::Half"), ember.bfloat16: ("BFloat16", "c10::BFloat16")}


def _dtype_mismatch(input, weight, bias):
    """PyTorch's message names the kernel it reached: mm without bias, addmm with one."""
    x = _DTYPE_NAMES.get(input.dtype, (str(input.dtype),) * 2)
    w = _DTYPE_NAMES.get(weight.dtype, (str(weight.dtype),) * 2)
    if bias is None:
        return RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {x[1]} != "
                            f"{w[1]}")
    first = "self" if bias.dtype == input.dtype else "mat1"
    return RuntimeError(f"{first} and mat2 must have the same dtype, but got {x[0]} and {w[0]}")


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o], as one matmul with the
    weight laid out (in1, out * in2) and a contraction over in2."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and "
                           f"{input2.dim()}")
    for i in range(input1.dim() - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: "
                               f"got {input1.shape[i]} and {input2.shape[i]}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and bias.shape[-1] != out_f:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[-1]} but expected {out_f}")
    batch = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    t = ember.matmul(x1, weight.permute(1, 0, 2).reshape(in1, out_f * in2))
    out = (t.reshape(-1, out_f, in2) * x2).sum(-1).reshape(*batch, out_f)
    return out if bias is None else out + bias
