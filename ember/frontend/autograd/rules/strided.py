"""VJP rules: strided views (`as_strided`, `unfold`).

`unfold`'s gradient folds the windows back: the window offsets are split into groups of
`step` consecutive ones, whose windows do not overlap, so each group is one pad/reshape
placement and the loop runs ceil(size / step) times (pooling's kernel size), never over
windows. `as_strided`'s gradient works on storage positions, as PyTorch's does: the
output's gradient is summed into the storage elements it views, then read back at the
input's positions (divided among input elements that share a storage element).
"""
import numpy as np

from ._base import VJPRule


def _dispatch(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _indexed(op, *args, **attrs):
    from ...ops.indexing import dispatch_indexed
    return dispatch_indexed(op, *args, **attrs)


def _move_last_after(t, dim):
    """Move t's last dim to position dim + 1."""
    nd = t.ndim
    order = list(range(dim + 1)) + [nd - 1] + list(range(dim + 1, nd - 1))
    return t.permute(order) if order != list(range(nd)) else t


def fold_windows(g, length, dim, size, step):
    """The gradient of x.unfold(dim, size, step) for x with `length` elements along dim:
    g has the window dim at `dim` (n windows) and the window offsets last."""
    n = g.shape[dim]
    rest = tuple(g.shape[:dim]), tuple(g.shape[dim + 1:-1])
    nd = g.ndim - 1
    total = None
    for k0 in range(0, size, step):
        w = min(step, size - k0)
        part = g.narrow(-1, k0, w) if w != size else g
        part = _move_last_after(part, dim)  # (..., n, w, ...)
        if w < step:  # gap between this group's windows: pad each window to `step`
            pads = tuple((0, 0, 0) for _ in range(dim + 1)) + ((0, step - w, 0),) + \
                tuple((0, 0, 0) for _ in range(nd - dim - 1))
            part = _dispatch("pad", part, pads=pads, value=0)
        part = part.reshape(rest[0] + (n * step,) + rest[1])
        hi = length - k0 - n * step  # negative: crops trailing padding only
        pads = tuple((0, 0, 0) for _ in range(dim)) + ((k0, hi, 0),) + \
            tuple((0, 0, 0) for _ in range(nd - dim - 1))
        part = _dispatch("pad", part, pads=pads, value=0)
        total = part if total is None else total + part
    return total


def _unfold(ctx, g):
    shape = tuple(ctx.shapes[0])
    a = ctx.attrs
    if not shape:  # 0-d input: the output is x.reshape(1)[:size]
        return (g.sum().reshape(()) if a["size"] else g.new_zeros(()),)
    if a["size"] == 0:
        from ...ops.creation import zeros
        return (zeros(shape, dtype=g.dtype),)
    return (fold_windows(g, shape[a["dimension"]], a["dimension"], a["size"], a["step"]),)


def positions(shape, strides, offset):
    """Storage position of every element of a strided layout (int64, of that shape)."""
    pos = np.full(tuple(shape), offset, dtype=np.int64)
    for d, (n, s) in enumerate(zip(shape, strides)):
        view = [1] * len(shape)
        view[d] = n
        pos = pos + (np.arange(n, dtype=np.int64) * s).reshape(view)
    return pos


def _as_strided(ctx, g):
    from ...tensor import _wrap, constant   # index tables from the geometry: constants
    from ...ops.creation import zeros
    a = ctx.attrs
    in_shape = tuple(ctx.shapes[0])
    out_pos = positions(a["size"], a["stride"], a["storage_offset"])
    in_pos = positions(in_shape, a["in_stride"], a["in_offset"])
    if in_pos.size == 0:
        return (zeros(in_shape, dtype=g.dtype),)
    lo = min(in_pos.min(), out_pos.min()) if out_pos.size else in_pos.min()
    hi = max(in_pos.max(), out_pos.max()) if out_pos.size else in_pos.max()
    store = zeros((int(hi - lo) + 1,), dtype=g.dtype)
    if out_pos.size:
        idx = constant(_wrap(np.ascontiguousarray((out_pos - lo).reshape(-1))))
        store = _indexed("index_put", store, g.reshape(-1), idx, positions=(0,),
                         accumulate=True)
    flat_in = (in_pos - lo).reshape(-1)
    gin = _indexed("index", store, constant(_wrap(np.ascontiguousarray(flat_in))),
                   positions=(0,))
    counts = np.bincount(flat_in)[flat_in]
    if (counts > 1).any():  # input elements sharing storage split its gradient
        gin = gin / constant(_wrap(counts.astype(g._data.dtype)))
    return (gin.reshape(in_shape),)


RULES = {"unfold": VJPRule(_unfold), "as_strided": VJPRule(_as_strided)}
