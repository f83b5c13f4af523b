"""Element types and PyTorch's type-promotion rules.

A `DType` is a small immutable singleton; `ember.float32 is ember.float32`.
Promotion follows PyTorch: categories bool < integer < floating; a tensor's
dtype wins over a Python scalar of the same or lower category, and a
zero-dim tensor counts as a scalar only against dimensioned tensors.
"""
from __future__ import annotations

import numpy as np
import ml_dtypes

__all__ = [
    "DType", "bool_", "uint8", "int8", "int16", "int32", "int64", "float16",
    "bfloat16", "float32", "float64", "ALL_DTYPES", "promote_types",
    "get_default_dtype", "set_default_dtype", "from_numpy_dtype", "to_dtype",
]

# Category ranks: a higher category wins regardless of width.
BOOL, INT, FLOAT = 0, 1, 2


class DType:
    __slots__ = ("name", "np", "itemsize", "category", "is_signed", "_rank")

    def __init__(self, name, np_dtype, category, is_signed, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category
        self.is_signed = is_signed
        self._rank = rank

    @property
    def is_floating_point(self):
        return self.category == FLOAT

    @property
    def is_complex(self):
        return False

    def to_real(self):
        return self

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))


bool_ = DType("bool", np.bool_, BOOL, False, 0)
uint8 = DType("uint8", np.uint8, INT, False, 1)
int8 = DType("int8", np.int8, INT, True, 2)
int16 = DType("int16", np.int16, INT, True, 3)
int32 = DType("int32", np.int32, INT, True, 4)
int64 = DType("int64", np.int64, INT, True, 5)
float16 = DType("float16", np.float16, FLOAT, True, 6)
bfloat16 = DType("bfloat16", ml_dtypes.bfloat16, FLOAT, True, 7)
float32 = DType("float32", np.float32, FLOAT, True, 8)
float64 = DType("float64", np.float64, FLOAT, True, 9)

ALL_DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
FLOAT_DTYPES = (float16, bfloat16, float32, float64)
INT_DTYPES = (uint8, int8, int16, int32, int64)

_BY_NAME = {d.name: d for d in ALL_DTYPES}
_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64,
            "int": int32, "short": int16, "bool_": bool_}
_BY_NP = {d.np: d for d in ALL_DTYPES}


def _promote_pair(a: DType, b: DType) -> DType:
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == FLOAT:
        # float16 and bfloat16 meet in float32, as in PyTorch.
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a.itemsize > b.itemsize else b
    if a.category == INT:
        if a.is_signed == b.is_signed:
            return a if a.itemsize > b.itemsize else b
        u, s = (a, b) if not a.is_signed else (b, a)
        # uint8 with a signed type: the smallest signed type holding both.
        return s if s.itemsize > u.itemsize else int16
    return a


# The whole lattice is 10x10: precompute so promotion is one dict lookup.
_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL_DTYPES for b in ALL_DTYPES}


def promote_types(a: DType, b: DType) -> DType:
    return _PROMOTE[a, b]


class _Default:
    dtype = float32


def get_default_dtype() -> DType:
    return _Default.dtype


def set_default_dtype(d) -> None:
    d = to_dtype(d)
    if d not in (float32, float64, float16, bfloat16):
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {d}")
    _Default.dtype = d


def from_numpy_dtype(npd) -> DType:
    try:
        return _BY_NP[npd]
    except KeyError:
        try:
            return _BY_NP[np.dtype(npd)]
        except (KeyError, TypeError):
            raise TypeError(f"can't convert numpy dtype {npd} to an ember dtype; supported: "
                            f"{', '.join(d.name for d in ALL_DTYPES)}") from None


def to_dtype(d) -> DType:
    """Accept a DType, its name, a numpy dtype/type, a Python type, or a torch dtype."""
    if type(d) is DType:
        return d
    if d is float:
        return _Default.dtype
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str):
        r = _BY_NAME.get(d) or _ALIASES.get(d)
        if r is None:
            raise TypeError(f"unknown dtype name {d!r}")
        return r
    mod = type(d).__module__
    if mod.startswith("torch"):
        return to_dtype(str(d).split(".")[-1])
    return from_numpy_dtype(d)


def scalar_category(v) -> int:
    t = type(v)
    if t is bool or t is np.bool_:
        return BOOL
    if t is int or isinstance(v, np.integer):
        return INT
    if t is float or isinstance(v, (np.floating, ml_dtypes.bfloat16)):
        return FLOAT
    raise TypeError(f"expected a Python number, got {t.__name__}")


# dtype of a Python scalar standing alone (torch.tensor(3.0) -> default float).
def scalar_dtype(v) -> DType:
    c = scalar_category(v)
    return bool_ if c == BOOL else int64 if c == INT else _Default.dtype


def promote_with_scalar(d: DType, scalar_cat: int) -> DType:
    """Result of tensor(d) op python-scalar: the scalar only matters if its category is higher."""
    if scalar_cat <= d.category:
        return d
    return int64 if scalar_cat == INT else _Default.dtype


def result_type_of(dims_dtypes, zero_dim_dtypes, scalar_cats) -> DType:
    """PyTorch's three-tier promotion: dimensioned tensors, then zero-dim tensors, then scalars.

    A lower tier only participates when its category is higher than every higher tier's.
    """
    result = None
    for d in dims_dtypes:
        result = d if result is None else _PROMOTE[result, d]
    zr = None
    for d in zero_dim_dtypes:
        zr = d if zr is None else _PROMOTE[zr, d]
    if zr is not None:
        if result is None:
            result = zr
        elif zr.category > result.category:
            result = zr
    for c in scalar_cats:
        if result is None:
            result = bool_ if c == BOOL else int64 if c == INT else _Default.dtype
        else:
            result = promote_with_scalar(result, c)
    return result
