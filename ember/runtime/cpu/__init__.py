"""Eager CPU kernels: NumPy arrays in, NumPy arrays out, one table per op family.

Kernels receive operands already promoted by the frontend (Python scalars arrive as
NumPy scalars of the operand dtype) and the op's attributes as keywords.
"""
from ..registry import register_kernels
from . import elementwise, reduction, movement, indexing, linalg, random, extern

for _m in (elementwise, reduction, movement, indexing, linalg, random, extern):
    register_kernels("cpu", _m.KERNELS)
