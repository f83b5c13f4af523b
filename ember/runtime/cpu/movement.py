"""CPU kernels: movement family. Views where PyTorch gives views, copies where it copies."""
import numpy as np

_as_strided = np.lib.stride_tricks.as_strided


def _copy(x, *, order="K"):
    # "K" keeps the layout (clone's preserve_format); "C" is contiguous()
    return np.array(x, copy=True, order=order)


def _reshape(x, *, shape):
    # a view when the strides allow it (as torch.reshape), else a copy
    return x.reshape(shape)


def _expand(x, *, shape):
    """A view with stride 0 on broadcast dims; read-only only where a dim really repeats
    (torch refuses in-place writes there), so expanding to the same shape stays writable."""
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"cannot expand {x.shape} to {shape}")
    strides = [0] * lead
    repeats = _prod(shape[:lead]) > 1
    for d, n, st in zip(x.shape, shape[lead:], x.strides):
        if d == n:
            strides.append(st)
        elif d == 1:
            strides.append(0)
            repeats = repeats or n > 1
        else:
            raise ValueError(f"cannot expand {x.shape} to {shape}")
    if x.flags.c_contiguous:
        out = np.ndarray(shape, x.dtype, x, 0, tuple(strides))
    else:
        out = _as_strided(x, shape, tuple(strides), writeable=x.flags.writeable)
    if repeats:
        out.flags.writeable = False
    return out


def _prod(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _slice(x, *, starts, stops, steps):
    return x[tuple(map(slice, starts, stops, steps))]


def _pad_dim(d, lo, hi, it):
    """(source slice, destination slice) of one dim: element i lands at lo + i*(it+1);
    those before 0 or past the end (negative lo/hi) are cropped away."""
    stride = it + 1
    n = lo + hi + d + max(d - 1, 0) * it
    i0 = -(lo // stride) if lo < 0 else 0
    last = n - 1 - lo
    i1 = min(d - 1, last // stride) if last >= 0 else -1
    if i1 < i0:
        return None, None
    return slice(i0, i1 + 1), slice(lo + i0 * stride, lo + i1 * stride + 1, stride)


def _pad(x, *, pads, value=0):
    shape = tuple(lo + hi + d + max(d - 1, 0) * it for d, (lo, hi, it) in zip(x.shape, pads))
    out = np.full(shape, value, dtype=x.dtype)
    src, dst = [], []
    for d, (lo, hi, it) in zip(x.shape, pads):
        s, t = _pad_dim(d, lo, hi, it)
        if s is None:
            return out
        src.append(s)
        dst.append(t)
    out[tuple(dst)] = x[tuple(src)]
    return out


def _cat(*xs, dim):
    return np.concatenate(xs, axis=dim)


def _flip(x, *, dims):
    return np.flip(x, dims).copy()


def _diagonal(x, *, offset, dim1, dim2):
    """A writable strided view (np.diagonal's view is read-only)."""
    n1, n2 = x.shape[dim1], x.shape[dim2]
    L = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rest = [i for i in range(x.ndim) if i not in (dim1, dim2)]
    shape = tuple(x.shape[i] for i in rest) + (L,)
    st = x.strides
    strides = tuple(st[i] for i in rest) + (st[dim1] + st[dim2],)
    if L == 0:
        return _as_strided(x, shape, strides, writeable=x.flags.writeable)
    idx = [slice(None)] * x.ndim
    if offset >= 0:
        idx[dim2] = slice(offset, None)
    else:
        idx[dim1] = slice(-offset, None)
    return _as_strided(x[tuple(idx)], shape, strides, writeable=x.flags.writeable)


KERNELS = {
    "reshape": _reshape,
    "permute": lambda x, *, dims: x.transpose(dims),
    "expand": _expand,
    "slice": _slice,
    "pad": _pad,
    "cat": _cat,
    "flip": _flip,
    "diagonal": _diagonal,
    "copy": _copy,
}
