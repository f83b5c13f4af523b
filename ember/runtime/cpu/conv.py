"""CPU kernel: the `conv` primitive (N-d, grouped, strided, padded, input- and kernel-dilated).

    out[n, g*Og + o, p] = sum_{c, k} w[g*Og + o, c, k] * xp[n, g*Cg + c, p*stride + k*rhs_dilation]

where xp is x with (lhs_dilation - 1) zeros inserted between elements and then padded by
(lo, hi) per spatial dim (negative padding crops). Two exact algorithms, picked by a
memory-traffic estimate, both batched BLAS matmuls with no Python loop over pixels:

- gather ("im2col"): a strided window view of xp copied into columns, then W @ columns
  (per image, or per group for grouped convs; one long product for weight gradients,
  whose outputs are few). Best when the input has few channels or the output is small.
- scatter ("col2im"): W^T @ x for every kernel offset at the *input* positions, then one
  shifted add per kernel offset (loop over the few kernel offsets only). It never touches
  the zeros of an input dilation, so transposed convolutions and input gradients (which are
  input-dilated convs) cost what the forward costs. Needs stride 1.

float16/bfloat16 are computed in float32 and rounded once; integers use exact integer
matmul (as PyTorch computes integer convolutions).
"""
from __future__ import annotations

import itertools
import math

import ml_dtypes
import numpy as np

_LOW = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_as_strided = np.lib.stride_tricks.as_strided


def out_size(size, k, stride, lo, hi, lhs_dil, rhs_dil):
    """Output length of one spatial dim (negative when the kernel does not fit)."""
    padded = (size - 1) * lhs_dil + 1 + lo + hi if size else lo + hi
    return (padded - ((k - 1) * rhs_dil + 1)) // stride + 1


def _dilate_pad(x, lhs_dilation, padding):
    """x with zeros inserted (input dilation) and padded/cropped per spatial dim."""
    if all(d == 1 for d in lhs_dilation) and all(lo == 0 and hi == 0 for lo, hi in padding):
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
    out = np.zeros(shape, x.dtype)
    if all(s.stop > s.start for s in src[2:]):
        out[tuple(dst)] = x[tuple(src)]
    return out


def _gather(x, w, stride, padding, lhs_dilation, rhs_dilation, groups, osize):
    """im2col: columns from a strided window view of the padded input, then one matmul."""
    xp = _dilate_pad(x, lhs_dilation, padding)
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
    if (not osize or osize[-1] >= K[-1]) and G == 1:
        # columns (N, Cg*K, P), one matmul per image: the copy's inner loop runs along
        # output positions, each image's input stays in cache, and the result is already
        # laid out (N, O, P)
        return np.matmul(wm, view.reshape(N, G, ck, po)).reshape(N, O, *osize)
    if not osize or osize[-1] >= K[-1]:
        # grouped: columns (G, Cg*K, N*P), one matmul per group (per image would be N*G
        # small products)
        cols = view.transpose(1, 2, *k_axes, 0, *o_axes).reshape(G, ck, N * po)
        out = np.matmul(wm, cols).reshape(G, Og, N, po).transpose(2, 0, 1, 3)
        return np.ascontiguousarray(out).reshape(N, O, *osize)
    # few output positions (weight gradients): columns (G, N*P, Cg*K), one matmul whose inner
    # copy loop runs along the larger kernel extent
    cols = view.transpose(1, 0, *o_axes, 2, *k_axes).reshape(G, N * po, ck)
    out = np.matmul(cols, wm.transpose(0, 2, 1)).reshape(G, N, po, Og).transpose(1, 0, 3, 2)
    return np.ascontiguousarray(out).reshape(N, O, *osize)


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
    elif _use_scatter(x, w, stride, osize):
        out = _scatter(x, w, padding, lhs_dilation, rhs_dilation, groups, osize)
    else:
        out = _gather(x, w, stride, padding, lhs_dilation, rhs_dilation, groups, osize)
    return out.astype(dt, copy=False)


KERNELS = {"conv": conv}
