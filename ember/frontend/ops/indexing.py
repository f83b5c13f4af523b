"""Public ops: indexing family (`x[...]`, `x[...] = v`, gather/scatter, index_*, masked_*,
take, put, nonzero).

Indexing follows PyTorch: ints, slices and None form a *view* (the "slice" and "reshape"
primitives; one NumPy basic-indexing call when no autograd is involved), then integer and
bool tensors index the view's dims (the "index"/"index_put" primitives, bool masks through
nonzero). Unlike NumPy, ints never take part in advanced indexing, so `x[0, :, [0, 1]]`
has shape (4, 2) for x of shape (3, 4, 5), as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as D
from ...ir.ops import broadcast_shapes, index_result_shape, normalize_dim
from ...runtime.autograd import STATE
from ..dispatch import dispatch, dispatch_view, record_view_chain
from ..tensor import Tensor, _wrap, constant, install_methods, opaque, wrap_view
from .inplace import check_inplace, inplace

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "index_put", "masked_fill", "masked_scatter",
           "masked_select", "take", "take_along_dim", "put", "nonzero", "argwhere"]

_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)
_int64 = np.dtype(np.int64)


def dispatch_indexed(op, x, *rest, **attrs):
    """dispatch for index/index_put, keeping the index operands for the VJP rule."""
    res = dispatch(op, x, *rest, **attrs)
    node = res._grad_fn
    if node is not None and node.name == op:
        node.ctx.attrs["_indices"] = rest if op == "index" else rest[1:]
    return res


def _needs_grad(*ts):
    # while tracing, the recorded (differentiable) paths replace the NumPy fast paths
    return (STATE.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in ts)) or \
        STATE.tracer is not None


def _traced_key(key):
    """A key for tracing: bool masks become the integer index tensors of their nonzero
    positions through recorded ops (so x[mask] follows the mask's values), other integer
    tensors become int64; a 0-d tensor used as an int or a bool is a data-dependent value."""
    if type(key) is not tuple:
        key = (key,)
    out = []
    for k in key:
        if isinstance(k, Tensor):
            a = k._data
            if a.ndim == 0 and (a.dtype.kind in "b" or a.dtype.itemsize == 1 or
                                a.dtype.kind in "iu"):
                STATE.tracer.concretize(k, "use as an index")
            elif a.dtype.kind == "b" or a.dtype == np.uint8:
                nz = dispatch("nonzero", k if a.dtype.kind == "b" else k.bool())
                out.extend(nz.select(1, i) for i in range(a.ndim))
                continue
            elif a.dtype.kind in "iu" and a.dtype != _int64:
                k = k.long()
        out.append(k)
    return tuple(out)


# ------------------------------------------------------------------ parsing an index

class _Index:
    """A parsed index: the basic part as NumPy key and as view primitives, then the
    advanced index arrays with the view dims they index."""
    __slots__ = ("basic", "starts", "stops", "steps", "sliced", "view_shape", "reshaped",
                 "adv", "positions")


def _as_index_array(k):
    if isinstance(k, Tensor):
        a = k._data
    else:
        a = np.asarray(k)
        if a.size == 0 and a.dtype.kind == "f":
            a = a.astype(np.int64)
    kind = a.dtype.kind
    if kind == "u" and a.dtype.itemsize == 1:
        return a.astype(bool)  # uint8 index tensors are masks, as in PyTorch
    if kind not in "biu":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return a


def _canonical(k):
    """int / slice / None / Ellipsis / ndarray (bool mask or integer index)."""
    t = type(k)
    if t is int or t is slice or k is None or k is Ellipsis:
        return k
    if t is bool or t is np.bool_:
        return np.asarray(bool(k))
    if isinstance(k, Tensor):
        if k._data.ndim == 0 and k._data.dtype.kind in "iu" and k._data.dtype.itemsize > 1:
            return int(k._data)  # a 0-d integer tensor selects like an int (a view)
        return _as_index_array(k)
    if isinstance(k, np.integer):
        return int(k)
    if isinstance(k, (list, tuple, np.ndarray)):
        return _as_index_array(k)
    if hasattr(k, "__index__"):
        return k.__index__()
    raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(k).__name__})")


def _consumed(k):
    if k is None or k is Ellipsis:
        return 0
    if type(k) is np.ndarray and k.dtype.kind == "b":
        return k.ndim
    return 1


def _parse(x, key):
    if type(key) is not tuple:
        key = (key,)
    key = [_canonical(k) for k in key]
    shape = x._data.shape
    ndim = len(shape)
    used = sum(_consumed(k) for k in key)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    p = _Index()
    basic, view_shape, adv, positions = [], [], [], []
    starts, stops, steps = [0] * ndim, list(shape), [1] * ndim
    sliced = reshaped = False
    d = 0
    for k in key:
        t = type(k)
        if t is int:
            n = shape[d]
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for dimension {d} with size {n}")
            k %= n
            basic.append(k)
            starts[d], stops[d] = k, k + 1
            sliced = reshaped = True
            d += 1
        elif t is slice:
            n = shape[d]
            a, b, s = k.indices(n)
            if s <= 0:
                raise ValueError("step must be greater than zero")
            b = max(a, b)
            basic.append(k)
            if a or b != n or s != 1:
                starts[d], stops[d], steps[d] = a, b, s
                sliced = True
            view_shape.append((b - a + s - 1) // s)
            d += 1
        elif k is None:
            basic.append(None)
            view_shape.append(1)
            reshaped = True
        elif k is Ellipsis:
            # as in PyTorch, only the first ellipsis expands; later ones stand for no dims
            n = ndim - used
            used = ndim
            basic.extend([slice(None)] * n)
            view_shape.extend(shape[d:d + n])
            d += n
        elif k.dtype.kind == "b":
            m = k.ndim
            if m == 0:  # a bool scalar adds a dim of size 1, kept (True) or emptied (False)
                basic.append(None)
                positions.append(len(view_shape))
                view_shape.append(1)
                adv.append(np.zeros(1 if k else 0, np.int64))
                reshaped = True
                continue
            if k.shape != shape[d:d + m]:
                raise IndexError(f"The shape of the mask {list(k.shape)} at index {d} does not match "
                                 f"the shape of the indexed tensor {list(shape)} at index {d}")
            for i, nz in enumerate(np.nonzero(k)):
                basic.append(slice(None))
                positions.append(len(view_shape))
                view_shape.append(shape[d + i])
                adv.append(nz)
            d += m
        else:
            basic.append(slice(None))
            positions.append(len(view_shape))
            view_shape.append(shape[d])
            adv.append(k)
            d += 1
    view_shape.extend(shape[d:])
    p.basic, p.view_shape, p.adv, p.positions = tuple(basic), tuple(view_shape), adv, tuple(positions)
    p.starts, p.stops, p.steps, p.sliced, p.reshaped = starts, stops, steps, sliced, reshaped
    return p


def _chain(p):
    chain = ()
    if p.sliced:
        chain = (("slice", {"starts": tuple(p.starts), "stops": tuple(p.stops),
                            "steps": tuple(p.steps)}),)
    if p.reshaped:
        chain += (("reshape", {"shape": p.view_shape}),)
    return chain


def _index_error(e):
    return IndexError(str(e).replace("axis", "dimension").replace("arrays", "tensors"))


def _index_tensors(p):
    # (under tracing, index tensors computed from the inputs are int64 already, so these
    # wrap their arrays; anything else came from constant data)
    return [constant(_wrap(a if a.dtype == _int64 else a.astype(np.int64))) for a in p.adv]


def _full_key(p):
    key = [slice(None)] * len(p.view_shape)
    for pos, a in zip(p.positions, p.adv):
        key[pos] = a
    return tuple(key)


def _basic_view(x, p):
    """The view selected by the basic part of the index (x itself when it selects all)."""
    if not (p.sliced or p.reshaped):
        return x
    chain = _chain(p)
    v = wrap_view(x, _basic_arr(x._data, p), chain)
    if _needs_grad(x):
        record_view_chain(x, v, chain)
    return v


def _basic_arr(arr, p):
    # the trailing Ellipsis keeps NumPy from returning a scalar when every dim gets an int
    return arr[p.basic + (Ellipsis,)]


def _getitem(self, key):
    if type(key) is int:
        return _select0(self, key)
    if type(key) is Tensor and key._data.dtype == _int64 and self._data.ndim:
        # x[long_tensor]: one advanced index on dim 0, no parsing needed
        return dispatch_indexed("index", self, key, positions=(0,))
    if STATE.tracer is not None:
        key = _traced_key(key)
    elif not (STATE.enabled and self._requires_grad):
        if type(key) is tuple:
            v = _slices_view(self, key)
            if v is not None:
                return v
    p = _parse(self, key)
    v = _basic_view(self, p)
    if not p.adv:
        return v
    if _needs_grad(v):
        try:
            broadcast_shapes(*(a.shape for a in p.adv), op="index")
        except RuntimeError:
            _raise_shape_mismatch(p)
        return dispatch_indexed("index", v, *_index_tensors(p), positions=p.positions)
    try:
        return _wrap(v._data[_full_key(p)])
    except IndexError as e:
        raise _index_error(e) from None


def _slices_view(x, key):
    """x[a:b, c:d, ...] (unit-step slices only) without autograd: the common slicing case,
    kept short; None when the key holds anything else."""
    shape = x._data.shape
    if len(key) > len(shape):
        return None
    starts, stops = [], []
    for k, n in zip(key, shape):
        if type(k) is not slice or k.step not in (None, 1):
            return None
        a, b, _ = k.indices(n)
        starts.append(a)
        stops.append(max(a, b))
    rest = shape[len(key):]
    starts += [0] * len(rest)
    stops += rest
    chain = (("slice", {"starts": tuple(starts), "stops": tuple(stops),
                        "steps": (1,) * len(shape)}),)
    return wrap_view(x, x._data[key], chain)


def _select0(x, i):
    """x[i] for an int i: the most common index, kept short."""
    arr = x._data
    if not arr.ndim:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    n = arr.shape[0]
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for dimension 0 with size {n}")
    i %= n
    shape = arr.shape
    chain = (("slice", {"starts": (i,) + (0,) * (len(shape) - 1), "stops": (i + 1,) + shape[1:],
                        "steps": (1,) * len(shape)}), ("reshape", {"shape": shape[1:]}))
    v = wrap_view(x, arr[i, ...], chain)
    if STATE.enabled and x._requires_grad:
        record_view_chain(x, v, chain)
    return v


def _raise_shape_mismatch(p):
    raise IndexError("shape mismatch: indexing tensors could not be broadcast together with "
                     "shapes " + ", ".join(str(list(a.shape)) for a in p.adv))


def _result_shape(p):
    if not p.adv:
        return p.view_shape
    try:
        return index_result_shape(p.view_shape, [a.shape for a in p.adv], p.positions)
    except RuntimeError:
        _raise_shape_mismatch(p)


def _value_tensor(value, dt, target_shape):
    """The value to write, as a Tensor of dtype dt broadcastable to target_shape."""
    if not isinstance(value, Tensor):
        if isinstance(value, _SCALARS):
            return constant(_wrap(np.asarray(value).astype(dt.np)))
        from .creation import tensor
        value = tensor(value)
    if value._data.dtype != dt.np:
        value = value.to(dt)
    vs = value._data.shape
    if len(vs) > len(target_shape):  # PyTorch drops leading unit dims of the value
        lead = len(vs) - len(target_shape)
        if any(d != 1 for d in vs[:lead]):
            _raise_value_shape(vs, target_shape)
        value = value.reshape(vs[lead:])
    try:
        if broadcast_shapes(value._data.shape, target_shape) != tuple(target_shape):
            _raise_value_shape(vs, target_shape)
    except RuntimeError:
        _raise_value_shape(vs, target_shape)
    return value


def _raise_value_shape(vs, target):
    raise RuntimeError(f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to "
                       f"indexing result of shape {list(target)}")


def _put_fast(self, p, value, accumulate):
    check_inplace(self, "index_put_")
    arr = _basic_arr(self._data, p) if (p.sliced or p.reshaped) else self._data
    if accumulate or not isinstance(value, (Tensor,) + _SCALARS):
        val = _value_tensor(value, self.dtype, _result_shape(p))._data
    else:
        val = value._data if isinstance(value, Tensor) else value
    try:
        if p.adv:
            key = _full_key(p)
            if accumulate:
                np.add.at(arr, key, np.asarray(val).astype(arr.dtype, copy=False))
            else:
                arr[key] = val
        elif accumulate:
            arr += np.asarray(val).astype(arr.dtype, copy=False)
        else:
            np.copyto(arr, val, casting="unsafe")
    except IndexError as e:
        raise _index_error(e) from None
    except ValueError:
        _raise_value_shape(np.shape(val), _result_shape(p))
    self._version[0] += 1


def _put_autograd(self, p, value, accumulate):
    target = _result_shape(p)
    val = _value_tensor(value, self.dtype, target)
    v = _basic_view(self, p)
    if p.adv:
        new = dispatch_indexed("index_put", v, val, *_index_tensors(p), positions=p.positions,
                               accumulate=bool(accumulate))
        inplace(v, new, "index_put_")
    else:
        if v is self:
            # write through a view so self keeps (zero) gradient edges to its past, as in PyTorch
            v = dispatch_view("reshape", self, shape=self._data.shape)
        inplace(v, v + val if accumulate else val, "copy_")
    if v is not self and self._base is not None:
        _refresh_view(self)


def _refresh_view(view):
    """After a write through a sub-view rebased the base's history, `view` (a view of the
    same base) must read its gradient from the new history too."""
    chain = getattr(view, "_view_chain", None)
    if chain is None or not view._base._requires_grad:
        return
    from .inplace import apply_view_chain
    fresh = apply_view_chain(view._base, chain)
    view._grad_fn, view._out_idx, view._requires_grad = fresh._grad_fn, fresh._out_idx, True


def _setitem(self, key, value, accumulate=False):
    if STATE.tracer is not None:
        if (not accumulate and isinstance(key, Tensor) and key._data.dtype == np.bool_
                and key._data.shape == self._data.shape
                and (isinstance(value, _SCALARS) or isinstance(value, Tensor)
                     and value._data.ndim == 0)):
            # x[mask] = v is a masked fill: traced without a data-dependent shape
            inplace(self, masked_fill(self, key, value), "index_put_")
            return
        key = _traced_key(key)
    p = _parse(self, key)
    if _needs_grad(self, value):
        _put_autograd(self, p, value, accumulate)
    else:
        _put_fast(self, p, value, accumulate)


def _setitem_method(self, key, value):
    _setitem(self, key, value)


# ------------------------------------------------------------------ checks shared by the ops

def _dim(dim, x, op):
    return normalize_dim(dim, x._data.ndim, op)


def _require_long(op, index, allow_int=False):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    dt = index._data.dtype
    if dt == _int64 or (allow_int and dt == np.int32):
        return
    want = "int32 or int64" if allow_int else "int64"
    raise RuntimeError(f"{op}(): Expected dtype {want} for index")


def _same_dtype(op, x, src, what="src"):
    if src._data.dtype != x._data.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to {what}.dtype (got "
                           f"{x.dtype} and {src.dtype})")


def _gather_shapes(op, x, index, dim):
    if index._data.ndim != x._data.ndim and not (index._data.ndim <= 1 and x._data.ndim <= 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as input "
                           f"tensor (input {list(x.shape)}, index {list(index.shape)})")
    for d, (i, s) in enumerate(zip(index._data.shape, x._data.shape)):
        if d != dim and i > s:
            raise RuntimeError(f"{op}(): Size does not match at dimension {d} expected index "
                               f"{list(index.shape)} to be no larger than self {list(x.shape)} "
                               f"apart from dimension {dim}")


def _scatter_shapes(op, x, index, src, dim):
    _gather_shapes(op, x, index, dim)
    if isinstance(src, Tensor):
        if src._data.ndim != index._data.ndim and index._data.ndim:
            raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                               f"src tensor (index {list(index.shape)}, src {list(src.shape)})")
        for d, (i, s) in enumerate(zip(index._data.shape, src._data.shape)):
            if i > s:
                raise RuntimeError(f"{op}(): Expected index {list(index.shape)} to be smaller than "
                                   f"self {list(x.shape)} apart from dimension {dim} and to be "
                                   f"smaller size than src {list(src.shape)}")


# ------------------------------------------------------------------ gather / scatter

def gather(input, dim, index, *, sparse_grad=False, out=None):
    dim = _dim(dim, input, "gather")
    _require_long("gather", index, allow_int=True)
    _gather_shapes("gather", input, index, dim)
    if input._data.ndim == 0 or index._data.ndim == 0:
        return _scalar_shaped(gather(input.reshape(-1), 0, index.reshape(-1)), index)
    return _out(dispatch("gather", input, index, dim=dim), out)


def _scalar_shaped(r, index):
    return r.reshape(index.shape) if tuple(r.shape) != tuple(index.shape) else r


_REDUCE = {"sum": "add", "prod": "multiply", "mean": "mean", "amax": "amax", "amin": "amin",
           "max": "amax", "min": "amin"}
_SCATTER_REDUCE = {None: None, "add": "add", "multiply": "multiply"}


def _scatter(op, input, dim, index, src, reduce, include_self=True):
    dim = _dim(dim, input, op)
    _require_long(op, index, allow_int=True)
    if isinstance(src, Tensor):
        _same_dtype(op, input, src)
    else:
        src = input._data.dtype.type(src)
    _scatter_shapes(op, input, index, src, dim)
    attrs = {"dim": dim}
    if reduce is not None:
        attrs["reduce"] = reduce
    if not include_self:
        attrs["include_self"] = False
    if input._data.ndim == 0:
        # one-element vectors stand in for 0-d operands
        s = src.reshape(-1) if isinstance(src, Tensor) else src
        return dispatch("scatter", input.reshape(-1), index.reshape(-1), s, **attrs).reshape(())
    return dispatch("scatter", input, index, src, **attrs)


def scatter(input, dim, index, src=None, value=None, *, reduce=None, out=None):
    if src is None:
        if value is None:
            raise TypeError("scatter() missing required argument 'src' or 'value'")
        src = value
    if reduce not in _SCATTER_REDUCE:
        raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce}")
    return _out(_scatter("scatter", input, dim, index, src, _SCATTER_REDUCE[reduce]), out)


def scatter_add(input, dim, index, src, *, out=None):
    return _out(_scatter("scatter_add", input, dim, index, src, "add"), out)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True, out=None):
    if reduce not in _REDUCE:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    return _out(_scatter("scatter_reduce", input, dim, index, src, _REDUCE[reduce],
                         include_self), out)


def _self_for_inplace(self, *others):
    # the scatter VJP saves its self operand; an in-place op must not save the tensor it
    # is about to overwrite
    return self.clone() if _needs_grad(self, *others) else self


def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    return inplace(self, scatter(_self_for_inplace(self, src), dim, index, src, value,
                                 reduce=reduce), "scatter_")


def scatter_add_(self, dim, index, src):
    return inplace(self, scatter_add(_self_for_inplace(self, src), dim, index, src),
                   "scatter_add_")


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return inplace(self, scatter_reduce(_self_for_inplace(self, src), dim, index, src, reduce,
                                        include_self=include_self), "scatter_reduce_")


# ------------------------------------------------------------------ index_* along one dim

def index_select(input, dim, index, *, out=None):
    dim = _dim(dim, input, "index_select")
    _require_long("index_select", index, allow_int=True)
    if index._data.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if input._data.ndim == 0:
        return _out(dispatch("index_select", input, index, dim=0), out)
    if index._data.ndim != 1:
        index = index.reshape(-1)
    return _out(dispatch("index_select", input, index, dim=dim), out)


def _along_dim(op, input, dim, index, source, accumulate):
    """input with source written (or added) at `index` along `dim` (index_put underneath)."""
    dim = _dim(dim, input, op)
    _require_long(op, index, allow_int=True)
    if index._data.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    index = index.reshape(-1)
    if input._data.ndim == 0:
        r = _along_dim(op, input.reshape(1), 0, index, _reshape_any(source, (-1,)), accumulate)
        return r.reshape(())
    if isinstance(source, Tensor) and source._data.ndim:
        want = list(input.shape)
        want[dim] = index._data.shape[0]
        if list(source.shape) != want:
            raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, "
                               f"excluding the specified dimension. Got self.shape = "
                               f"{list(input.shape)} source.shape = {list(source.shape)}")
    n = input._data.shape[dim]
    idx = index._data
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.min() if idx.min() < -n else idx.max())
        raise IndexError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {n}")
    if index._data.dtype != _int64:
        index = index.to(D.int64)
    if not isinstance(source, Tensor):
        source = constant(_wrap(np.asarray(source).astype(input._data.dtype)))
    elif source._data.dtype != input._data.dtype:
        source = source.to(input.dtype)
    return dispatch_indexed("index_put", input, source, index, positions=(dim,),
                            accumulate=accumulate)


def _reshape_any(v, shape):
    return v.reshape(shape) if isinstance(v, Tensor) else v


def index_add(input, dim, index, source, *, alpha=1, out=None):
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_add_(): self ({input.dtype}) and source ({source.dtype}) must "
                           f"have the same scalar type")
    if alpha != 1:
        source = source * alpha
    return _out(_along_dim("index_add", input, dim, index, source, True), out)


def index_copy(input, dim, index, source, *, out=None):
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"index_copy_(): self ({input.dtype}) and source ({source.dtype}) must "
                           f"have the same scalar type")
    return _out(_along_dim("index_copy", input, dim, index, source, False), out)


def index_fill(input, dim, index, value):
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value._data.ndim} dimension(s).")
    return _along_dim("index_fill", input, dim, index, value, False)


def _inplace_of(fn, name):
    def m(self, *args, **kwargs):
        return inplace(self, fn(self, *args, **kwargs), name)
    m.__name__ = name
    return m


# ------------------------------------------------------------------ index_put / put / take

def index_put(input, indices, values, accumulate=False):
    r = input.clone()
    _setitem(r, _indices_key(indices), values, accumulate)
    return r


def index_put_(self, indices, values, accumulate=False):
    _setitem(self, _indices_key(indices), values, accumulate)
    return self


def _indices_key(indices):
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    return tuple(slice(None) if i is None else i for i in indices)


def _check_flat_bounds(index, n):
    idx = index._data
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.min() if idx.min() < -n else idx.max())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")


def take(input, index):
    if not isinstance(index, Tensor) or index._data.dtype != _int64:
        raise RuntimeError("take(): Expected a long tensor for index")
    _check_flat_bounds(index, input._data.size)
    return input.reshape(-1)[index]


def take_along_dim(input, indices, dim=None, *, out=None):
    if dim is None:
        return _out(gather(input.reshape(-1), 0, indices.reshape(-1)), out)
    if input._data.ndim != indices._data.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of "
                           f"dimensions, but got {input._data.ndim} dimensions for input, and "
                           f"{indices._data.ndim} dimensions for indices")
    dim = _dim(dim, input, "take_along_dim")
    rest = broadcast_shapes(*[tuple(s[:dim] + (1,) + s[dim + 1:])
                              for s in (input._data.shape, indices._data.shape)],
                            op="take_along_dim")
    xs = list(rest)
    xs[dim] = input._data.shape[dim]
    ids = list(rest)
    ids[dim] = indices._data.shape[dim]
    x = input if tuple(xs) == input._data.shape else input.expand(tuple(xs))
    i = indices if tuple(ids) == indices._data.shape else indices.expand(tuple(ids))
    return _out(gather(x, dim, i), out)


def put(input, index, source, accumulate=False):
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"put_(): self ({input.dtype}) and source ({source.dtype}) must have "
                           f"the same scalar type")
    if not isinstance(index, Tensor) or index._data.dtype != _int64:
        raise RuntimeError("put_(): Expected a long tensor for index")
    if index._data.size != source._data.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source._data.size}, "
                           f"index.numel() = {index._data.size}")
    _check_flat_bounds(index, input._data.size)
    flat = index_put(input.reshape(-1), (index.reshape(-1),), source.reshape(-1), accumulate)
    return flat.reshape(input.shape)


# ------------------------------------------------------------------ masks

def _check_mask(op, mask):
    if not isinstance(mask, Tensor):
        raise TypeError(f"{op}(): argument 'mask' must be Tensor, not {type(mask).__name__}")
    if mask._data.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{mask.dtype}")


def masked_fill(input, mask, value):
    _check_mask("masked_fill_", mask)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        if not _needs_grad(input, value):
            value = value._data.reshape(()).astype(input._data.dtype)[()]
    if not _needs_grad(input, value):
        return _wrap(np.where(mask._data, input._data.dtype.type(value), input._data))
    if isinstance(value, Tensor):
        v = value if value._data.dtype == input._data.dtype else value.to(input.dtype)
    else:
        v = input._data.dtype.type(value)
    return dispatch("where", mask, v, input)


def masked_select(input, mask):
    _check_mask("masked_select:", mask)
    shape = broadcast_shapes(input._data.shape, mask._data.shape, op="masked_select")
    if not _needs_grad(input):
        x, m = np.broadcast_arrays(input._data, mask._data)
        return _wrap(x[m])
    x = input if tuple(input.shape) == shape else input.expand(shape)
    m = mask if tuple(mask.shape) == shape else mask.expand(shape)
    return x[m]


def masked_scatter(input, mask, source):
    _check_mask("masked_scatter_", mask)
    if source._data.dtype != input._data.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but got "
                           f"{input.dtype} and {source.dtype}")
    shape = broadcast_shapes(input._data.shape, mask._data.shape, op="masked_scatter")
    x = input if tuple(input.shape) == shape else input.expand(shape)
    opaque("masked_scatter", [mask], [])  # how much of source is used depends on the mask
    m = np.broadcast_to(mask._data, shape)
    count = int(np.count_nonzero(m))
    if count > source._data.size:
        raise RuntimeError(f"masked_scatter: expected source to have at least {count} elements "
                           f"(the number of ones in mask), got {source._data.size}")
    vals = source.reshape(-1)[:count]
    return index_put(x, (constant(_wrap(m)),), vals)


# ------------------------------------------------------------------ nonzero

def nonzero(input, *, out=None, as_tuple=False):
    if as_tuple:
        x = input if input._data.ndim else input.reshape(1)
        r = dispatch("nonzero", x)
        if STATE.tracer is not None:
            return tuple(r.select(1, i).contiguous() for i in range(r._data.shape[1]))
        r = r._data
        return tuple(_wrap(np.ascontiguousarray(r[:, i])) for i in range(r.shape[1]))
    return _out(dispatch("nonzero", input), out)


def argwhere(input):
    return dispatch("nonzero", input)


def _out(res, out):
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a Tensor, got {type(out).__name__}")
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, out._data.dtype)
    return inplace(out, res, "out=")


METHODS = {
    "__getitem__": _getitem, "__setitem__": _setitem_method,
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce, "scatter_": scatter_, "scatter_add_": scatter_add_,
    "scatter_reduce_": scatter_reduce_, "index_select": index_select, "index_add": index_add,
    "index_copy": index_copy, "index_fill": index_fill, "index_put": index_put,
    "index_put_": index_put_, "masked_fill": masked_fill, "masked_scatter": masked_scatter,
    "masked_select": masked_select, "take": take, "take_along_dim": take_along_dim, "put": put,
    "nonzero": nonzero, "argwhere": argwhere,
}
for _name in ("index_add", "index_copy", "index_fill", "masked_fill", "masked_scatter", "put"):
    METHODS[_name + "_"] = _inplace_of(METHODS[_name], _name + "_")
install_methods(METHODS)
