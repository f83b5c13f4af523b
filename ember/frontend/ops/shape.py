"""Public ops: shape and view family.

Views (reshape when strides allow, permute/transpose, expand, slicing, diagonal, squeeze,
split...) go through `dispatch_view`, so they share memory and the version counter with
their base exactly where PyTorch's do; flip, cat, roll, repeat... copy. Everything here
is a composite of the movement primitives, so autograd comes from their VJP rules.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import broadcast_shapes as _bshapes
from ...runtime.autograd import STATE
from ...runtime.registry import KERNELS
from ..dispatch import dispatch, dispatch_view
from ..tensor import Size, Tensor, _wrap, install_methods, opaque, wrap_view

__all__ = [
    "reshape", "permute", "transpose", "swapaxes", "swapdims", "t", "squeeze", "unsqueeze",
    "flatten", "unflatten", "ravel", "narrow", "select", "split", "chunk", "unbind",
    "tensor_split", "hsplit", "vsplit", "dsplit", "movedim", "moveaxis", "diagonal", "diag",
    "diag_embed", "cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack",
    "dstack", "column_stack", "tile", "flip", "fliplr", "flipud", "roll", "tril", "triu",
    "broadcast_shapes", "broadcast_tensors", "broadcast_to", "atleast_1d", "atleast_2d",
    "atleast_3d",
]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_INTS = (int, np.integer)
_ndarray = np.ndarray
_K = KERNELS["cpu"]


# ---------------------------------------------------------------- the no-grad fast path
# Views are made constantly (every layer reshapes/transposes), so when autograd has nothing
# to record the numpy view is wrapped directly instead of going through dispatch_view;
# the result is the same: shared memory and version counter, _base and _view_chain set.

def _plain(x):
    """True when x's op needs no autograd record (and x is an eager NumPy tensor)."""
    return not (STATE.enabled and x.requires_grad) and type(x._data) is _ndarray


def _view(op, x, **attrs):
    """dispatch_view, minus the bookkeeping when there is nothing for autograd to record."""
    if _plain(x):
        try:
            arr = _K[op](x._data, **attrs)
        except (ValueError, TypeError, IndexError):
            return dispatch_view(op, x, **attrs)  # raises the op's explained error
        return wrap_view(x, arr, ((op, attrs),))
    return dispatch_view(op, x, **attrs)


# ---------------------------------------------------------------- argument helpers

def _size_arg(size):
    """f(2, 3), f((2, 3)), f([2, 3]) and f(ember.Size([2, 3])) all mean (2, 3)."""
    if len(size) != 1:
        for v in size:
            if type(v) is not int:
                return tuple(_as_int(v, "size", "size") for v in size)
        return size
    if not isinstance(size[0], _INTS):
        s = size[0]
        if isinstance(s, Tensor):
            return (int(s),) if s._data.ndim == 0 else tuple(int(v) for v in s.tolist())
        return tuple(int(v) for v in s)
    return tuple(v if type(v) is int else int(v) for v in size)


def _dim(d, nd, op):
    """normalize a dim for a tensor of nd dims (0-d tensors accept -1 and 0, like torch)."""
    n = nd if nd > 0 else 1
    if type(d) is not int:
        d = _as_int(d, op, "dim")
    if -n <= d < n:
        return d + n if d < 0 else d
    raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                     f"but got {d})")


def _as_int(v, op, what):
    if isinstance(v, _INTS) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, Tensor) and v._data.ndim == 0 and v._data.dtype.kind in "iu":
        return int(v)
    raise TypeError(f"{op}(): argument '{what}' must be int, not {type(v).__name__}")


def _dims(dims, nd, op):
    """A tuple of distinct normalized dims (int or sequence accepted)."""
    if isinstance(dims, _INTS):
        dims = (dims,)
    out = tuple(_dim(d, nd, op) for d in dims)
    if len(set(out)) != len(out):
        for d in out:
            if out.count(d) > 1:
                raise RuntimeError(f"{op}: dim {d} appears multiple times in the list of dims")
    return out


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _infer(shape, numel, op):
    if -1 not in shape:
        for d in shape:
            if d < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {d}")
        if _numel(shape) != numel:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
        return shape
    if shape.count(-1) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred")
    known = 1
    for d in shape:
        if d != -1:
            if d < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {d}")
            known *= d
    if known == 0 or numel % known:
        if known == 0 and numel == 0:
            raise RuntimeError(f"{op}: cannot reshape tensor of 0 elements into shape "
                               f"{list(shape)} because the unspecified dimension size -1 can be "
                               f"any value and is ambiguous")
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel}")
    i = shape.index(-1)
    return shape[:i] + (numel // known,) + shape[i + 1:]


def _viewable(arr, shape):
    """Whether a reshape can alias arr (torch.view's rule; NumPy's no-copy reshape agrees)."""
    if arr.flags.c_contiguous:
        return True
    try:
        np.reshape(arr, shape, copy=False)
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------- reshape family

_INFERRED = {}


def _inferred(shape, numel, op):
    key = (shape, numel)
    r = _INFERRED.get(key)
    if r is None:
        r = _infer(shape, numel, op)
        if len(_INFERRED) > 4096:
            _INFERRED.clear()
        _INFERRED[key] = r
    return r


def _reshape_to(x, shape):
    """Reshape to an already inferred shape: a view when possible, else a copy."""
    d = x._data
    if d.flags.c_contiguous or _viewable(d, shape):
        return _view("reshape", x, shape=shape)
    return dispatch("reshape", x, shape=shape)


def reshape(input, *shape):
    return _reshape_to(input, _inferred(_size_arg(shape), input._data.size, "reshape"))


def view(self, *shape, dtype=None):
    if dtype is None and len(shape) == 1 and not isinstance(shape[0], (_INTS, tuple, list, Tensor)):
        dtype = shape[0]
        shape = None
    if dtype is not None:
        return _view_dtype(self, D.to_dtype(dtype))
    shape = _inferred(_size_arg(shape), self._data.size, "view")
    d = self._data
    if not (d.flags.c_contiguous or _viewable(d, shape)):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _view("reshape", self, shape=shape)


def _view_dtype(self, dt):
    d = self._data
    old, new = d.itemsize, dt.np.itemsize
    if old != new:
        if d.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 to view {self.dtype} as {dt} (different "
                               f"element sizes)")
        if d.strides[-1] != old and d.shape[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 to view {self.dtype} as {dt} "
                               f"(different element sizes), but got {d.strides[-1] // old}")
        if (d.shape[-1] * old) % new:
            raise RuntimeError(f"self.size(-1) must be divisible by {new // old} to view "
                               f"{self.dtype} as {dt} (different element sizes), but got "
                               f"{d.shape[-1]}")
    # memory and version counter are shared; not differentiable, so no view record (and
    # no graph form: a bitcast is opaque to the tracer)
    return opaque("view(dtype)", [self], [_wrap(d.view(dt.np), self._version)])[0]


def view_as(self, other):
    return view(self, other._data.shape)


def reshape_as(self, other):
    return reshape(self, other._data.shape)


def flatten(input, start_dim=0, end_dim=-1):
    d = input._data
    nd = d.ndim
    if nd == 0:
        return _reshape_to(input, (1,))
    s, e = _dim(start_dim, nd, "flatten"), _dim(end_dim, nd, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    sh = d.shape
    return _reshape_to(input, sh[:s] + (_numel(sh[s:e + 1]),) + sh[e + 1:])


def unflatten(input, dim, sizes):
    sh = input._data.shape
    dim = _dim(dim, len(sh), "unflatten")
    sizes = tuple(int(v) for v in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = sh[dim] if sh else 1
    if -1 in sizes:
        try:
            sizes = _infer(sizes, n, "unflatten")
        except RuntimeError:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                               f"size of dim {dim} ({n}) in the input tensor") from None
    elif _numel(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return _reshape_to(input, sh[:dim] + sizes + sh[dim + 1:])


def ravel(input):
    return _reshape_to(input, (input._data.size,))


def squeeze(input, dim=None):
    sh = input._data.shape
    nd = len(sh)
    if dim is None:
        new = tuple(s for s in sh if s != 1)
    else:
        dims = set(_dims(dim, nd, "squeeze"))
        new = tuple(s for i, s in enumerate(sh) if not (i in dims and s == 1))
    return _view("reshape", input, shape=new)


def unsqueeze(input, dim):
    sh = input._data.shape
    n = len(sh) + 1
    if type(dim) is not int:
        dim = _as_int(dim, "unsqueeze", "dim")
    if not -n <= dim < n:
        raise IndexError(f"unsqueeze: Dimension out of range (expected to be in range of [{-n}, "
                         f"{n - 1}], but got {dim})")
    if dim < 0:
        dim += n
    return _view("reshape", input, shape=sh[:dim] + (1,) + sh[dim:])


# ---------------------------------------------------------------- permutations

_PERMS = {}


def _perm(dims, nd):
    key = (dims, nd)
    r = _PERMS.get(key)
    if r is None:
        if len(dims) != nd:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input "
                               f"does not match the length of the desired ordering of dimensions "
                               f"i.e. input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
        r = tuple(_dim(d, nd, "permute") for d in dims)
        if len(set(r)) != nd:
            raise RuntimeError("permute(): duplicate dims are not allowed.")
        if len(_PERMS) > 4096:
            _PERMS.clear()
        _PERMS[key] = r
    return r


def permute(input, *dims):
    return _view("permute", input, dims=_perm(_size_arg(dims), input._data.ndim))


def transpose(input, dim0, dim1):
    nd = input._data.ndim
    a, b = _dim(dim0, nd, "transpose"), _dim(dim1, nd, "transpose")
    perm = list(range(nd))
    if nd:
        perm[a], perm[b] = b, a
    return _view("permute", input, dims=tuple(perm))


def swapaxes(input, axis0, axis1):
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    return transpose(input, dim0, dim1)


def t(input):
    nd = input._data.ndim
    if nd > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {nd}D")
    return _view("permute", input, dims=(1, 0) if nd == 2 else tuple(range(nd)))


_REVERSED = [tuple(range(n - 1, -1, -1)) for n in range(65)]


def _T(self):
    return _view("permute", self, dims=_REVERSED[self._data.ndim])


def _mT(self):
    nd = self._data.ndim
    if nd < 2:
        raise RuntimeError(f"tensor.mT is only supported on matrices or batches of matrices. "
                           f"Got {nd}-D tensor.")
    return _view("permute", self, dims=tuple(range(nd - 2)) + (nd - 1, nd - 2))


def movedim(input, source, destination):
    nd = input._data.ndim
    src = (source,) if isinstance(source, _INTS) else tuple(source)
    dst = (destination,) if isinstance(destination, _INTS) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    src = _dims(src, nd, "movedim")
    dst = _dims(dst, nd, "movedim")
    perm = [-1] * nd
    for s, d in zip(src, dst):
        perm[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    perm = tuple(p if p >= 0 else next(rest) for p in perm)
    return _view("permute", input, dims=perm)


moveaxis = movedim


# ---------------------------------------------------------------- broadcasting

def expand(self, *sizes):
    sizes = _size_arg(sizes)
    sh = self._data.shape
    lead = len(sizes) - len(sh)
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(sh)})")
    if -1 in sizes or any(s < 0 for s in sizes):
        out = []
        for i, s in enumerate(sizes):
            if s == -1:
                if i < lead:
                    raise RuntimeError(f"expand: the expanded size of the tensor (-1) isn't "
                                       f"allowed in a leading, non-existing dimension {i}")
                s = sh[i - lead]
            elif s < 0:
                raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must be "
                                   f"non-negative")
            out.append(s)
        sizes = tuple(out)
    return _view("expand", self, shape=sizes)


def expand_as(self, other):
    return expand(self, other._data.shape)


def broadcast_to(input, size):
    return expand(input, tuple(size))


def broadcast_shapes(*shapes):
    norm = [(s,) if isinstance(s, _INTS) else tuple(s) for s in shapes]
    try:
        return Size(_bshapes(*norm, op="broadcast_shapes"))
    except RuntimeError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape. "
                           f"Shapes: {', '.join(str(list(s)) for s in norm)}") from None


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = _bshapes(*(t._data.shape for t in tensors), op="broadcast_tensors")
    return tuple(_view("expand", t, shape=shape) for t in tensors)


# ---------------------------------------------------------------- slicing views

def _slice_dim(x, dim, start, stop, step=1):
    sh = x._data.shape
    starts = [0] * len(sh)
    stops = list(sh)
    starts[dim], stops[dim] = start, stop
    return _view("slice", x, starts=tuple(starts), stops=tuple(stops),
                         steps=(1,) * dim + (step,) + (1,) * (len(sh) - dim - 1))


def narrow(input, dim, start, length):
    sh = input._data.shape
    if not sh:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    dim = _dim(dim, len(sh), "narrow")
    start = _as_int(start, "narrow", "start")
    length = _as_int(length, "narrow", "length")
    n = sh[dim]
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice_dim(input, dim, start, start + length)


def select(input, dim, index):
    sh = input._data.shape
    if not sh:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    dim = _dim(dim, len(sh), "select")
    index = _as_int(index, "select", "index")
    n = sh[dim]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(sh)} at "
                         f"dimension {dim}")
    if index < 0:
        index += n
    return _select(input, dim, index)


def _select(x, dim, i):
    sh = x._data.shape
    rest = sh[:dim] + sh[dim + 1:]
    if _plain(x):
        nd = len(sh)
        chain = (("slice", {"starts": (0,) * dim + (i,) + (0,) * (nd - dim - 1),
                            "stops": sh[:dim] + (i + 1,) + sh[dim + 1:], "steps": (1,) * nd}),
                 ("reshape", {"shape": rest}))
        return wrap_view(x, x._data[(slice(None),) * dim + (i, Ellipsis)], chain)
    return _view("reshape", _slice_dim(x, dim, i, i + 1), shape=rest)


def _split_sizes(x, sizes, dim):
    out = []
    at = 0
    for n in sizes:
        out.append(_slice_dim(x, dim, at, at + n))
        at += n
    return tuple(out)


def split(tensor, split_size_or_sections, dim=0):
    sh = tensor._data.shape
    if not sh:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    dim = _dim(dim, len(sh), "split")
    n = sh[dim]
    s = split_size_or_sections
    if isinstance(s, _INTS) or (isinstance(s, Tensor) and s._data.ndim == 0):
        s = int(s)
        if s < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
        if s == 0:
            if n:
                raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                                   f"dimension size of {n}")
            return (_slice_dim(tensor, dim, 0, 0),)
        k = max((n + s - 1) // s, 1)
        sizes = [s] * (k - 1) + [n - s * (k - 1)]
    else:
        sizes = [int(v) for v in s]
        if sum(sizes) != n or any(v < 0 for v in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                               f"tensor's size at dimension {dim}), but got split_sizes={sizes}")
    op = "Split" if isinstance(split_size_or_sections, (*_INTS, Tensor)) else "SplitWithSizes"
    return _multi_views(tensor, _split_sizes(tensor, sizes, dim), op)


def _multi_views(x, views, op):
    """Mark the outputs of a function returning several views of a tensor that requires
    grad, recorded with autograd on: PyTorch forbids in-place writes into them."""
    if STATE.enabled and x.requires_grad:
        for i, v in enumerate(views):
            v._multi_view = (op, i)
    return views


def chunk(input, chunks, dim=0):
    if not isinstance(chunks, _INTS):
        raise TypeError(f"chunk(): argument 'chunks' must be int, not {type(chunks).__name__}")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    sh = input._data.shape
    if not sh:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    n = sh[_dim(dim, len(sh), "chunk")]
    size = (n + chunks - 1) // chunks
    if size == 0 and n == 0:
        # torch splits an empty dim into `chunks` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, size, dim)


def unbind(input, dim=0):
    sh = input._data.shape
    if not sh:
        raise IndexError("unbind(): Dimension specified as 0 but tensor has no dimensions")
    dim = _dim(dim, len(sh), "unbind")
    return _multi_views(input, tuple(_select(input, dim, i) for i in range(sh[dim])), "Unbind")


def tensor_split(input, indices_or_sections, dim=0):
    sh = input._data.shape
    if not sh:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    dim = _dim(dim, len(sh), "tensor_split")
    n = sh[dim]
    s = indices_or_sections
    if isinstance(s, Tensor):
        s = int(s) if s._data.ndim == 0 else [int(v) for v in s.tolist()]
    if isinstance(s, _INTS):
        if s <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {s}")
        q, r = divmod(n, s)
        sizes = [q + 1] * r + [q] * (s - r)
        return _split_sizes(input, sizes, dim)
    bounds = [0] + [min(max(int(i) + n if int(i) < 0 else int(i), 0), n) for i in s] + [n]
    # consecutive indices slice independently, as python slicing: a decreasing pair is empty
    return tuple(_slice_dim(input, dim, a, max(a, b)) for a, b in zip(bounds, bounds[1:]))


def _xsplit(name, dim, min_nd):
    def fn(input, indices_or_sections):
        nd = input._data.ndim
        if nd < min_nd:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_nd} dimension, "
                               f"but got a tensor with {nd} dimensions!")
        d = 0 if name == "hsplit" and nd == 1 else dim
        s = indices_or_sections
        if isinstance(s, _INTS) and input._data.shape[d] % s:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the "
                               f"size of the dimension {input._data.shape[d]} is not divisible by "
                               f"the split_size {s}!")
        return tensor_split(input, s, d)
    fn.__name__ = name
    return fn


hsplit = _xsplit("hsplit", 1, 1)
vsplit = _xsplit("vsplit", 0, 2)
dsplit = _xsplit("dsplit", 2, 3)


# ---------------------------------------------------------------- diagonals

def diagonal(input, offset=0, dim1=0, dim2=1):
    nd = input._data.ndim
    d1, d2 = _dim(dim1, nd, "diagonal"), _dim(dim2, nd, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _view("diagonal", input, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    sh = input._data.shape
    nd = len(sh) + 1
    d1, d2 = _dim(dim1, nd, "diag_embed"), _dim(dim2, nd, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if not sh:
        raise IndexError("diag_embed: Dimension out of range (expected to be in range of [-1, 0], "
                         "but got -2)")
    m = sh[-1] + abs(offset)
    out = [None] * nd
    out[d1] = out[d2] = m
    rest = iter(sh[:-1])
    out = tuple(next(rest) if v is None else v for v in out)
    from ..autograd.rules.movement import diag_embed_raw
    return diag_embed_raw(input, out, int(offset), d1, d2)


def diag(input, diagonal=0):
    nd = input._data.ndim
    if nd == 1:
        n = input._data.shape[0] + abs(diagonal)
        from ..autograd.rules.movement import diag_embed_raw
        return diag_embed_raw(input, (n, n), int(diagonal), 0, 1)
    if nd == 2:
        return dispatch("copy", _view("diagonal", input, offset=int(diagonal), dim1=0,
                                              dim2=1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")


# ---------------------------------------------------------------- joining

def _cat_dtype(tensors):
    dts = {t._data.dtype for t in tensors}
    if len(dts) == 1:
        return None
    r = None
    for t in tensors:
        d = _NP2DT[t._data.dtype]
        r = d if r is None else D.promote_types(r, d)
    return r


def _check_tensors(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        f"Tensor")
    tensors = tuple(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                            f"but found element of type {type(x).__name__} at pos {i}")
    return tensors


def _join_fast(join, tensors, dim):
    """np.concatenate / np.stack straight away when nothing needs checking beyond what
    NumPy checks itself (same dtype, no autograd); None sends the caller the slow way."""
    if isinstance(tensors, Tensor) or type(dim) is not int:
        return None
    try:
        arrs = [t._data for t in tensors]
    except AttributeError:
        return None
    if not arrs:
        return None
    dt = arrs[0].dtype
    for a in arrs:
        if a.dtype != dt or type(a) is not _ndarray:
            return None
    if STATE.enabled:
        for t in tensors:
            if t.requires_grad:   # a view's base counts (PyTorch's rule)
                return None
    if STATE.tracer is not None:  # record the primitive
        return None
    try:
        return _wrap(join(arrs, axis=dim))
    except (ValueError, TypeError, IndexError):
        return None


def cat(tensors, dim=0, *, out=None):
    if out is None:
        r = _join_fast(np.concatenate, tensors, dim)
        if r is not None:
            return r
    tensors = _check_tensors(tensors, "cat")
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    dt = _cat_dtype(tensors)
    # legacy behaviour kept by torch: 1-D empty tensors are skipped whatever the other shapes
    parts = [x for x in tensors if not (x._data.ndim == 1 and x._data.shape[0] == 0)]
    for i, x in enumerate(tensors):
        if x._data.ndim == 0:
            raise RuntimeError(f"torch.cat(): zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    if not parts:
        res = tensors[0] if dt is None else tensors[0].to(dt)
        res = dispatch("copy", res)
        return _out(res, out)
    ref = parts[0]._data.shape
    nd = len(ref)
    d = _dim(dim, nd, "cat")
    for i, x in enumerate(tensors):
        s = x._data.shape
        if x._data.ndim == 1 and s[0] == 0:
            continue
        if len(s) != nd:
            raise RuntimeError(f"torch.cat(): Tensors must have same number of dimensions: got "
                               f"{nd} and {len(s)}")
        for j in range(nd):
            if j != d and s[j] != ref[j]:
                raise RuntimeError(f"torch.cat(): Sizes of tensors must match except in dimension "
                                   f"{d}. Expected size {ref[j]} but got size {s[j]} for tensor "
                                   f"number {i} in the list.")
    if dt is not None:
        parts = [x if x._data.dtype == dt.np else x.to(dt) for x in parts]
    return _out(dispatch("cat", *parts, dim=d), out)


def _out(res, out):
    if out is None:
        return res
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, out._data.dtype)
    np.copyto(out._data, res._data, casting="unsafe")
    out._version[0] += 1
    return out


def concat(tensors, dim=0, *, out=None):
    return cat(tensors, dim, out=out)


def concatenate(tensors, axis=0, out=None):
    return cat(tensors, axis, out=out)


def _np_stack(arrs, axis):
    # np.stack without its Python-level overhead: concatenate along an inserted unit dim
    n = arrs[0].ndim + 1
    if not -n <= axis < n:
        raise IndexError(axis)
    if axis < 0:
        axis += n
    return np.concatenate([a.reshape(a.shape[:axis] + (1,) + a.shape[axis:]) for a in arrs],
                          axis=axis)


def stack(tensors, dim=0, *, out=None):
    if out is None:
        r = _join_fast(_np_stack, tensors, dim)
        if r is not None:
            return r
    tensors = _check_tensors(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    ref = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != ref:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ref)} "
                               f"at entry 0 and {list(x._data.shape)} at entry {i}")
    n = len(ref) + 1
    if not -n <= dim < n:
        raise IndexError(f"stack: Dimension out of range (expected to be in range of [{-n}, "
                         f"{n - 1}], but got {dim})")
    dim = dim + n if dim < 0 else dim
    shape = ref[:dim] + (1,) + ref[dim:]
    return cat([_view("reshape", x, shape=shape) for x in tensors], dim, out=out)


def hstack(tensors, *, out=None):
    ts = atleast_1d(*_check_tensors(tensors, "hstack"))
    ts = ts if isinstance(ts, tuple) else (ts,)
    return cat(ts, 0 if ts and ts[0]._data.ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None):
    ts = atleast_2d(*_check_tensors(tensors, "vstack"))
    return cat(ts if isinstance(ts, tuple) else (ts,), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None):
    ts = atleast_3d(*_check_tensors(tensors, "dstack"))
    return cat(ts if isinstance(ts, tuple) else (ts,), 2, out=out)


def column_stack(tensors, *, out=None):
    ts = _check_tensors(tensors, "column_stack")
    ts = [_view("reshape", x, shape=(x._data.size, 1)) if x._data.ndim <= 1 else x
          for x in ts]
    return cat(ts, 1, out=out)


def _atleast(nd, grow):
    def fn(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
            return tuple(fn(x) for x in tensors[0])
        res = tuple(x if x._data.ndim >= nd else
                    _view("reshape", x, shape=grow(x._data.shape)) for x in tensors)
        return res[0] if len(res) == 1 else res
    return fn


atleast_1d = _atleast(1, lambda s: (1,))
atleast_2d = _atleast(2, lambda s: (1,) * (2 - len(s)) + s)
atleast_3d = _atleast(3, lambda s: (1, 1, 1) if not s else (1,) + s + (1,) if len(s) == 1
                      else s + (1,))
atleast_1d.__name__, atleast_2d.__name__, atleast_3d.__name__ = "atleast_1d", "atleast_2d", \
    "atleast_3d"


# ---------------------------------------------------------------- repeating

def repeat(self, *sizes):
    reps = _size_arg(sizes)
    sh = self._data.shape
    if len(reps) < len(sh):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    for r in reps:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {r}: "
                               f"{list(reps)}")
    sh = (1,) * (len(reps) - len(sh)) + sh
    inter = tuple(v for d in sh for v in (1, d))
    big = tuple(v for r, d in zip(reps, sh) for v in (r, d))
    x = _view("reshape", self, shape=inter)
    x = _view("expand", x, shape=big)
    final = tuple(r * d for r, d in zip(reps, sh))
    if _viewable(x._data, final):
        # still a view (all reps 1, or stride-0 merges): repeat always returns fresh memory
        return dispatch("copy", _view("reshape", x, shape=final))
    return dispatch("reshape", x, shape=final)


def tile(input, dims):
    dims = tuple(dims) if not isinstance(dims, _INTS) else (dims,)
    nd = input._data.ndim
    if len(dims) < nd:
        dims = (1,) * (nd - len(dims)) + dims
    return repeat(input, dims)


# ---------------------------------------------------------------- flips and rolls

def flip(input, dims):
    nd = input._data.ndim
    dims = _dims(dims, nd, "flip")
    if nd == 0:
        dims = ()
    return dispatch("flip", input, dims=dims)


def _flip_method(self, *dims):
    return flip(self, dims[0] if len(dims) == 1 else dims)


def fliplr(input):
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return dispatch("flip", input, dims=(1,))


def flipud(input):
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return dispatch("flip", input, dims=(0,))


def roll(input, shifts, dims=None):
    shifts = (shifts,) if isinstance(shifts, _INTS) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        flat = _reshape_to(input, (input._data.size,))
        return _reshape_to(roll(flat, shifts, 0), input._data.shape)
    dims = (dims,) if isinstance(dims, _INTS) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    nd = input._data.ndim
    x = input
    for s, d in zip(shifts, dims):
        d = _dim(d, nd, "roll")
        n = x._data.shape[d]
        s = s % n if n else 0
        if s:
            x = dispatch("cat", _slice_dim(x, d, n - s, n), _slice_dim(x, d, 0, n - s), dim=d)
    return x if x is not input else dispatch("copy", input)


# ---------------------------------------------------------------- triangles

def _tri_mask(shape, k, upper):
    n, m = shape[-2], shape[-1]
    rows = dispatch("iota", shape=(n, 1), dtype=D.int64)
    cols = dispatch("iota", shape=(m,), dtype=D.int64)
    diff = dispatch("sub", cols, rows)  # j - i
    k = np.int64(k)
    return dispatch("ge", diff, k) if upper else dispatch("le", diff, k)


def _tri(upper):
    name = "triu" if upper else "tril"

    def fn(input, diagonal=0, *, out=None):
        sh = input._data.shape
        if len(sh) < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        mask = _tri_mask(sh, int(diagonal), upper)
        zero = input._data.dtype.type(0)
        return _out(dispatch("where", _view("expand", mask, shape=sh), input, zero), out)
    fn.__name__ = name
    return fn


tril = _tri(False)
triu = _tri(True)


def _tri_(f, name):
    def m(self, diagonal=0):
        from .inplace import inplace
        return inplace(self, f(self, diagonal), name)
    return m


# ---------------------------------------------------------------- Tensor methods

METHODS = {
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": reshape_as,
    "permute": permute, "transpose": transpose, "swapaxes": swapaxes, "swapdims": swapdims,
    "t": t, "expand": expand, "expand_as": expand_as, "broadcast_to": broadcast_to,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten, "unflatten": unflatten,
    "ravel": ravel, "narrow": narrow, "select": select, "split": split, "chunk": chunk,
    "unbind": unbind, "tensor_split": tensor_split, "hsplit": hsplit, "vsplit": vsplit,
    "dsplit": dsplit, "movedim": movedim, "moveaxis": moveaxis, "diagonal": diagonal,
    "diag": diag, "diag_embed": diag_embed, "repeat": repeat, "tile": tile, "flip": _flip_method,
    "fliplr": fliplr, "flipud": flipud, "roll": roll, "tril": tril, "triu": triu,
    "tril_": _tri_(tril, "tril_"), "triu_": _tri_(triu, "triu_"),
}
install_methods(METHODS)
setattr(Tensor, "T", property(_T))
setattr(Tensor, "mT", property(_mT))
