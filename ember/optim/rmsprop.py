"""RMSprop (centered, momentum, weight decay, maximize)."""
from __future__ import annotations

from ._pointwise import addcdiv_, addcmul, addcmul_
from .optimizer import _checked_defaults, _PerParameterOptimizer

__all__ = ["RMSprop"]


class RMSprop(_PerParameterOptimizer):
    _group_defaults = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                       "differentiable": False, "capturable": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, _checked_defaults(
            defaults, "lr", "eps", "momentum", "weight_decay", "alpha"))

    def _state_buffers(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update(self, p, grad, state, group, lr, step):
        alpha, momentum = group["alpha"], group["momentum"]
        square_avg = state["square_avg"]
        addcmul_(square_avg.mul_(alpha), grad, grad, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = addcmul(square_avg, grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            addcdiv_(buf.mul_(momentum), grad, avg)
            p.add_(buf, alpha=-lr)
        else:
            addcdiv_(p, grad, avg, value=-lr)
