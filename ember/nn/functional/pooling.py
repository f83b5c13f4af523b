"""Pooling: max/avg/lp pooling (1-3 d), adaptive avg/max pooling, max unpooling.

All composites of public ops, so gradients come from the ops used:
- max/avg/lp: pad (with -inf for max), a window view (a reshape when the windows tile the
  input, stride == kernel; else `Tensor.unfold` per spatial dim, whose gradient folds
  windows back with a few pads), then a reduction over the windows.
  Max's gradient goes to the first maximum of each window alone, as PyTorch's (amax would
  split ties): its meaning is a `where` selection over the windows. Eagerly it runs as a
  fused op over one strided view of the padded input per kernel offset (a running maximum,
  then the offset of the first maximum, which the backward scatters the gradient by), so no
  window tensor is ever copied (see _fused.py); indices are flat positions in each input
  plane, as PyTorch's.
- adaptive avg: a mean over equal windows when the sizes divide, else one matmul per dim
  with the averaging matrix (windows [floor(i*n/o), ceil((i+1)*n/o)) overlap and differ).
- adaptive max: window starts gathered per dim with index_select (short windows repeat
  their last element, which cannot change a max), then the same first-maximum selection.
- max_unpool: scatter into zeros.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

import ember

from ember.jit import is_tracing

from ._fused import fused

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
           "avg_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
           "adaptive_max_pool2d", "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices",
           "max_unpool1d", "max_unpool2d", "max_unpool3d"]

_TYPE_NAME = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
              "uint8": "Byte", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16",
              "float32": "Float", "float64": "Double"}
_COUNT = {1: "a tuple of one int", 2: "a tuple of two ints", 3: "a tuple of three ints"}


# ------------------------------------------------------------------ argument handling

def _seq(v, n, op, what, allow_empty=False):
    """An int or a sequence of 1 or n ints, as a tuple of n ints."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return (int(v),) * n
    v = tuple(int(e) for e in v)
    if allow_empty and not v:
        return None
    if len(v) == 1:
        return v * n
    if len(v) != n:
        omitted = "be omitted, " if allow_empty else ""
        raise RuntimeError(f"{op}: {what} must either {omitted}be a single int, or {_COUNT[n]}")
    return v


def _tname(x):
    return _TYPE_NAME[str(x.dtype).split(".")[-1]]


def _out_len(n, k, p, s, d, ceil_mode):
    """PyTorch's pooling_output_shape: the last window must start inside input + left pad."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _batched(x, n):
    """(x with a batch dim, whether one was added)."""
    return (x, False) if x.dim() == n + 2 else (x.unsqueeze(0), True)


def _check_pool_args(op, n, k, s, p, d):
    for st in s:
        if st == 0:
            raise RuntimeError("stride should not be zero")
    for kk, pp, dd in zip(k, p, d):
        if pp < 0:
            raise RuntimeError(f"pad must be non-negative, but got pad: {pp}")
        if pp > ((kk - 1) * dd + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")


def _check_shape(x, n, k, p, out):
    """pool{n}d_shape_check: non-empty planes, pad <= k/2, positive output size."""
    shape = list(x.shape)
    if any(e == 0 for e in shape[1:]):
        raise RuntimeError(f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{shape}")
    if any(pp > kk // 2 for kk, pp in zip(k, p)):
        names = ("T", "H", "W")[3 - n:] if n > 1 else ("W",)
        pads = ", ".join(f"pad{a} = {v}" for a, v in zip(names[::-1], p[::-1]))
        ks = ", ".join(f"k{a} = {v}" for a, v in zip(names[::-1], k[::-1]))
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but "
                           f"got {pads}, {ks}")
    if any(o < 1 for o in out):
        ins, outs = [shape[1]] + shape[2:], [shape[1]] + list(out)
        if n == 1:   # 1-d pooling runs as 2-d with height 1 in PyTorch
            ins, outs = ins[:1] + [1] + ins[1:], outs[:1] + [1] + outs[1:]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, ins))}). Calculated output "
                           f"size: ({'x'.join(map(str, outs))}). Output size is too small")


def _prepare(op, n, input, kernel_size, stride, padding, dilation, ceil_mode):
    """Normalized (x batched, unbatched?, k, s, p, d, output sizes)."""
    k = _seq(kernel_size, n, op, "kernel_size")
    s = _seq(stride, n, op, "stride", allow_empty=True) if stride is not None else None
    s = k if s is None else s
    p = _seq(padding, n, op, "padding")
    d = _seq(dilation, n, op, "dilation")
    if input.dim() not in (n + 1, n + 2):
        raise RuntimeError(f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for "
                           f"input")
    _check_pool_args(op, n, k, s, p, d)
    for what, vals in (("kernel size", k), ("dilation", d)):
        if any(v <= 0 for v in vals):
            pre = "k" if what == "kernel size" else "dilation"
            names = [pre + a for a in ("T", "H", "W")[3 - max(n, 2):]]
            vals = ((1,) + vals) if n == 1 else vals   # 1-d runs as 2-d with height 1
            raise RuntimeError(f"{what} should be greater than zero, but got " +
                               " ".join(f"{a}: {v}" for a, v in zip(names, vals)))
    x, unbatched = _batched(input, n)
    out = [_out_len(nn_, kk, pp, ss, dd, ceil_mode) for nn_, kk, pp, ss, dd in zip(
        x.shape[2:], k, p, s, d)]
    _check_shape(x, n, k, p, out)
    return x, unbatched, k, s, p, d, out


def _pad_windows(x, k, s, p, d, out, fill):
    """x padded by p, and on the high side by what ceil mode's last window needs, with
    `fill`."""
    pads = []
    for size, kk, ss, pp, dd, o in zip(x.shape[2:], k, s, p, d, out):
        need = (o - 1) * ss + (kk - 1) * dd + 1
        pads.append((pp, max(pp, need - size - pp)))
    if any(lo or hi for lo, hi in pads):
        flat = [v for lo_hi in reversed(pads) for v in lo_hi]
        x = ember.constant_pad_nd(x, flat, fill)
    return x


def _windows(x, k, s, p, d, out, fill):
    """View (N, C, *out, *k) of x padded by p (and on the high side by what ceil mode's
    last window needs) with `fill`."""
    n = len(k)
    x = _pad_windows(x, k, s, p, d, out, fill)
    if tuple(s) == tuple(k) and all(dd == 1 for dd in d):
        return _tiles(x, k, out)
    for i, (kk, ss, dd) in enumerate(zip(k, s, d)):
        x = x.unfold(2 + i, (kk - 1) * dd + 1, ss)
    if any(dd > 1 for dd in d):
        x = x[(Ellipsis,) + tuple(slice(None, None, dd) for dd in d)]
    # drop windows past `out` (unfold counts every window that fits the padded input)
    if tuple(x.shape[2:2 + n]) != tuple(out):
        x = x[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]
    return x


def _tiles(x, k, out):
    """Non-overlapping windows (stride == kernel): a crop, a reshape and a permute, whose
    gradients are a pad and one copy (cheaper than folding unfold's windows back)."""
    n = len(k)
    if any(size != o * kk for size, o, kk in zip(x.shape[2:], out, k)):
        x = x[(slice(None), slice(None)) + tuple(slice(0, o * kk) for o, kk in zip(out, k))]
    x = x.reshape(tuple(x.shape[:2]) + tuple(v for o, kk in zip(out, k) for v in (o, kk)))
    return x.permute(0, 1, *range(2, 2 + 2 * n, 2), *range(3, 3 + 2 * n, 2))


def _lowest(x):
    if x.dtype.is_floating_point:
        return -math.inf
    return int(np.iinfo(str(x.dtype).split(".")[-1]).min)


def _only_first(hit, order):
    """hit with every element cleared but the first true one per window, scanning the window
    offsets (dim 0) in `order`."""
    picked, taken = {}, None
    for j in order:   # a loop over window offsets, each step one slab
        picked[j] = hit[j] if taken is None else hit[j] & ~taken
        taken = hit[j] if taken is None else taken | hit[j]
    return ember.stack([picked[j] for j in range(hit.shape[0])]), taken


def _first_max(flat):
    """Mask of the winner of each window along dim 0, as PyTorch's kernels pick it: they
    scan a window in order and replace the running maximum by a larger value or by any NaN,
    so the first of equal maxima wins, and in a window with NaNs the last NaN."""
    k = flat.shape[0]
    mask, _ = _only_first(flat == flat.amax(0), range(k))
    if flat.dtype.is_floating_point:
        last_nan, has_nan = _only_first(flat.isnan(), range(k - 1, -1, -1))
        mask = ember.where(has_nan, last_nan, mask)
    return mask


def _select_composite(flat):
    """The meaning: the first maximum of each window, picked with `where`."""
    with ember.no_grad():
        first = _first_max(flat)
    values = ember.where(first, flat, ember.zeros((), dtype=flat.dtype)).sum(0)
    return values.to(flat.dtype) if values.dtype != flat.dtype else values   # ints widen


def _select_forward(flat):
    with ember.no_grad():
        return flat.amax(0), (_first_max(flat),)


def _select_backward(g, saved, needs):
    flat, first = saved
    # one element per window receives g (a product with the constant mask: one cheap pass)
    return ((g.unsqueeze(0) * first).to(flat.dtype),)


_select_max = fused("max_pool_select", _select_forward, _select_backward, _select_composite)


def _window_max(windows, n, need_index):
    """Max over the last n dims of `windows` and, if asked, the flat offset of the max in
    its window. The window offsets are moved to the front so each offset is one contiguous
    slab and every step is elementwise across slabs (NumPy reduces tiny trailing axes
    slowly)."""
    lead = windows.dim() - n
    k = math.prod(windows.shape[lead:])
    order = tuple(range(lead, lead + n)) + tuple(range(lead))
    flat = windows.permute(*order).reshape((k,) + tuple(windows.shape[:lead]))
    values = _select_max(flat)
    if not need_index:
        return values, None
    with ember.no_grad():
        offsets = ember.arange(k).reshape((k,) + (1,) * lead)
        return values, (_first_max(flat).long() * offsets).sum(0)


def _unravel(idx, sizes):
    """Per-dim offsets of a flat (row-major) offset into `sizes`."""
    out = []
    for i in range(len(sizes)):
        inner = math.prod(sizes[i + 1:])
        out.append((idx // inner) % sizes[i])
    return out


def _plane_index(positions, sizes):
    """Flat index into the input plane from per-dim positions."""
    flat = None
    for i, pos in enumerate(positions):
        term = pos * math.prod(sizes[i + 1:])
        flat = term if flat is None else flat + term
    return flat


def _broadcast_along(v, i, n):
    """A 1-d int tensor laid along output dim i of (N, C, *out)."""
    return v.reshape((v.shape[0],) + (1,) * (n - 1 - i))


# ------------------------------------------------------------------ max pooling

def _slab_index(offsets, s, d, out):
    """Index of the strided view holding kernel offset `offsets` of every window."""
    return (slice(None), slice(None)) + tuple(
        slice(o * dd, o * dd + (oo - 1) * ss + 1, ss) for o, ss, dd, oo in zip(offsets, s, d, out))


def _slab_indices(k, s, d, out):
    return [_slab_index(o, s, d, out) for o in itertools.product(*map(range, k))]


def _first_offset(slabs, values):
    """Per window, the kernel offset of its winner, as `_first_max` picks it: a scan from the
    last offset back keeps the earliest maximum, then one forward keeps the latest NaN."""
    # the NaN scan is skipped when there is none (eagerly); a trace keeps it unconditionally
    check_nan = values.dtype.is_floating_point and (
        is_tracing() or bool(values.isnan().any()))
    k = len(slabs)
    small = ember.int8 if k <= 127 else ember.int16 if k <= 32767 else ember.int64
    kidx = ember.full(values.shape, k - 1, dtype=small)
    for j in range(k - 2, -1, -1):
        kidx = ember.where(slabs[j] == values, j, kidx)
    if check_nan:
        for j in range(k):
            kidx = ember.where(slabs[j].isnan(), j, kidx)
    return kidx


def _pool_forward(x, *, k, s, d, out):
    """Eager max pooling straight from strided views of the padded input, one per kernel
    offset: no window copy, and elementwise passes over output-sized slabs only. Which
    offset won is kept for the backward (the output itself is not saved: PyTorch lets it be
    modified in place), and only when x takes a gradient."""
    with ember.no_grad():
        slabs = [x[i] for i in _slab_indices(k, s, d, out)]
        values = slabs[0]
        for slab in slabs[1:]:
            values = ember.maximum(values, slab)   # NaN wins, as in PyTorch
        if len(slabs) == 1:
            values = values.clone()
        return values, ((_first_offset(slabs, values),) if x.requires_grad else ())


def _pool_backward(g, saved, needs, *, k, s, d, out):
    x, kidx = saved
    gx = ember.zeros(x.shape, dtype=x.dtype)
    overlap = any(ss < (kk - 1) * dd + 1 for kk, ss, dd in zip(k, s, d))
    zero = ember.zeros((), dtype=g.dtype)
    for j, index in enumerate(_slab_indices(k, s, d, out)):
        part = ember.where(kidx == j, g, zero)
        if overlap:   # windows share input elements: gradients add up
            gx[index].add_(part)
        else:
            gx[index] = part
    return (gx,)


def _pool_composite(x, *, k, s, d, out):
    """The meaning, for tracing and higher derivatives: windows, then the first maximum."""
    windows = _windows(x, k, s, (0,) * len(k), d, out, _lowest(x))
    return _window_max(windows, len(k), False)[0]


_pool_max = fused("max_pool", _pool_forward, _pool_backward, _pool_composite)


def _max_pool(op, n, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if input.dtype == ember.bool:
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool'")
    x, unbatched, k, s, p, d, out = _prepare(op, n, input, kernel_size, stride, padding,
                                             dilation, ceil_mode)
    xp = _pad_windows(x, k, s, p, d, out, _lowest(x))
    attrs = dict(k=tuple(k), s=tuple(s), d=tuple(d), out=tuple(out))
    values = _pool_max(xp, **attrs)
    if unbatched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    with ember.no_grad():
        slabs = [xp[i] for i in _slab_indices(k, s, d, out)]
        kidx = _first_offset(slabs, values.unsqueeze(0) if unbatched else values).long()
    offsets = _unravel(kidx, k)
    positions = [_broadcast_along(ember.arange(o) * ss - pp, i, n) + off * dd
                 for i, (o, ss, pp, dd, off) in enumerate(zip(out, s, p, d, offsets))]
    indices = _plane_index(positions, tuple(x.shape[2:]))
    return values, indices.squeeze(0) if unbatched else indices


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(input.shape)}")
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# the *_with_indices forms ignore their return_indices argument, as PyTorch's do

def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


# ------------------------------------------------------------------ average pooling

def _divisor(sizes, k, s, p, out, count_include_pad):
    """Per output position: the window size clipped to input + padding (count_include_pad)
    or to the input alone; a product of per-dim counts (a tensor of shape `out`)."""
    total = None
    for i, (n, kk, ss, pp, o) in enumerate(zip(sizes, k, s, p, out)):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, n + pp)
        cnt = end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        cnt = cnt.reshape((o,) + (1,) * (len(out) - 1 - i))
        total = cnt if total is None else total * cnt
    return total


def _avg_pool(op, n, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    if input.dtype == ember.bool:
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool'")
    x, unbatched, k, s, p, d, out = _prepare(op, n, input, kernel_size, stride, padding, 1,
                                             ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    win = _windows(x, k, s, p, d, out, 0)
    total = win.sum(tuple(range(-n, 0)))
    if divisor_override is not None:
        div = divisor_override
    else:
        div = _divisor(tuple(x.shape[2:]), k, s, p, out, count_include_pad)
        if (div == div.flat[0]).all():
            div = int(div.flat[0])
        else:
            div = ember.from_numpy(np.ascontiguousarray(div, dtype=np.int64))
            div = div.to(x.dtype) if x.dtype.is_floating_point else div
    if x.dtype.is_floating_point:
        res = total / div
    else:   # integer average: C++ division truncates toward zero
        res = ember.div(total, div, rounding_mode="trunc").to(x.dtype)
    return res.squeeze(0) if unbatched else res


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for "
                           f"avg_pool1d)")
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ------------------------------------------------------------------ power-average pooling

def _lp_pool(n, input, norm_type, kernel_size, stride, ceil_mode):
    k = _seq(kernel_size, n, f"lp_pool{n}d", "kernel_size")
    pool = (avg_pool1d, avg_pool2d, avg_pool3d)[n - 1]
    out = pool(input.pow(norm_type), kernel_size, stride if stride is not None else None, 0,
               ceil_mode)
    return (ember.sign(out) * ember.relu(ember.abs(out))).mul(math.prod(k)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ------------------------------------------------------------------ adaptive pooling

def _adaptive_sizes(op, n, input, output_size):
    """Output sizes (None keeps the input's size), with PyTorch's checks."""
    if isinstance(output_size, (int, np.integer)):
        sizes = [int(output_size)] * n
    else:
        sizes = list(output_size)
        if len(sizes) == 1 and n > 1:
            sizes = sizes * n
        if len(sizes) != n:
            raise RuntimeError(f"{op}: output_size must be {n}")
        sizes = [input.shape[input.dim() - n + i] if v is None else int(v)
                 for i, v in enumerate(sizes)]
    if input.dim() not in (n + 1, n + 2):
        if n == 1:
            raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.dim()}-dimensional "
                               f"tensor for argument #1 'self' (while checking arguments for "
                               f"{op})")
        sep = ":" if "max" in op else ""
        raise RuntimeError(f"{op}(): Expected {n + 1}D or {n + 2}D tensor, but got{sep} "
                           f"{list(input.shape)}")
    if any(v < 0 for v in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {{{', '.join(map(str, sizes))}}}")
    shape = list(input.shape)
    for i in range(input.dim() - n - 1, input.dim()):   # all but the batch dim
        if shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                                   f"dimensions, but input has sizes {shape} with dimension {i} "
                                   f"being empty")
    if input.dtype == ember.bool or not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"{op}\" not implemented for '{_tname(input)}'")
    return sizes


def _bounds(n, o):
    """Adaptive window [start, end) of every output position."""
    i = np.arange(o)
    return (i * n) // o, ((i + 1) * n + o - 1) // o


def _avg_matrix(n, o, dtype):
    start, end = _bounds(n, o)
    m = np.zeros((n, o))
    for j, (a, b) in enumerate(zip(start, end)):   # o columns, not a loop over pixels
        m[a:b, j] = 1.0 / (b - a)
    return ember.from_numpy(m).to(dtype)


def _adaptive_avg(op, n, input, output_size):
    sizes = _adaptive_sizes(op, n, input, output_size)
    x = input
    nd = x.dim()
    for i, o in enumerate(sizes):
        dim = nd - n + i
        size = x.shape[dim]
        if size == o:
            continue
        if size % o == 0:   # equal windows: a mean over a split dim
            x = x.reshape(tuple(x.shape[:dim]) + (o, size // o) + tuple(x.shape[dim + 1:]))
            x = x.mean(dim + 1)
        else:
            x = (x.movedim(dim, -1) @ _avg_matrix(size, o, x.dtype)).movedim(-1, dim)
    return x if x is not input else input.clone()


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max(op, n, input, output_size, return_indices):
    sizes = _adaptive_sizes(op, n, input, output_size)
    x, unbatched = _batched(input, n)
    in_sizes = tuple(x.shape[2:])
    tables, kmax = [], []
    for i, (size, o) in enumerate(zip(in_sizes, sizes)):
        start, end = _bounds(size, o)
        k = int((end - start).max()) if o else 1
        tab = np.minimum(start[:, None] + np.arange(k), end[:, None] - 1)   # (o, k)
        x = x.index_select(2 + i, ember.from_numpy(np.ascontiguousarray(tab.reshape(-1))))
        tables.append(tab)
        kmax.append(k)
    # (N, C, o1*k1, o2*k2, ...) -> (N, C, o1, o2, ..., k1, k2, ...)
    x = x.reshape((x.shape[0], x.shape[1]) + tuple(v for o, k in zip(sizes, kmax) for v in (o, k)))
    order = [0, 1] + [2 + 2 * i for i in range(n)] + [3 + 2 * i for i in range(n)]
    values, kidx = _window_max(x.permute(order), n, return_indices)
    if unbatched:
        values = values.squeeze(0)
    if not return_indices:
        return values
    offsets = _unravel(kidx, kmax)
    positions = []
    for i, (tab, off) in enumerate(zip(tables, offsets)):
        rows = _broadcast_along(ember.arange(sizes[i]), i, n)
        positions.append(ember.from_numpy(tab)[rows, off])
    indices = _plane_index(positions, in_sizes)
    return values, indices.squeeze(0) if unbatched else indices


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# ------------------------------------------------------------------ max unpooling

def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    n = len(kernel_size)
    default = [(input.shape[input.dim() - n + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d]
               for d in range(n)]
    if output_size is None:
        return default
    output_size = list(output_size)
    if len(output_size) == n + 2:
        output_size = output_size[2:]
    if len(output_size) != n:
        raise ValueError(f"output_size should be a sequence containing {n} or {n + 2} elements, "
                         f"but it has a length of '{len(output_size)}'")
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                             f'{lo} and {hi})')
    return output_size


def _max_unpool(n, input, indices, kernel_size, stride, padding, output_size):
    k = _seq(kernel_size, n, f"max_unpool{n}d", "kernel_size")
    s = _seq(stride if stride is not None else kernel_size, n, f"max_unpool{n}d", "stride")
    p = _seq(padding, n, f"max_unpool{n}d", "padding")
    out = _unpool_output_size(input, k, s, p, output_size)
    if indices.dtype != ember.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    lead = tuple(input.shape[:input.dim() - n])
    plane = math.prod(out)
    flat_idx = indices.reshape(lead + (-1,))
    # a data check, skipped while tracing: the graph's scatter kernel checks its bounds
    if (flat_idx.numel() and not ember.jit.is_tracing()
            and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= plane)):
        raise RuntimeError(f"Found an invalid max index: {int(flat_idx.max())} (output volumes "
                           f"are of size {'x'.join(map(str, out))}")
    zeros = ember.zeros(lead + (plane,), dtype=input.dtype)
    res = zeros.scatter(-1, flat_idx, input.reshape(lead + (-1,)))
    return res.reshape(lead + tuple(out))


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
