"""Public ops: grids and index sets (meshgrid, cartesian_prod, combinations, triu/tril_indices),
structural composites (diff, rot90, cross, block_diag, cdist), out-of-place scatters into
views (select/slice/diagonal_scatter, narrow_copy) and in-place view ops (squeeze_,
unsqueeze_, t_, transpose_, swapdims_, swapaxes_).

All are composites of existing ops, so their gradients come from those ops' rules.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import normalize_dim
from ...runtime.autograd import STATE
from ..dispatch import dispatch
from ..tensor import _wrap, install_methods
from . import elementwise as E
from .composite import _torch_name
from .inplace import check_inplace

__all__ = ["meshgrid", "cartesian_prod", "combinations", "triu_indices", "tril_indices", "diff",
           "rot90", "cross", "block_diag", "cdist", "select_scatter", "slice_scatter",
           "diagonal_scatter", "narrow_copy"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_FLOAT_NP = frozenset(d.np for d in D.FLOAT_DTYPES)


def _tensor_list(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tuple(tensors)


# ------------------------------------------------------------------ grids and index sets

def meshgrid(*tensors, indexing=None):
    ts = _tensor_list(tensors)
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    indexing = "ij" if indexing is None else indexing
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if any(t._data.dtype != ts[0]._data.dtype for t in ts):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:  # xy: the first two axes exchange roles
        ts = (ts[1], ts[0]) + ts[2:]
    sizes = tuple(t.numel() for t in ts)
    n = len(ts)
    grids = [t.reshape(tuple(s if j == i else 1 for j in range(n))).expand(sizes)
             for i, (t, s) in enumerate(zip(ts, sizes))]
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def cartesian_prod(*tensors):
    ts = _tensor_list(tensors)
    for t in ts:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len(ts) == 1:
        return ts[0]
    from .shape import stack
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], dim=1)


def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(pick(range(input.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    from ..tensor import constant
    return input[constant(_wrap(idx))]


def _tri_indices(name, keep):
    def fn(row, col, offset=0, *, dtype=None, device=None, layout=None):
        dt = D.int64 if dtype is None else D.to_dtype(dtype)
        if dt.category != D.INT:
            raise NotImplementedError(f"\"{name}\" not implemented for "
                                      f"'{_torch_name(dt.np)}'")
        for what, v in (("row", row), ("col", col)):
            if v < 0:
                raise RuntimeError(f"{what} must be non-negative, got{v}")
        r, c = np.nonzero(keep(np.ones((row, col), bool), offset))
        from ..tensor import constant
        return constant(_wrap(np.stack([r, c]).astype(dt.np).reshape(2, -1)))
    fn.__name__ = name
    return fn


triu_indices = _tri_indices("triu_indices", lambda m, k: np.triu(m, k))
tril_indices = _tri_indices("tril_indices", lambda m, k: np.tril(m, k))


# ------------------------------------------------------------------ structural composites

def diff(input, n=1, dim=-1, prepend=None, append=None):
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = normalize_dim(dim, input.ndim, "diff")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = input
    if len(parts) > 1:
        if any(t.ndim != input.ndim for t in parts):
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
        from .shape import cat
        x = cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = E.logical_xor(hi, lo) if x._data.dtype == np.bool_ else hi - lo
    return x if n else x.clone()


def rot90(input, k=1, dims=(0, 1)):
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    nd = input.ndim
    if nd < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {nd}")
    if dims[0] == dims[1] or (dims[0] - dims[1]) % nd == 0:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    for i, dd in enumerate(dims):
        if not -nd <= dd < nd:
            raise RuntimeError(f"Rotation dim{i} out of range, dim{i} = {dd}")
    a, b = dims[0] % nd, dims[1] % nd
    k %= 4
    if k == 1:
        return input.flip(b).transpose(a, b)
    if k == 2:
        return input.flip((a, b))
    if k == 3:
        return input.flip(a).transpose(a, b)
    return input.clone()


_ROLL1 = np.array([1, 2, 0], np.int64)
_ROLL2 = np.array([2, 0, 1], np.int64)


def cross(input, other, dim=None):
    if input._data.dtype != other._data.dtype:
        raise RuntimeError(f"expected scalar type {_torch_name(input._data.dtype)} but found "
                           f"{_torch_name(other._data.dtype)}")
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions.")
    shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease "
                      "either pass the dim explicitly or simply use torch.linalg.cross.\nThe "
                      "default value of dim will change to agree with that of linalg.cross in "
                      "a future release.", UserWarning, stacklevel=2)
        found = [i for i, s in enumerate(shape) if s == 3]
        if not found:
            raise RuntimeError("no dimension of size 3 in input")
        d = found[0]
    else:
        d = normalize_dim(dim, len(shape), "cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    a, b = input.expand(shape), other.expand(shape)
    from ..tensor import constant
    i1, i2 = constant(_wrap(_ROLL1)), constant(_wrap(_ROLL2))
    return a.index_select(d, i1) * b.index_select(d, i2) - \
        a.index_select(d, i2) * b.index_select(d, i1)


def block_diag(*tensors):
    ts = _tensor_list(tensors)
    for i, t in enumerate(ts):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                               f"Input {i} has {t.ndim} dimensions")
    if not ts:
        from ..tensor import constant
        return constant(_wrap(np.zeros((1, 0), D.get_default_dtype().np)))
    dt = ts[0].dtype
    for t in ts[1:]:
        dt = D.promote_types(dt, t.dtype)
    mats = [t.reshape(1, t.numel()) if t.ndim < 2 else t for t in ts]
    mats = [m.to(dt) for m in mats]
    cols = sum(m.shape[1] for m in mats)
    rows, at = [], 0
    for m in mats:
        c = m.shape[1]
        rows.append(dispatch("pad", m, pads=((0, 0, 0), (at, cols - at - c, 0)), value=0))
        at += c
    from .shape import cat
    return cat(rows, 0)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def _safe(t, zero, fn):
    """fn(t) where not zero, 0 where zero; the placeholder keeps the gradient finite."""
    return E.where(zero, 0.0, fn(E.where(zero, 1.0, t)))


def _cdist_mm(x1, x2):
    # PyTorch's matrix-product form of the euclidean distance, step for step
    from .shape import cat
    from .creation import ones_like
    n1 = (x1 * x1).sum(-1, keepdim=True)
    n2 = (x2 * x2).sum(-1, keepdim=True)
    a = cat([x1 * -2, n1, ones_like(n1)], -1)
    b = cat([x2, ones_like(n2), n2], -1)
    return E.clamp_min(a.matmul(b.transpose(-1, -2)), 1e-30).sqrt()


def _cdist_direct(x1, x2, p):
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)  # (..., P, R, M)
    ad = d.abs()
    if p == 0:
        return (d * 0 + (d != 0).to(d.dtype)).sum(-1)  # zero gradient, kept in the graph
    if p == 1:
        return ad.sum(-1)
    if p == math.inf:
        # PyTorch gives every element attaining the maximum the full gradient (no split)
        top = ad.detach().amax(-1, keepdim=True)
        hit = (ad.detach() == top).to(d.dtype)
        return top.squeeze(-1) + ((ad - ad.detach()) * hit).sum(-1)
    powered = ad * ad if p == 2 else _safe(ad, ad == 0, lambda t: t ** p)
    s = powered.sum(-1)
    return _safe(s, s == 0, lambda t: t.sqrt() if p == 2 else t ** (1.0 / p))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    for name, t in (("X1", x1), ("X2", x2)):
        if t._data.dtype not in _FLOAT_NP:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_torch_name(t._data.dtype)}")
    if x1._data.dtype.itemsize < 4:
        raise NotImplementedError(f"\"cdist\" not implemented for '{_torch_name(x1._data.dtype)}'")
    if x1._data.dtype != x2._data.dtype:
        raise RuntimeError(f"expected scalar type {_torch_name(x1._data.dtype)} but found "
                           f"{_torch_name(x2._data.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} "
                           f"X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = np.broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    x1 = x1.expand(batch + tuple(x1.shape[-2:]))
    x2 = x2.expand(batch + tuple(x2.shape[-2:]))
    P, R = x1.shape[-2], x2.shape[-2]
    if P == 0 or R == 0 or x1.shape[-1] == 0:
        from .creation import zeros
        return zeros(batch + (P, R), dtype=x1.dtype) + (x1.sum() + x2.sum()) * 0
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == _CDIST_MODES[0] and (P > 25 or R > 25)))
    return _cdist_mm(x1, x2) if use_mm else _cdist_direct(x1, x2, p)


# ------------------------------------------------------------------ scatters into views

def _scatter_into(op, input, src, view):
    """A copy of input with `view(copy)` replaced by src (cast to input's dtype)."""
    out = input.clone()
    region = view(out)
    if tuple(src.shape) != tuple(region.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region.shape)}")
    if src._requires_grad and src._grad_fn is None:
        # copy_ from a leaf currently loses the leaf's autograd edge (core issue reported);
        # a view of the leaf carries one
        src = src.view_as(src)
    region.copy_(src)
    return out


def select_scatter(input, src, dim, index):
    return _scatter_into("select_scatter", input, src, lambda t: t.select(dim, index))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    def view(t):
        key = [slice(None)] * t.ndim
        key[normalize_dim(dim, t.ndim, "slice_scatter")] = slice(start, end, step)
        return t[tuple(key)]
    return _scatter_into("slice_scatter", input, src, view)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return _scatter_into("diagonal_scatter", input, src,
                         lambda t: t.diagonal(offset, dim1, dim2))


def narrow_copy(input, dim, start, length):
    return input.narrow(dim, start, length).clone().contiguous()


# ------------------------------------------------------------------ in-place view ops

def _inplace_view(name, view):
    """x.op_(...): x itself becomes the view (same memory, new shape/strides); autograd
    records the view op as x's new history, as PyTorch does."""
    def method(self, *args, **kwargs):
        check_inplace(self, name)
        v = view(self, *args, **kwargs)
        self._data = v._data
        if STATE.enabled and v._requires_grad:
            self._grad_fn, self._out_idx, self._requires_grad = v._grad_fn, v._out_idx, True
        if self._base is not None:
            self._view_chain = getattr(v, "_view_chain", None)
        self._version[0] += 1
        return self
    method.__name__ = name
    return method


def _t_checked(self):
    if self.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{self.ndim}D")
    return self.t()


METHODS = {n: globals()[n] for n in ("diff", "rot90", "cross", "select_scatter", "slice_scatter",
                                      "diagonal_scatter", "narrow_copy")}
METHODS.update({
    "squeeze_": _inplace_view("squeeze_", lambda s, *a, **k: s.squeeze(*a, **k)),
    "unsqueeze_": _inplace_view("unsqueeze_", lambda s, dim: s.unsqueeze(dim)),
    "t_": _inplace_view("t_", _t_checked),
    "transpose_": _inplace_view("transpose_", lambda s, d0, d1: s.transpose(d0, d1)),
    "swapdims_": _inplace_view("swapdims_", lambda s, d0, d1: s.transpose(d0, d1)),
    "swapaxes_": _inplace_view("swapaxes_", lambda s, d0, d1: s.transpose(d0, d1)),
})
install_methods(METHODS)
