"""Adagrad (lr_decay, initial_accumulator_value, weight decay, maximize).

As in PyTorch, the state ('step', 'sum') is created for every parameter at construction."""
from __future__ import annotations

import ember

from ._pointwise import addcdiv_, addcmul_
from .optimizer import Optimizer, _call_closure, _check_fused_foreach, _check_one_element, \
    _scalar_state, _to_scalar, _value

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    _group_defaults = {"foreach": None, "maximize": False, "differentiable": False,
                       "fused": None}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_one_element("lr", lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
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

    def step(self, closure=None):
        loss = _call_closure(closure)
        for group in self.param_groups:
            lr = _value(_to_scalar(group["lr"]))
            weight_decay, lr_decay, eps = group["weight_decay"], group["lr_decay"], group["eps"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:  # a group added after construction
                    state = self._init_state(p)
                step_t = state["step"]
                step_t.add_(1)
                step = step_t.item()
                if group["maximize"]:
                    grad = -grad
                if weight_decay != 0:
                    grad = grad.add(p, alpha=weight_decay)
                clr = lr / (1 + (step - 1) * lr_decay)
                state_sum = state["sum"]
                addcmul_(state_sum, grad, grad, value=1)
                std = state_sum.sqrt().add_(eps)
                addcdiv_(p, grad, std, value=-clr)
        return loss
