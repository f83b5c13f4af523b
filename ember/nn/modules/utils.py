"""Helpers shared by the spatial layers (conv, pooling, padding): PyTorch's argument
expanders (_ntuple, _single, _pair, _triple, _quadruple, as in torch.nn.modules.utils) and
the builder of a layer's 1d/2d/3d classes from one N-d base."""
from __future__ import annotations

import collections.abc
from itertools import repeat


def _ntuple(n, name="parse"):
    """PyTorch's _ntuple: a parser keeping an iterable as given and repeating a scalar n
    times."""
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))
    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _dim_variants(base, stem, fns=None, dims=(1, 2, 3)):
    """The classes `{stem}{n}d` for n in `dims`: subclasses of `base` that only set `_n = n`
    and, given `fns` (one per dim), `_fn` to the functional they run. They live in base's
    module, so they pickle and print like hand-written classes there."""
    out = []
    for i, n in enumerate(dims):
        name = f"{stem}{n}d"
        attrs = {"_n": n, "__module__": base.__module__, "__qualname__": name}
        if fns is not None:
            attrs["_fn"] = staticmethod(fns[i])
        out.append(type(name, (base,), attrs))
    return out
