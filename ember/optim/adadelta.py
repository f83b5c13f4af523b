"""Adadelta (rho, eps, weight decay, maximize)."""
from __future__ import annotations

from ._pointwise import addcmul_
from .optimizer import _checked_defaults, _PerParameterOptimizer

__all__ = ["Adadelta"]


class Adadelta(_PerParameterOptimizer):
    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                       "capturable": False}
    _buffers = ("square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, _checked_defaults(defaults, "lr", "rho", "eps", "weight_decay"))

    def _update(self, p, grad, state, group, lr, step):
        rho, eps = group["rho"], group["eps"]
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        addcmul_(square_avg.mul_(rho), grad, grad, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        addcmul_(acc_delta.mul_(rho), delta, delta, value=1 - rho)
        p.add_(delta, alpha=-lr)
