"""Adam (with amsgrad, L2 or decoupled weight decay, maximize) and AdamW."""
from __future__ import annotations

import ember

from ._pointwise import addcdiv_, addcmul_
from .optimizer import _check_fused_foreach, _check_hparams, _check_one_element, \
    _PerParameterOptimizer, _to_scalar, _value

__all__ = ["Adam", "AdamW"]


def _update_moments(state, grad, beta1, beta2):
    """Adam's running averages, in place: exp_avg of the gradient, exp_avg_sq of its
    square (shared by the Adam family so the rounding is the same in each)."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    addcmul_(exp_avg_sq.mul_(beta2), grad, grad, value=1 - beta2)
    return exp_avg, exp_avg_sq


class Adam(_PerParameterOptimizer):
    _group_defaults = {"amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
                       "differentiable": False, "decoupled_weight_decay": False, "fused": None}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        if isinstance(lr, ember.Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and "
                                 "foreach=True")
            _check_one_element("lr", lr)
        _check_hparams(lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        tensors = [isinstance(b, ember.Tensor) for b in betas[:2]]
        if not (all(isinstance(b, float) for b in betas[:2]) or all(tensors)):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, is_tensor in enumerate(tensors):
            if is_tensor:
                if not capturable and foreach:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                     f"capturable=False and foreach=True")
                _check_one_element(f"betas[{i}]", betas[i])
        betas = tuple(map(_to_scalar, betas))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        _check_fused_foreach(fused, foreach, differentiable)

    _buffers = ("exp_avg", "exp_avg_sq")

    def _state_buffers(self, group):
        return self._buffers + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _update(self, p, grad, state, group, lr, step):
        beta1, beta2 = (_value(b) for b in group["betas"])
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if group["amsgrad"]:
            max_sq = state["max_exp_avg_sq"]
            ember.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(group["eps"])
        addcdiv_(p, exp_avg, denom, value=-step_size)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        super().__setstate__(state)
        # an AdamW always decays decoupled, whatever the loaded state says
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
