"""Public ops: special and pointwise math functions (lgamma, digamma, polygamma, i0, frexp,
ldexp, sinc, signbit, heaviside, logaddexp, logaddexp2).

lgamma/digamma/polygamma/i0/frexp are primitives (SciPy/NumPy kernels, VJP rules in
autograd/rules/special.py); the rest are composites, written so their gradients match
PyTorch's where PyTorch defines them at special points (sinc at 0, logaddexp at ties).
"""
from __future__ import annotations

import math

import numpy as np

from ...ir import dtypes as D
from ..dispatch import dispatch
from ..tensor import Tensor, install_methods
from . import elementwise as E
from .reduction import _return_type

__all__ = ["lgamma", "digamma", "polygamma", "i0", "frexp", "ldexp", "sinc", "signbit",
           "heaviside", "logaddexp", "logaddexp2"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)
_LOW = frozenset((D.float16.np, D.bfloat16.np))
_FREXP = _return_type("frexp", ["mantissa", "exponent"])
_SIGN_VIEW = {1: D.int8, 2: D.int16, 4: D.int32, 8: D.int64}


def _float(x):
    """Integer and bool inputs compute in the default float dtype, as in PyTorch."""
    return x if x._data.dtype in _FLOAT_NP else x.to(D.get_default_dtype())


def _tensor_arg(op, name, pos, v):
    if not isinstance(v, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(v).__name__}")


def _unary_primitive(op):
    def fn(input):
        return dispatch(op, _float(input))
    fn.__name__ = op
    return fn


lgamma = _unary_primitive("lgamma")
digamma = _unary_primitive("digamma")
i0 = _unary_primitive("i0")


def polygamma(n, input):
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return dispatch("polygamma", _float(input), n=int(n))


def frexp(input):
    if input._data.dtype not in _FLOAT_NP:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    return _FREXP(*dispatch("frexp", input))


def ldexp(input, other):
    """input * 2**other, in the promoted dtype (the default float dtype for integers)."""
    _tensor_arg("ldexp", "other", 2, other)
    dt = D.promote_types(input.dtype, other.dtype)
    if dt.category != D.FLOAT:
        dt = D.get_default_dtype()
    return input.to(dt) * E.pow(2.0, other.to(dt))


def sinc(input):
    x = _float(input)
    work = x.float() if x._data.dtype in _LOW else x
    zero = work == 0
    # the placeholder keeps the gradient at 0 finite (it is 0 there, as in PyTorch)
    px = E.where(zero, 1.0, work * math.pi)
    r = E.where(zero, 1.0, px.sin() / px)
    return r.to(x.dtype) if r._data.dtype != x._data.dtype else r


def signbit(input):
    dt = input._data.dtype
    if dt == np.bool_:
        return E.ne(input, input)  # all False
    if dt in _FLOAT_NP:  # the sign bit itself, so -0.0 and -nan count as negative
        return input.detach().view(_SIGN_VIEW[dt.itemsize]) < 0
    return input < 0


def heaviside(input, values):
    _tensor_arg("heaviside", "values", 2, values)
    if input._data.dtype != values._data.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    x, v = input.detach(), values.detach()  # no derivative (PyTorch defines none)
    return E.where(x == 0, v, (x > 0).to(x.dtype))


def _logaddexp_family(name, log1p_of_exp):
    def fn(input, other):
        _tensor_arg(name, "other", 2, other)
        a, b, dt = E.promote(name, input, other)
        if dt.category != D.FLOAT:
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                      f"'{E._TORCH_NAMES.get(dt.name, dt.name)}'")
        if dt.np in _LOW:  # computed in float32, rounded once
            a, b = a.float(), b.float()
        m = E.maximum(a, b)
        # max + log(1 + base**-|a-b|); at finite ties maximum's gradient splits evenly
        r = m + log1p_of_exp(-(a - b).abs())
        r = E.where(E.isinf(a) & (a == b), a, r)  # inf - inf would be NaN
        return r.to(dt) if r.dtype is not dt else r
    fn.__name__ = name
    return fn


logaddexp = _logaddexp_family("logaddexp", lambda t: t.exp().log1p())
logaddexp2 = _logaddexp_family("logaddexp2", lambda t: t.exp2().log1p() / math.log(2.0))


def _inplace(fn, name):
    def m(self, *args):
        from .inplace import inplace
        return inplace(self, fn(self, *args), name)
    m.__name__ = name
    return m


METHODS = {n: globals()[n] for n in __all__ if n != "polygamma"}
METHODS["polygamma"] = lambda self, n: polygamma(n, self)
for _n in ("lgamma", "digamma", "i0", "sinc", "ldexp", "heaviside"):
    METHODS[_n + "_"] = _inplace(globals()[_n], _n + "_")
METHODS["polygamma_"] = _inplace(lambda self, n: polygamma(n, self), "polygamma_")
install_methods(METHODS)
