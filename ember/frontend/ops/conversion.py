"""dtype/device conversion and copies: to, float/double/half/..., type_as, clone, contiguous."""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...runtime.device import device as _device
from ..dispatch import dispatch
from ..tensor import Tensor, install_methods

__all__ = ["clone"]


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    dev = kwargs.pop("device", None)
    for a in args:
        if isinstance(a, Tensor):
            dtype, dev = a.dtype, a.device
        elif isinstance(a, (str, _device)) and not (isinstance(a, str) and a in D._BY_NAME):
            dev = a
        elif a is not None:
            dtype = a
    return (None if dtype is None else D.to_dtype(dtype)), dev


def to(self, *args, copy=False, non_blocking=False, memory_format=None, **kwargs):
    dtype, dev = _parse_to(args, dict(kwargs))
    if dev is not None and _device(dev).type != "cpu":
        from ...cuda import _unavailable
        _unavailable("to")
    if dtype is None or dtype.np == self._data.dtype:
        return clone(self) if copy else self
    return dispatch("convert", self, dtype=dtype)


def clone(input, *, memory_format=None):
    return dispatch("copy", input)


def contiguous(self, memory_format=None):
    if self._data.flags.c_contiguous:
        return self
    return dispatch("copy", self, order="C")


def _as(dt):
    def m(self, memory_format=None):
        return to(self, dt)
    return m


def type_as(self, other):
    return to(self, other.dtype)


def type_(self, dtype=None, non_blocking=False):
    if dtype is None:
        return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
                "float16": "torch.HalfTensor", "bfloat16": "torch.BFloat16Tensor",
                "int64": "torch.LongTensor", "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
                "int8": "torch.CharTensor", "uint8": "torch.ByteTensor",
                "bool": "torch.BoolTensor"}[self.dtype.name]
    return to(self, dtype)


def _cpu(self, memory_format=None):
    return self


def _cuda(self, device=None, non_blocking=False, memory_format=None):
    from ...cuda import _unavailable
    _unavailable("cuda")


METHODS = {
    "to": to, "clone": clone, "contiguous": contiguous, "type_as": type_as, "type": type_,
    "float": _as(D.float32), "double": _as(D.float64), "half": _as(D.float16),
    "bfloat16": _as(D.bfloat16), "long": _as(D.int64), "int": _as(D.int32), "short": _as(D.int16),
    "char": _as(D.int8), "byte": _as(D.uint8), "bool": _as(D.bool_), "cpu": _cpu, "cuda": _cuda,
}
install_methods(METHODS)


def result_type(tensor1, tensor2):
    """The dtype PyTorch's promotion gives `tensor1 op tensor2` (either may be a number)."""
    dims, zeros, scalars = [], [], []
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            (zeros if x._data.ndim == 0 else dims).append(x.dtype)
        else:
            scalars.append(D.scalar_category(x))
    return D.result_type_of(dims, zeros, scalars)


def can_cast(from_, to):
    """Whether PyTorch's in-place ops allow writing `from_` into `to` (no category downgrade)."""
    return D.to_dtype(from_).category <= D.to_dtype(to).category


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def numel(input):
    return input.numel()


__all__ += ["result_type", "can_cast", "is_tensor", "is_floating_point", "numel"]
