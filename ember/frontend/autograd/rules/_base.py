from typing import Callable, NamedTuple


class VJPRule(NamedTuple):
    fn: Callable
    save: tuple = ()


def unbroadcast(g, shape):
    """Sum `g` down to `shape` (the inverse of broadcasting an operand to g's shape)."""
    if tuple(g.shape) == tuple(shape):
        return g
    return g.sum_to_size(shape)
