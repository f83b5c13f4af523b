"""Random sampling: Generator, seeding, rand/randn/randint/randperm/normal/bernoulli/
multinomial (+ _like), and the in-place samplers uniform_/normal_/bernoulli_/random_/...

Each sampler dispatches a random primitive with `generator=` the NumPy generator of an
ember Generator (the default one unless given), so a seed fixes the stream.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

from ...ir import dtypes as D
from ...runtime.random import Generator as _RuntimeGenerator, normalize_seed
from ..dispatch import dispatch
from ..tensor import Tensor, _wrap, constant, install_methods, opaque
from .inplace import inplace

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "rand", "randn", "randint", "randperm", "normal",
           "bernoulli", "multinomial", "rand_like", "randn_like", "randint_like", "poisson"]


class Generator(_RuntimeGenerator):
    """ember.Generator: get_state/set_state exchange uint8 tensors, as torch.Generator."""

    def get_state(self):
        return constant(_wrap(self.state_bytes()))

    def set_state(self, new_state):
        if not isinstance(new_state, Tensor):
            raise TypeError(f"set_state: expected a torch.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        if new_state._data.dtype != np.uint8:
            raise RuntimeError(f"set_state: expected a uint8 (Byte) tensor, got {new_state.dtype}")
        self.load_state_bytes(np.ascontiguousarray(new_state._data).reshape(-1))
        return self


default_generator = Generator()


def _gen(generator):
    if generator is None:
        return default_generator.np
    if not isinstance(generator, _RuntimeGenerator):
        raise TypeError(f"expected a Generator for argument 'generator', got "
                        f"{type(generator).__name__}")
    return generator.np


def manual_seed(seed):
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, **_):
    """Restore the default generator's state on exit (torch.random.fork_rng)."""
    if not enabled:
        yield
        return
    state = default_generator.state_bytes()
    try:
        yield
    finally:
        default_generator.load_state_bytes(state)


# ---------------------------------------------------------------- helpers

def _size(size, kw_size, op):
    if kw_size is not None:
        if size:
            raise TypeError(f"{op}() got multiple values for argument 'size'")
        size = (kw_size,)
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = size[0]
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}(): argument 'size' must be a tuple of ints, but found element of "
                        f"type {type(size[0]).__name__}") from None
    for s in shape:
        if s < 0:
            raise RuntimeError(f"{op}: Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def _float_dtype(dtype, op):
    dt = D.get_default_dtype() if dtype is None else D.to_dtype(dtype)
    if dt.category != D.FLOAT:
        raise RuntimeError(f"\"{op}\" not implemented for '{dt.name.capitalize()}'")
    return dt


def _check_device(device, op):
    if device is not None and str(device).split(":")[0] != "cpu":
        from ...cuda import _unavailable
        _unavailable(op)


def _finish(t, requires_grad, out=None):
    if out is not None:
        out._data = t._data   # torch resizes `out` to the result
        out._version[0] += 1
        t = out
    if requires_grad:
        t.requires_grad_(True)
    return t


# ---------------------------------------------------------------- samplers

def _float_sampler(name, prim, check_name, params):
    """rand/randn: a float tensor of `size` drawn by primitive `prim` with fixed `params`."""
    def sampler(*size, generator=None, out=None, dtype=None, layout=None, device=None,
                requires_grad=False, pin_memory=False, **kw):
        _check_device(device, name)
        shape = _size(size, kw.pop("size", None), name)
        dt = _float_dtype(dtype, check_name)
        r = dispatch(prim, shape=shape, dtype=dt, generator=_gen(generator), **params)
        return _finish(r, requires_grad, out)
    sampler.__name__ = name
    return sampler


rand = _float_sampler("rand", "uniform", "check_uniform_bounds", {"low": 0.0, "high": 1.0})
randn = _float_sampler("randn", "normal", "normal_kernel_cpu", {"mean": 0.0, "std": 1.0})


def _randint(low, high, shape, dtype, generator, op="randint"):
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    return dispatch("randint", shape=shape, dtype=dtype, low=int(low), high=int(high),
                    generator=_gen(generator))


def randint(*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad=False, pin_memory=False, low=None, high=None):
    """randint(high, size) | randint(low, high, size), as torch."""
    _check_device(device, "randint")
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list, Tensor)) and not isinstance(args[-1], Tensor):
        size = args.pop()
    if high is None:
        if not args:
            raise TypeError("randint() missing required argument 'high'")
        high = args.pop()
    if low is None:
        low = args.pop() if args else 0
    if args or size is None:
        raise TypeError("randint() received an invalid combination of arguments: expected "
                        "(low=0, high, size, *, generator, dtype, ...)")
    shape = _size((size,), None, "randint")
    dt = D.int64 if dtype is None else D.to_dtype(dtype)
    r = _randint(int(low), int(high), shape, dt, generator)
    return _finish(r, requires_grad, out)


def randperm(n, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad=False, pin_memory=False):
    _check_device(device, "randperm")
    n = int(n)
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    dt = D.int64 if dtype is None else D.to_dtype(dtype)
    r = dispatch("randperm", n=n, dtype=dt, generator=_gen(generator))
    return _finish(r, requires_grad, out)


def _like_dtype(input, dtype):
    return input.dtype if dtype is None else D.to_dtype(dtype)


def rand_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None, generator=None):
    return rand(tuple(input.shape), dtype=_like_dtype(input, dtype), requires_grad=requires_grad,
                generator=generator)


def randn_like(input, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None, generator=None):
    return randn(tuple(input.shape), dtype=_like_dtype(input, dtype), requires_grad=requires_grad,
                 generator=generator)


def randint_like(input, low=0, high=None, *, dtype=None, layout=None, device=None,
                 requires_grad=False, memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    r = _randint(int(low), int(high), tuple(input.shape), _like_dtype(input, dtype), generator)
    return _finish(r, requires_grad)


def _std_normal(shape, dt, generator):
    return dispatch("normal", shape=tuple(shape), dtype=dt, mean=0.0, std=1.0,
                    generator=_gen(generator))


def _check_std(std):
    bad = (std._data < 0).any() if isinstance(std, Tensor) else std < 0
    if bad:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std if not isinstance(std, Tensor) else 'with negative elements'}")


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad=False, pin_memory=False):
    """normal(Tensor, Tensor) | normal(Tensor, float) | normal(float, Tensor) |
    normal(float, float, size): mean + std * N(0, 1), differentiable in mean and std."""
    _check_std(std)
    tm, ts = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not tm and not ts:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with float "
                            "mean and std, 'size' is required")
        dt = _float_dtype(dtype, "normal_kernel_cpu")
        r = dispatch("normal", shape=_size((size,), None, "normal"), dtype=dt, mean=float(mean),
                     std=float(std), generator=_gen(generator))
        return _finish(r, requires_grad, out)
    ref = mean if tm else std
    if not ref.dtype.is_floating_point:
        raise RuntimeError(f"\"normal_kernel_cpu\" not implemented for '{ref.dtype.name.capitalize()}'")
    shape = ref._data.shape
    if tm and ts:
        from ...ir.ops import broadcast_shapes
        shape = broadcast_shapes(mean._data.shape, std._data.shape, op="normal")
    z = _std_normal(shape, ref.dtype, generator)
    r = z * std + mean
    return _finish(r, False, out)


def bernoulli(input, p=None, *, generator=None, out=None):
    if p is not None:
        _check_p(p)
        probs = constant(_wrap(np.full(input._data.shape, p, np.float64)))
        r = dispatch("bernoulli", probs, generator=_gen(generator)).to(input.dtype)
        return _finish(r, False, out)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"\"bernoulli_tensor_cpu_p_\" not implemented for "
                           f"'{input.dtype.name.capitalize()}'")
    d = input._data
    if d.size and ((d < 0).any() or (d > 1).any()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    return _finish(dispatch("bernoulli", input.detach(), generator=_gen(generator)), False, out)


def _check_p(p):
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    d = input._data
    if d.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {d.ndim}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype.name.capitalize()}")
    if num_samples <= 0:
        raise RuntimeError("multinomial: cannot sample n_sample <= 0 samples")
    n = d.shape[-1]
    if not replacement and num_samples > n:
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    w = d.astype(np.float64)
    if not np.isfinite(w).all() or (w < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (w.reshape(-1, n).sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and ((w.reshape(-1, n) > 0).sum(-1) < num_samples).any():
        raise RuntimeError("invalid multinomial distribution (with replacement=False, not enough "
                           "non-negative category to sample)")
    r = dispatch("multinomial", input.detach(), num_samples=int(num_samples),
                 replacement=bool(replacement), generator=_gen(generator))
    return _finish(r, False, out)


def poisson(input, generator=None):
    lam = input._data.astype(np.float64)
    r = _wrap(_gen(generator).poisson(lam).astype(input._data.dtype))
    return opaque("poisson", [input], [r], random=True)[0]


# ---------------------------------------------------------------- in-place samplers

def _fill(self, sample, op):
    """Write a fresh sample (no history) into self, as torch's in-place samplers do."""
    return inplace(self, sample, op)


def uniform_(self, from_=0.0, to=1.0, *, generator=None, **kw):
    from_ = kw.pop("from", from_)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_} "
                           f"> to={to}")
    dt = _float_dtype(self.dtype, "check_uniform_bounds")
    s = dispatch("uniform", shape=self._data.shape, dtype=dt, low=float(from_), high=float(to),
                 generator=_gen(generator))
    return _fill(self, s, "uniform_")


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    _check_std(std)
    dt = _float_dtype(self.dtype, "normal_kernel_cpu")
    s = dispatch("normal", shape=self._data.shape, dtype=dt, mean=float(mean), std=float(std),
                 generator=_gen(generator))
    return _fill(self, s, "normal_")


def bernoulli_(self, p=0.5, *, generator=None):
    if isinstance(p, Tensor):
        opaque("bernoulli_", [p], [])  # p's values become the constant probabilities
        probs = np.broadcast_to(p._data.astype(np.float64), self._data.shape)
    else:
        _check_p(p)
        probs = np.full(self._data.shape, p, np.float64)
    probs = constant(_wrap(np.ascontiguousarray(probs)))
    s = dispatch("bernoulli", probs, generator=_gen(generator))
    return _fill(self, s.to(self.dtype), "bernoulli_")


# largest integer each dtype's random_ draws up to by default: 2**mantissa for floats
_RANDOM_TOP = {"float16": 2 ** 11 + 1, "bfloat16": 2 ** 8 + 1, "float32": 2 ** 24 + 1,
               "float64": 2 ** 53 + 1, "bool": 2}


def random_(self, from_=0, to=None, *, generator=None, **kw):
    from_ = kw.pop("from", from_)
    if to is None and from_ != 0 and "from" not in kw:
        from_, to = 0, from_     # random_(to)
    if to is None:
        name = self.dtype.name
        to = _RANDOM_TOP.get(name)
        if to is None:
            to = int(np.iinfo(self.dtype.np).max) + 1
    s = _randint(int(from_), int(to), self._data.shape, self.dtype, generator, "random_")
    return _fill(self, s, "random_")


def exponential_(self, lambd=1.0, *, generator=None):
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    dt = _float_dtype(self.dtype, "exponential_cpu")
    u = dispatch("uniform", shape=self._data.shape, dtype=D.float64, generator=_gen(generator))
    s = opaque("exponential_", [u], [_wrap((-np.log1p(-u._data) / lambd).astype(dt.np))])[0]
    return _fill(self, s, "exponential_")


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    u = dispatch("uniform", shape=self._data.shape, dtype=D.float64, generator=_gen(generator))
    s = opaque("geometric_", [u], [_wrap(np.ceil(np.log1p(-u._data) / math.log1p(-p))
                                         .clip(min=1).astype(self._data.dtype))])[0]
    return _fill(self, s, "geometric_")


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    u = dispatch("uniform", shape=self._data.shape, dtype=D.float64, generator=_gen(generator))
    s = opaque("cauchy_", [u], [_wrap((median + sigma * np.tan(np.pi * (u._data - 0.5)))
                                      .astype(self._data.dtype))])[0]
    return _fill(self, s, "cauchy_")


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    z = dispatch("normal", shape=self._data.shape, dtype=D.float64, mean=float(mean),
                 std=float(std), generator=_gen(generator))
    s = opaque("log_normal_", [z], [_wrap(np.exp(z._data).astype(self._data.dtype))])[0]
    return _fill(self, s, "log_normal_")


METHODS = {
    "uniform_": uniform_, "normal_": normal_, "bernoulli_": bernoulli_, "random_": random_,
    "exponential_": exponential_, "geometric_": geometric_, "cauchy_": cauchy_,
    "log_normal_": log_normal_,
    "bernoulli": bernoulli, "multinomial": multinomial,
}
install_methods(METHODS)
