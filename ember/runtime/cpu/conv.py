"""CPU kernel: the `conv` primitive (N-d, grouped, strided, padded, input- and kernel-dilated).

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xp[n, g*Cg + c, p*stride + k*rhs_dilation]

where xp is x with (lhs_dilation - 1) zeros inserted between elements and then padded by
(lo, hi) per spatial dim (negative padding crops). Four exact algorithms, each batched BLAS
matmuls with no Python loop over pixels, picked by shape:

- shifted (stride 1, output about as large as the input: forwards, input gradients): im2col
  on the flattened padded input, with outputs computed on the padded grid, so every column
  row is one contiguous run and the copy is a block copy; the few extra outputs per row are
  cropped.
- shifted kernel (undilated kernel larger than the output: weight gradients): the same with
  the kernel zero-extended to the padded grid; taken for finite inputs only.
- gather ("im2col"): a strided window view of xp copied into columns, then W @ columns.
  Strided convolutions and the cases above do not cover.
- scatter ("col2im"): W^T @ x for every kernel offset at the *input* positions, then one
  shifted add per kernel offset. It never touches the zeros of an input dilation, so
  transposed convolutions cost what the forward costs. Needs stride 1.

Images (or channels, for weight gradients) go through in blocks whose columns take a few
megabytes of a per-thread scratch buffer reused across calls: the columns stay in cache and
no call faults fresh pages in.

float16/bfloat16 are computed in float32 and rounded once; integers use exact integer
matmul (as PyTorch computes integer convolutions).
"""
from __future__ import annotations

import itertools
import math
import threading

import ml_dtypes
import numpy as np

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_as_strided = np.lib.stride_tricks.as_strided


def out_size(size, k, stride, lo, hi, lhs_dil, rhs_dil):
    """Output length of one spatial dim (negative when the kernel does not fit)."""
    padded = (size - 1) * lhs_dil + 1 + lo + hi if size else lo + hi
    return (padded - ((k - 1) * rhs_dil + 1)) // stride + 1


def _dilate_pad(x, lhs_dilation, padding, out=None):
    """x with zeros inserted (input dilation) and padded/cropped per spatial dim, written
    into `out` (zeroed here) when given."""
    if out is None and all(d == 1 for d in lhs_dilation) and \
            all(lo == 0 and hi == 0 for lo, hi in padding):
        return x
    src, dst, shape = [slice(None)] * 2, [slice(None)] * 2, list(x.shape[:2])
    for n, d, (lo, hi) in zip(x.shape[2:], lhs_dilation, padding):
        size = ((n - 1) * d + 1 if n else 0) + lo + hi
        shape.append(max(size, 0))
        # element i lands at lo + i*d; keep those inside [0, size)
        i0 = -(lo // d) if lo < 0 else 0
        i1 = min(n - 1, (size - 1 - lo) // d)
        src.append(slice(i0, max(i0, i1 + 1)))
        dst.append(slice(lo + i0 * d, lo + i1 * d + 1, d) if i1 >= i0 else slice(0, 0))
    if out is None:
        out = np.zeros(shape, x.dtype)
    else:
        out = out.reshape(shape)
        out.fill(0)
    if all(s.stop > s.start for s in src[2:]):
        out[tuple(dst)] = x[tuple(src)]
    return out


def _padded_extents(x, lhs_dilation, padding):
    return tuple(max(0, ((n - 1) * d + 1 if n else 0) + lo + hi)
                 for n, d, (lo, hi) in zip(x.shape[2:], lhs_dilation, padding))


_SCRATCH = threading.local()
_CHUNK_BYTES = 4 << 20   # column block per matmul: stays in cache and is reused across calls


_SCRATCH_MAX = 64 << 20  # larger buffers are not kept: a cache must not pin big activations


def _scratch(slot, size, dtype):
    """A reusable flat buffer per thread: convolutions of a training step reuse the same few
    megabytes instead of faulting in fresh pages for every call."""
    nbytes = size * np.dtype(dtype).itemsize
    if nbytes > _SCRATCH_MAX:
        return np.empty(size, dtype)
    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    buf = bufs.get(slot)
    if buf is None or buf.nbytes < nbytes:
        buf = bufs[slot] = np.empty(max(nbytes, 1), np.uint8)
    return buf[:nbytes].view(dtype)


def _shifted_waste(x, w, lhs_dilation, padding, osize):
    """Columns the shifted algorithm computes per useful output (>= 1)."""
    ext = _padded_extents(x, lhs_dilation, padding)
    return math.prod(ext[1:]) / max(1, math.prod(osize[1:]))


def _shifted(x, w, padding, lhs_dilation, rhs_dilation, groups, osize):
    """Stride-1 im2col on the flattened padded input: output position p and kernel offset k
    read xflat[p + off(k)] when p runs over the padded grid (every spatial dim but the first
    at its padded extent). Each column row is then one contiguous run of L elements, so the
    copy is a plain block copy; the extra outputs per row land in columns cropped at the end.
    Images go through in chunks whose columns fit in cache."""
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    G, Og, K, nd = groups, O // groups, w.shape[2:], x.ndim - 2
    ext = _padded_extents(x, lhs_dilation, padding)
    row = [math.prod(ext[i + 1:]) for i in range(nd)]       # flat stride of each spatial dim
    R = math.prod(ext)                                       # one (n, c) plane
    L = osize[0] * row[0]                                    # outputs on the padded grid
    reach = sum((k - 1) * rd * r for k, rd, r in zip(K, rhs_dilation, row))
    tail = max(0, L + reach - R)                             # last plane's windows overrun
    dt = np.result_type(x.dtype, w.dtype)
    flat = _scratch("input", N * C * R + tail, dt)
    _dilate_pad(x, lhs_dilation, padding, out=flat[:N * C * R])
    flat[N * C * R:] = 0
    it = flat.itemsize
    ck = Cg * math.prod(K)
    nb = _chunk(N, ck * L * it)
    cols_buf = _scratch("cols", G * ck * nb * L, dt)
    res_buf = _scratch("result", G * Og * nb * L, dt)
    wm = w.reshape(G, Og, ck)
    out = np.empty((N, O, *osize), dt)
    crop = (slice(None),) * 3 + tuple(slice(0, o) for o in osize[1:])
    # few products per output (a thin input, e.g. one channel): one small product per image
    # keeps the output in (N, O, P) order, where one wide product would need its result
    # transposed, which then costs more than the products
    per_image = G == 1 and ck < 64
    k_strides = tuple(rd * r * it for rd, r in zip(rhs_dilation, row))
    for n0 in range(0, N, nb):
        b = min(nb, N - n0)
        cols = cols_buf[:G * ck * b * L]
        if per_image:
            view = _as_strided(flat[n0 * C * R:], (b, Cg, *K, L),
                               (C * R * it, R * it, *k_strides, it), writeable=False)
            cols = cols.reshape(b, ck, L)
            cols.reshape(b, Cg, *K, L)[...] = view
            res = np.matmul(wm[0], cols, out=res_buf[:b * Og * L].reshape(b, Og, L))
            out[n0:n0 + b] = res.reshape(b, O, osize[0], *ext[1:])[crop]
            continue
        view = _as_strided(flat[n0 * C * R:], (G, Cg, *K, b, L),
                           (Cg * R * it, R * it, *k_strides, C * R * it, it), writeable=False)
        cols = cols.reshape(G, ck, b * L)
        cols.reshape(G, Cg, *K, b, L)[...] = view
        res = np.matmul(wm, cols, out=res_buf[:G * Og * b * L].reshape(G, Og, b * L))
        res = res.reshape(O, b, osize[0], *ext[1:])[crop]
        out[n0:n0 + b] = res.transpose(1, 0, *range(2, nd + 2))
    return out


def _chunk(n, per_item_bytes):
    """Items per block so that a block's columns take about _CHUNK_BYTES."""
    return max(1, min(n, _CHUNK_BYTES // max(1, per_item_bytes)))


def _gather(x, w, stride, padding, lhs_dilation, rhs_dilation, groups, osize):
    """im2col: columns from a strided window view of the padded input, then one matmul per
    block of images (the columns of a block go to a reused scratch buffer)."""
    dt = np.result_type(x.dtype, w.dtype)
    if any(d != 1 for d in lhs_dilation) or any(lo or hi for lo, hi in padding):
        size = math.prod(x.shape[:2]) * math.prod(_padded_extents(x, lhs_dilation, padding))
        xp = _dilate_pad(x, lhs_dilation, padding, out=_scratch("input", size, dt))
    else:
        xp = x
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    G, Og, K, nd = groups, O // groups, w.shape[2:], x.ndim - 2
    sN, sC, *sS = xp.strides
    view = _as_strided(
        xp, (N, G, Cg, *K, *osize),
        (sN, Cg * sC, sC, *(s * d for s, d in zip(sS, rhs_dilation)),
         *(s * t for s, t in zip(sS, stride))), writeable=False)
    ck, po = Cg * math.prod(K), math.prod(osize)
    wm = w.reshape(G, Og, ck)
    k_axes = tuple(range(3, 3 + nd))
    o_axes = tuple(range(3 + nd, 3 + 2 * nd))
    few = bool(osize) and osize[-1] < K[-1]
    out = np.empty((N, G, Og, po), dt)
    nb = _chunk(N, G * ck * po * np.dtype(dt).itemsize)
    cols_buf = _scratch("cols", G * ck * nb * po, dt)
    res_buf = _scratch("result", G * Og * nb * po, dt)
    for n0 in range(0, N, nb):
        b = min(nb, N - n0)
        v = view[n0:n0 + b]
        if few:
            # few output positions (weight gradients): columns (G, b*P, Cg*K), whose inner
            # copy loop runs along the larger kernel extent
            order = (1, 0, *o_axes, 2, *k_axes)
        elif G == 1:
            # columns (b, Cg*K, P): the copy's inner loop runs along output positions, and
            # the products land in the output's layout directly
            order = (0, 1, 2, *k_axes, *o_axes)
        else:
            # grouped: columns (G, Cg*K, b*P), one matmul per group
            order = (1, 2, *k_axes, 0, *o_axes)
        vt = v.transpose(order)
        cols = cols_buf[:vt.size].reshape(vt.shape)
        np.copyto(cols, vt)
        if few:
            res = np.matmul(cols.reshape(G, b * po, ck), wm.transpose(0, 2, 1),
                            out=res_buf[:G * b * po * Og].reshape(G, b * po, Og))
            out[n0:n0 + b] = res.reshape(G, b, po, Og).transpose(1, 0, 3, 2)
        elif G == 1:
            np.matmul(wm[0], cols.reshape(b, ck, po), out=out[n0:n0 + b].reshape(b, Og, po))
        else:
            res = np.matmul(wm, cols.reshape(G, ck, b * po),
                            out=res_buf[:G * Og * b * po].reshape(G, Og, b * po))
            out[n0:n0 + b] = res.reshape(G, Og, b, po).transpose(2, 0, 1, 3)
    return out.reshape(N, O, *osize)


def _scatter(x, w, padding, lhs_dilation, rhs_dilation, groups, osize):
    """col2im (stride 1): y = W^T @ x at every undilated input position (one matmul per
    image), then for each kernel offset k add y[k] into the outputs p with
    p + k*rhs_dil = lo + q*lhs_dil."""
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    G, Og, K, Q = groups, O // groups, w.shape[2:], x.shape[2:]
    kp, qp = math.prod(K), math.prod(Q)
    wt = w.reshape(G, Og, Cg, kp).transpose(0, 1, 3, 2).reshape(G, Og * kp, Cg)
    y = np.matmul(wt, x.reshape(N, G, Cg, qp)).reshape(N, G, Og, *K, *Q)
    acc = np.zeros((N, G, Og, *osize), dtype=y.dtype)
    for k in itertools.product(*map(range, K)):
        src, dst = [], []
        for kk, n, o, d, rd, (lo, _) in zip(k, Q, osize, lhs_dilation, rhs_dilation, padding):
            shift = lo - kk * rd                 # p = q*d + shift
            q0 = max(0, -(shift // d))           # ceil(-shift / d)
            q1 = min(n - 1, (o - 1 - shift) // d)
            if q1 < q0:
                break
            src.append(slice(q0, q1 + 1))
            dst.append(slice(q0 * d + shift, q1 * d + shift + 1, d))
        else:
            acc[(Ellipsis, *dst)] += y[(slice(None),) * 3 + k + tuple(src)]
    return acc.reshape(N, O, *osize)


def _shifted_kernel(x, w, stride, lhs_dilation, padding, groups, osize):
    """`_shifted` with the roles of output and kernel swapped, for few output positions and a
    large kernel (weight gradients): the kernel is zero-extended to the padded grid, so for
    each output position p the columns over (channel, kernel position) are contiguous runs
    of xflat starting at off(p). The extension multiplies input values by zero, so callers
    take this path only for finite inputs (inf * 0 would put NaN in a real output)."""
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    G, Og, K, nd = groups, O // groups, w.shape[2:], x.ndim - 2
    ext = _padded_extents(x, lhs_dilation, padding)
    row = [math.prod(ext[i + 1:]) for i in range(nd)]
    R = math.prod(ext)
    Lk = K[0] * row[0]                                       # kernel on the padded grid
    po = math.prod(osize)
    starts = np.zeros((), np.int64)                          # off(p) of every output p
    for o, st, r in zip(osize, stride, row):
        starts = np.add.outer(starts, np.arange(o) * st * r)
    starts = starts.reshape(-1).tolist()
    tail = max(0, starts[-1] + Lk - R)
    dt = np.result_type(x.dtype, w.dtype)
    flat = _scratch("input", N * C * R + tail, dt)
    _dilate_pad(x, lhs_dilation, padding, out=flat[:N * C * R])
    flat[N * C * R:] = 0
    wext = _scratch("kernel", O * Cg * Lk, dt).reshape(G, Og, Cg, K[0], *ext[1:])
    wext.fill(0)
    wext[(Ellipsis, *map(slice, K))] = w.reshape(G, Og, Cg, *K)
    wext = wext.reshape(G, Og, Cg * Lk)
    it = flat.itemsize
    # blocks of channels (the sum's dim), all images at once: a product with few rows and a
    # long sum runs far slower in BLAS than the same work with more rows
    nc = _chunk(Cg, N * po * Lk * it)
    cols_buf = _scratch("cols", N * po * nc * Lk, dt)
    acc = np.zeros((G, N * po, Og), dt)
    for g in range(G):
        for c0 in range(0, Cg, nc):
            c = min(nc, Cg - c0)
            cols = cols_buf[:N * po * c * Lk].reshape(N, po, c, Lk)
            base = (g * Cg + c0) * R
            for i, st in enumerate(starts):   # one block copy per output position
                cols[:, i] = _as_strided(flat[base + st:], (N, c, Lk),
                                         (C * R * it, R * it, it), writeable=False)
            acc[g] += cols.reshape(N * po, c * Lk) @ wext[g, :, c0 * Lk:(c0 + c) * Lk].T
    out = acc.reshape(G, N, po, Og).transpose(1, 0, 3, 2)
    return np.ascontiguousarray(out).reshape(N, O, *osize)


def _use_shifted_kernel(x, w, rhs_dilation, lhs_dilation, padding, osize):
    """An undilated kernel larger than the output, not much smaller than the padded input
    along the inner dims, more column rows than kernel rows, and a finite input."""
    K = w.shape[2:]
    # the zero-extended kernel is copied once per call: worth it only when the columns
    # (N * P rows) outnumber the kernel's O rows
    return (all(d == 1 for d in rhs_dilation) and osize[-1] < K[-1]
            and w.shape[0] <= x.shape[0] * math.prod(osize)
            and math.prod(_padded_extents(x, lhs_dilation, padding)[1:])
            <= 1.5 * math.prod(K[1:])
            and (x.dtype.kind != "f" or bool(np.isfinite(x).all())))


def _use_shifted(x, w, stride, padding, lhs_dilation, osize):
    """Stride 1, an undilated input, and an output not much smaller than the padded input
    (weight gradients, whose outputs are kernel-sized, take the gather path)."""
    return (all(s == 1 for s in stride) and all(d == 1 for d in lhs_dilation)
            and osize[-1] >= w.shape[-1]
            and _shifted_waste(x, w, lhs_dilation, padding, osize) <= 1.5)


def _use_scatter(x, w, stride, osize):
    """Estimated memory traffic: gather writes and reads C*K columns per output position;
    scatter writes O*K products per input position and adds them back."""
    if any(s != 1 for s in stride):
        return False
    C, O = x.shape[1], w.shape[0]
    gather = C * math.prod(osize)
    scatter = 1.5 * O * math.prod(x.shape[2:])
    return scatter < gather


def conv(x, w, *, stride, padding, lhs_dilation, rhs_dilation, groups):
    dt = np.result_type(x.dtype, w.dtype)
    if dt == np.bool_:
        raise TypeError("conv: expected a numeric input, got bool")
    if dt in _LOW:
        x, w = x.astype(np.float32), w.astype(np.float32)
    osize = tuple(out_size(n, k, s, lo, hi, ld, rd) for n, k, s, (lo, hi), ld, rd in zip(
        x.shape[2:], w.shape[2:], stride, padding, lhs_dilation, rhs_dilation))
    if any(o < 0 for o in osize):
        raise ValueError(f"kernel {w.shape[2:]} larger than the padded input")
    N, O = x.shape[0], w.shape[0]
    if N == 0 or O == 0 or 0 in osize or w.shape[1] == 0 or 0 in w.shape[2:]:
        out = np.zeros((N, O, *osize), x.dtype)
    elif _use_shifted(x, w, stride, padding, lhs_dilation, osize):
        out = _shifted(x, w, padding, lhs_dilation, rhs_dilation, groups, osize)
    elif _use_shifted_kernel(x, w, rhs_dilation, lhs_dilation, padding, osize):
        out = _shifted_kernel(x, w, stride, lhs_dilation, padding, groups, osize)
    elif _use_scatter(x, w, stride, osize):
        out = _scatter(x, w, padding, lhs_dilation, rhs_dilation, groups, osize)
    else:
        out = _gather(x, w, stride, padding, lhs_dilation, rhs_dilation, groups, osize)
    return out.astype(dt, copy=False)


KERNELS = {"conv": conv}
