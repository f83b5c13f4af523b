"""Adagrad (lr_decay, initial_accumulator_value, weight decay, maximize).

As in PyTorch, the state ('step', 'sum') is created for every parameter at construction."""
from __future__ import annotations

import ember

from ._pointwise import addcdiv_, addcmul_
from .optimizer import _check_fused_foreach, _checked_defaults, _PerParameterOptimizer, \
    _scalar_state

__all__ = ["Adagrad"]


class Adagrad(_PerParameterOptimizer):
    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                       "fused": None}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, _checked_defaults(
            defaults, "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"))
        _check_fused_foreach(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        state = self.state[p]
        state["step"] = _scalar_state(0.0)
        state["sum"] = ember.full_like(p, self.defaults["initial_accumulator_value"])
        return state

    def share_memory(self):
        pass  # CPU tensors in one process: nothing to share

    def _state_for(self, p, group):
        state = self.state[p]
        # made at construction; a group added later gets it on its first step
        return state if len(state) else self._init_state(p)

    def _update(self, p, grad, state, group, lr, step):
        clr = lr / (1 + (step - 1) * group["lr_decay"])
        state_sum = state["sum"]
        addcmul_(state_sum, grad, grad, value=1)
        std = state_sum.sqrt().add_(group["eps"])
        addcdiv_(p, grad, std, value=-clr)
