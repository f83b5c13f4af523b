"""NAdam: Adam with Nesterov momentum (momentum_decay, L2 or decoupled weight decay)."""
from __future__ import annotations

from ._pointwise import addcdiv_
from .adam import _update_moments
from .optimizer import _checked_defaults, _PerParameterOptimizer

__all__ = ["NAdam"]


class NAdam(_PerParameterOptimizer):
    _group_defaults = {"maximize": False, "foreach": None, "capturable": False,
                       "differentiable": False, "decoupled_weight_decay": False}
    _scalar_states = {"step": 0.0, "mu_product": 1.0}
    _buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, _checked_defaults(
            defaults, "lr", "eps", "betas", "weight_decay", "momentum_decay"))

    def _update(self, p, grad, state, group, lr, step):
        beta1, beta2 = group["betas"]
        momentum_decay = group["momentum_decay"]
        bias_correction2 = 1 - beta2 ** step
        # the momentum cache mu_t and mu_{t+1}
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        # the product is kept in a float32 (or float64) state tensor, rounding included
        mu_product = state["mu_product"]
        mu_product.mul_(mu)
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(group["eps"])
        mu_prod = mu_product.item()
        mu_product_next = mu_prod * mu_next
        addcdiv_(p, grad, denom, value=-lr * (1.0 - mu) / (1.0 - mu_prod))
        addcdiv_(p, exp_avg, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))
