"""Adamax: Adam with the infinity norm (weight decay, maximize)."""
from __future__ import annotations

import ember

from ._pointwise import addcdiv_
from .optimizer import _checked_defaults, _PerParameterOptimizer

__all__ = ["Adamax"]


class Adamax(_PerParameterOptimizer):
    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                       "capturable": False}
    _buffers = ("exp_avg", "exp_inf")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, _checked_defaults(defaults, "lr", "eps", "betas", "weight_decay"))

    def _update(self, p, grad, state, group, lr, step):
        beta1, beta2 = group["betas"]
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(grad, 1 - beta1)
        ember.maximum(exp_inf.mul_(beta2), grad.abs().add_(group["eps"]), out=exp_inf)
        clr = lr / (1 - beta1 ** step)
        addcdiv_(p, exp_avg, exp_inf, value=-clr)
