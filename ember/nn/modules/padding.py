"""Padding layers: Zero/Constant/Reflection/Replication/Circular Pad 1d/2d/3d (F.pad)."""
from __future__ import annotations

from .. import functional as F
from .module import Module
from .utils import _dim_variants, _ntuple

__all__ = ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d"]


class _PadNd(Module):
    _mode = "constant"
    _n = 1   # spatial dims padded: padding has 2 * _n entries

    def __init__(self, padding):
        super().__init__()
        self.padding = _ntuple(2 * self._n)(padding)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        lo = self._n + 1
        if input.dim() not in (lo, lo + 1):
            raise ValueError(f"expected {lo}D or {lo + 1}D input (got {input.dim()}D input)")
        return super().forward(input)


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


CircularPad1d, CircularPad2d, CircularPad3d = _dim_variants(_CircularPadNd, "CircularPad")
ConstantPad1d, ConstantPad2d, ConstantPad3d = _dim_variants(_ConstantPadNd, "ConstantPad")
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _dim_variants(_ReflectionPadNd, "ReflectionPad")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _dim_variants(_ReplicationPadNd,
                                                                    "ReplicationPad")
ZeroPad1d, ZeroPad2d, ZeroPad3d = _dim_variants(_ZeroPadNd, "ZeroPad")
