"""CPU kernels: source ops (full, iota) and the random family.

Random kernels draw from `generator`, a numpy.random.Generator (PCG64). Half types draw in
float32 and round once, so a seed gives the same stream whatever the float dtype.
"""
import numpy as np

_F32_DRAW = {np.dtype(np.float32): np.float32, np.dtype(np.float64): np.float64}


def _draw_dtype(dtype):
    return _F32_DRAW.get(dtype.np, np.float32)


def _full(*, shape, dtype, value):
    return np.full(shape, value, dtype.np)


def _iota(*, shape, dtype, start=0, step=1):
    """start + i*step along dim 0 (broadcast along the other dims), computed in int64 or
    float64 and cast once."""
    n = shape[0] if shape else 1
    if dtype.np.kind in "biu" and isinstance(start, (int, np.integer)) and isinstance(step, (int, np.integer)):
        v = np.arange(n, dtype=np.int64) * step + start
    else:
        v = np.arange(n, dtype=np.float64) * step + start
    v = v.astype(dtype.np)
    if len(shape) == 1:
        return v
    if not shape:
        return v.reshape(())
    return np.ascontiguousarray(np.broadcast_to(v.reshape((n,) + (1,) * (len(shape) - 1)), shape))


def _uniform(*, shape, dtype, low=0.0, high=1.0, generator):
    u = generator.random(shape, dtype=_draw_dtype(dtype))
    if low != 0.0 or high != 1.0:
        u = u * (high - low) + low
    return np.asarray(u).astype(dtype.np, copy=False)


def _normal(*, shape, dtype, mean=0.0, std=1.0, generator):
    z = generator.standard_normal(shape, dtype=_draw_dtype(dtype))
    if mean != 0.0 or std != 1.0:
        z = z * std + mean
    return np.asarray(z).astype(dtype.np, copy=False)


def _randint(*, shape, dtype, low, high, generator):
    return generator.integers(low, high, size=shape, dtype=np.int64).astype(dtype.np, copy=False)


def _bernoulli(p, *, generator, dtype=None):
    u = generator.random(p.shape)
    return (u < p.astype(np.float64)).astype(dtype.np if dtype is not None else p.dtype)


def _multinomial(p, *, num_samples, replacement=False, generator):
    """Rows of p are unnormalized weights. With replacement: inverse-CDF sampling;
    without: the exponential-races trick (smallest E_i / p_i), which draws the same law as
    sequential sampling without replacement."""
    w = p.astype(np.float64).reshape(-1, p.shape[-1])
    if replacement:
        c = np.cumsum(w, axis=1)
        c /= c[:, -1:]
        u = generator.random((w.shape[0], num_samples))
        out = np.stack([np.searchsorted(c[i], u[i], side="right") for i in range(w.shape[0])])
        out = np.minimum(out, w.shape[1] - 1)
    else:
        with np.errstate(divide="ignore"):
            keys = generator.standard_exponential(w.shape) / w
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return out.astype(np.int64).reshape(p.shape[:-1] + (num_samples,))


def _randperm(*, n, dtype, generator):
    return generator.permutation(n).astype(dtype.np)


KERNELS = {
    "full": _full, "iota": _iota,
    "uniform": _uniform, "normal": _normal, "randint": _randint, "bernoulli": _bernoulli,
    "multinomial": _multinomial, "randperm": _randperm,
}
