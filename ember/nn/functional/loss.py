"""Loss functions of torch.nn.functional: regression (mse, l1, smooth_l1, huber), classification
(cross_entropy, nll_loss, binary_cross_entropy[_with_logits], multi[label]_margin,
multilabel_soft_margin, soft_margin), distribution (kl_div, poisson_nll, gaussian_nll),
embedding/ranking (cosine_embedding, hinge_embedding, margin_ranking,
triplet_margin[_with_distance]) and ctc_loss, with PyTorch's defaults, reductions, legacy
size_average/reduce arguments, errors and gradients.

Most losses are composites of ember ops, so autograd and higher derivatives come for free.
Three are single autograd nodes because they run every training step or because PyTorch's
gradient is not the composite's:
- cross_entropy / nll_loss with class-index targets (one node: log_softmax, a gather of the
  target column, the reduction; the backward is softmax minus a scatter of the target weights,
  never a one-hot matrix);
- binary_cross_entropy (PyTorch's gradients, which ignore the -100 clamp of the log);
- ctc_loss (log-space alpha recursion vectorised over batch and label positions, a Python loop
  over time only; the alpha-beta backward gives exactly PyTorch's gradient for log_probs, and
  the composite that traced graphs and create_graph differentiate is written so that its
  derivative is that same gradient, which is not the recursion's own: see _ctc_composite).
"""
from __future__ import annotations

import math
import operator
import warnings

import ember

from ._fused import fused
from .activation import log_softmax, logsigmoid, relu
from .distance import pairwise_distance

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
           "hinge_embedding_loss", "margin_ranking_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss"]

_NAMES = {ember.bool: "Bool", ember.uint8: "Byte", ember.int8: "Char", ember.int16: "Short",
          ember.int32: "Int", ember.int64: "Long", ember.float16: "Half",
          ember.bfloat16: "BFloat16", ember.float32: "Float", ember.float64: "Double"}


def _name(dtype):
    """PyTorch's scalar type name of a dtype, as its error messages print it."""
    return _NAMES[dtype]


# ---------------------------------------------------------------- reductions

_REDUCE = {"none": lambda loss: loss, "mean": lambda loss: loss.mean(),
           "sum": lambda loss: loss.sum()}


def legacy_get_string(size_average, reduce, emit_warning=True):
    """The reduction named by the deprecated size_average/reduce pair (torch.nn._reduction)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _legacy(size_average, reduce, reduction):
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    return reduction


def _checked(reduction):
    """PyTorch's get_enum: the valid names, 'elementwise_mean' as a deprecated 'mean'."""
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", stacklevel=3)
        return "mean"
    if reduction not in _REDUCE:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduction(size_average, reduce, reduction):
    return _checked(_legacy(size_average, reduce, reduction))


def _reduce(loss, reduction):
    return _REDUCE[reduction](loss)


def _size(shape):
    return list(shape)


# ---------------------------------------------------------------- regression losses

def _warn_size(input, target):
    if target.size() != input.size():
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input "
                      f"size ({input.size()}). This will likely lead to incorrect results due "
                      f"to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _check_weight_size(weight, input):
    if weight is not None and weight.size() != input.size():
        raise ValueError("Weights and input must have the same size.")


def _weighted(loss, weight, reduction, mean_over_weight):
    """A per-element weight, as PyTorch's weighted mse/l1/huber: 'mean' divides by the sum of
    the weights (mse, l1) or by the element count (huber)."""
    loss = loss * weight
    if reduction not in _REDUCE:
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', "
                         f"'mean', 'sum'.")
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _regression(elementwise, input, target, reduction, weight, mean_over_weight):
    _warn_size(input, target)
    if weight is None:
        return _reduce(elementwise(input - target), _checked(reduction))
    _check_weight_size(weight, input)
    return _weighted(elementwise(input - target), weight, reduction, mean_over_weight)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    return _regression(ember.square, input, target, reduction, weight, True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy(size_average, reduce, reduction)
    return _regression(ember.abs, input, target, reduction, weight, True)


def _smooth_l1(d, beta):
    a = d.abs()
    return ember.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)


def _huber(d, delta):
    a = d.abs()
    return ember.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _warn_size(input, target)
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    if beta == 0.0:  # PyTorch computes l1 here (the quadratic piece vanishes)
        return _reduce((input - target).abs(), reduction)
    return _reduce(_smooth_l1(input - target, beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    _warn_size(input, target)
    if weight is None:
        reduction = _checked(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    loss = _huber(input - target, delta)
    if weight is None:
        return _reduce(loss, reduction)
    _check_weight_size(weight, input)
    return _weighted(loss, weight, reduction, False)


# ---------------------------------------------------------------- class-index targets

def _class_dim(input):
    return 0 if input.dim() == 1 else 1


def _class_view(weight, ndim, cd):
    """weight of shape (C,) viewed to broadcast along the class dim of an ndim-d input."""
    if ndim <= 1:
        return weight
    return weight.reshape([-1 if d == cd else 1 for d in range(ndim)])


def _check_index_target(input, target, weight):
    """nll_loss_nd's checks, with its exception types and messages."""
    nd = input.dim()
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and input.shape[0] != (target.shape[0] if target.dim() else 0):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.dim() else 0}).")
    if target.dtype not in (ember.int64, ember.uint8):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_name(target.dtype)}")
    if weight is not None and weight.dtype != input.dtype:
        raise RuntimeError(f"expected scalar type {_name(input.dtype)} but found "
                           f"{_name(weight.dtype)}")
    n_classes = input.shape[_class_dim(input)]
    bad_weight = weight is not None and (weight.dim() != 1 or weight.numel() != n_classes)
    if nd <= 2:
        if target.dim() > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if nd == 1 and target.dim() == 1 and target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
        if bad_weight:
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{_size(weight.shape)}")
        return
    if nd == 4 and target.dim() != 3:
        raise RuntimeError(f"only batches of spatial targets supported (3D tensors) but got "
                           f"targets of dimension: {target.dim()}")
    if bad_weight:
        raise RuntimeError("weight tensor should be defined either for all or no classes")
    if tuple(target.shape[1:]) != tuple(input.shape[2:]):
        if nd == 4:
            raise RuntimeError(f"size mismatch (got input: {_size(input.shape)} , target: "
                               f"{_size(target.shape)}")
        raise RuntimeError(f"Expected target size {[input.shape[0], *input.shape[2:]]}, got "
                           f"{_size(target.shape)}")


def _index_parts(x, target, weight, *, cd, ignore_index, reduction, smoothing, logits):
    """Loss for class-index targets, and what the hand-written backward needs.

    x holds logits (cross_entropy, `logits`) or log-probabilities (nll_loss) along dim cd.
    Per position: -(1-s) w[t] logp[t] - (s/C) sum_c w[c] logp[c], zero where t is ignored;
    'mean' divides the sum by the total weight w[t] of the non-ignored positions."""
    logp = log_softmax(x, cd) if logits else x
    valid = target != ignore_index
    safe = ember.where(valid, target, 0)  # ignored positions read class 0, then weigh 0
    idx = safe.unsqueeze(cd)
    picked = logp.gather(cd, idx).squeeze(cd)
    wt = valid.to(logp.dtype) if weight is None else weight[safe] * valid
    loss = -(picked * wt)
    if smoothing > 0:
        n_classes = logp.shape[cd]
        every = logp if weight is None else logp * _class_view(weight, logp.dim(), cd)
        smooth = every.sum(cd) * valid
        loss = loss * (1 - smoothing) - smooth * (smoothing / n_classes)
    if reduction == "none":
        return loss, (logp, wt, idx, valid, None)
    if reduction == "sum":
        return loss.sum(), (logp, wt, idx, valid, None)
    total = wt.sum()
    return loss.sum() / total, (logp, wt, idx, valid, total)


def _index_backward(g, saved, needs, *, cd, ignore_index, reduction, smoothing, logits):
    """d loss / d x for _index_parts: for logits softmax * (row weight) minus the scattered
    target weights (and the smoothing share), for log-probabilities just the scatter."""
    x, target, weight, logp, wt, idx, valid, total = saved
    if not needs[0]:
        return None, None, None
    if reduction == "mean":
        # all positions ignored: PyTorch's loss is nan but its gradient 0 (not 0 * inf)
        g = g / total.masked_fill(total == 0, 1)
    a = (g * wt).unsqueeze(cd)
    keep = 1 - smoothing if smoothing > 0 else 1
    if logits:
        coeff = a * keep if keep != 1 else a
        if smoothing > 0:
            share = (g * valid).unsqueeze(cd) * (smoothing / logp.shape[cd])
            w_all = logp.shape[cd] if weight is None else weight.sum()
            coeff = coeff + share * w_all
        grad = ember.exp(logp).mul_(coeff)
        if smoothing > 0:
            grad.sub_(share if weight is None else share * _class_view(weight, logp.dim(), cd))
    else:
        grad = ember.zeros_like(logp)
    grad.scatter_add_(cd, idx, a * -keep)
    return grad, None, None


def _index_composite(*tensors, **attrs):
    return _index_parts(*tensors, **attrs)[0]


_index_loss = fused("NllLoss", _index_parts, _index_backward, _index_composite)


def _raise_target_out_of_bounds(target, n_classes, ignore_index, error):
    """Report an out-of-range class index as PyTorch does (IndexError naming the value)."""
    bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if bool(bad.any()):
        raise IndexError(f"Target {int(target[bad][0])} is out of bounds.") from None
    raise error


def _index_target_loss(input, target, weight, ignore_index, reduction, smoothing, logits):
    _check_index_target(input, target, weight)
    if target.dtype == ember.uint8:
        target = target.long()
    if input.dim() == 1 and target.dim() == 1:  # (C,) with (1,): one sample, scalar loss
        target = target.reshape(())
    attrs = dict(cd=_class_dim(input), ignore_index=ignore_index, reduction=reduction,
                 smoothing=smoothing, logits=logits)
    try:
        if weight is not None and weight.requires_grad:  # the fused node has no weight grad
            return _index_composite(input, target, weight, **attrs)
        return _index_loss(input, target, weight, **attrs)
    except (RuntimeError, IndexError) as e:
        _raise_target_out_of_bounds(target, input.shape[attrs["cd"]], ignore_index, e)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    return _index_target_loss(input, target, weight, ignore_index, reduction, 0.0, False)


def _probability_target_loss(input, target, weight, ignore_index, reduction, smoothing):
    if not target.is_floating_point():
        raise RuntimeError(f"Expected floating point type for target with class probabilities, "
                           f"got {_name(target.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    cd = _class_dim(input)
    n_classes = input.shape[cd]
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all "
                           f"{n_classes} classes or no classes but got weight tensor of shape: "
                           f"{_size(weight.shape)}")
    logp = log_softmax(input, cd)
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / n_classes
    terms = logp * target
    if weight is not None:
        terms = terms * _class_view(weight, input.dim(), cd)
    if reduction == "none":
        return -terms.sum(cd)
    if reduction == "sum":
        return -terms.sum()
    positions = input.numel() // n_classes if n_classes else 0
    return -terms.sum() / positions if positions else terms.sum() * math.nan


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = _reduction(size_average, reduce, reduction)
    if label_smoothing > 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    probabilities = input.shape == target.shape
    if input.dim() == 0:  # PyTorch's log_softmax over dim 1 is what fails first
        raise IndexError("Dimension specified as 1 but tensor has no dimensions" if probabilities
                         else "Dimension out of range (expected to be in range of [-1, 0], but "
                              "got 1)")
    if probabilities:
        return _probability_target_loss(input, target, weight, ignore_index, reduction,
                                        label_smoothing)
    return _index_target_loss(input, target, weight, ignore_index, reduction,
                              max(label_smoothing, 0.0), True)


# ---------------------------------------------------------------- binary cross entropy

def _bce_value(x, t):
    # PyTorch clamps each log at -100 so that a saturated probability gives a finite loss
    return (t - 1) * x.neg().log1p().clamp_min(-100) - t * x.log().clamp_min(-100)


def _bce_forward(x, t):
    return _bce_value(x, t), ()


def _bce_backward(g, saved, needs):
    x, t = saved
    gx = g * (x - t) / ((1 - x) * x).clamp_min(1e-12) if needs[0] else None
    gt = -g * ember.logit(x) if needs[1] else None
    return gx, gt


def _bce_composite(x, t):
    """The meaning for traced graphs and create_graph, with PyTorch's gradients, which are
    not the clamped forward's: d/dx = (x - t) / max(x (1 - x), 1e-12), d/dt = -logit(x).
    The value is the clamped forward's; a zero-valued term h - h.detach() carries the
    gradient: h = -t log x - (1 - t) log(1 - x) where x (1 - x) >= 1e-12 (its derivative is
    the formula), 1e12 (x^2 / 2 - t x) where the denominator is clamped (derivative
    1e12 (x - t)), and there the target's gradient -logit(x) as a constant, or, where that
    is infinite (x is 0 or 1), the infinite slope of sqrt at 0."""
    value = _bce_value(x, t).detach()
    safe = (x * (1 - x) >= 1e-12).detach()
    half = ember.full((), 0.5, dtype=x.dtype)
    xs = ember.where(safe, x, half)
    smooth = -t * xs.log() - (1 - t) * xs.neg().log1p()
    xd, td = x.detach(), t.detach()
    clamped = 1e12 * (x * x / 2 - td * x)
    slope = -ember.logit(xd)
    finite = slope.isfinite()
    zero = ember.zeros((), dtype=x.dtype)
    dt = t - td
    steep = ember.where(finite, zero, slope.sign()) * ember.where(finite, 1 + dt, dt).sqrt()
    clamped = clamped + dt * ember.where(finite, slope, zero) + steep
    h = ember.where(safe, smooth, clamped)
    return value + (h - h.detach())


_bce = fused("BinaryCrossEntropy", _bce_forward, _bce_backward, _bce_composite)


def _check_unit_interval(t, what):
    if t.numel() == 0 or ember.jit.is_tracing():  # a data check: not part of a traced graph
        return
    lo, hi = ember.aminmax(t.detach())
    if not (bool(lo >= 0) and bool(hi <= 1)):  # nan fails too, as in PyTorch
        raise RuntimeError(f"all elements of {what} should be between 0 and 1")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         f"size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_name(target.dtype)} but expected {_name(input.dtype)}")
    _check_unit_interval(input, "input")
    _check_unit_interval(target, "target")
    loss = _bce(input, target)
    if weight is not None:
        loss = loss * weight.expand(ember.broadcast_shapes(target.shape, weight.shape))
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _reduction(size_average, reduce, reduction)
    if target.size() != input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    for w in (pos_weight, weight):
        _check_broadcasts_into(w, input)
    # (1 - t) x - lw log(sigmoid(x)) with lw = 1 + (pos_weight - 1) t: stable for any x
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_sig = log_sig * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _check_broadcasts_into(w, input):
    """PyTorch applies (pos_)weight in place on an input-shaped tensor: w may not widen it."""
    if w is None:
        return
    shape = ember.broadcast_shapes(w.shape, input.shape)
    if tuple(shape) != tuple(input.shape):
        raise RuntimeError(f"output with shape {_size(input.shape)} doesn't match the broadcast "
                           f"shape {_size(shape)}")


# ---------------------------------------------------------------- distribution losses

def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    if size_average is not None or reduce is not None:
        summed = _checked(legacy_get_string(size_average, reduce))
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          stacklevel=2)
        summed = "sum" if reduction == "batchmean" else _checked(reduction)
    if log_target:
        loss = ember.exp(target) * (target - input)
    else:
        loss = ember.xlogy(target, target) - target * input
    out = _reduce(loss, summed)
    if reduction == "batchmean" and input.dim() != 0:
        out = out / input.shape[0]
    return out


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in _REDUCE:
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = ember.exp(input) - target * input
    else:
        loss = input - target * ember.log(input + eps)
    if full:  # Stirling's approximation of log(target!), for targets above 1
        stirling = (target * ember.log(target) - target
                    + 0.5 * ember.log(2 * math.pi * target))
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def _gaussian_var(input, var):
    """var as PyTorch accepts it: a float, input's shape, input's shape without its last dim,
    or broadcastable with exactly one mismatched dim of size 1."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return var * ember.ones_like(input)
    # a data check: not part of a traced graph (as _check_unit_interval)
    if not ember.jit.is_tracing() and ember.any(var < 0):
        raise ValueError("var has negative entry/entries")
    if var.size() == input.size():
        return var
    if input.size()[:-1] == var.size():
        return ember.unsqueeze(var, -1)
    if input.dim() == var.dim() and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ValueError("var is of incorrect size")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    var = _gaussian_var(input, var)
    if reduction not in _REDUCE:
        raise ValueError(reduction + " is not valid")
    # clamped for stability without cutting var's gradient (PyTorch clamps a clone in place
    # under no_grad); spelled as a detached correction so that a trace keeps the gradient
    # path too, and exact where no clamping happens (also for inf/nan entries)
    with ember.no_grad():
        lift = ember.where(var < eps, eps - var, ember.zeros((), dtype=var.dtype))
    var = var + lift
    loss = 0.5 * (ember.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- embedding and ranking losses

def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    tdim = target.dim()
    if tdim not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = 2 if tdim == 1 else 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(f"{tdim}D target tensor expects {want}D input tensors, but found "
                           f"inputs with sizes {_size(input1.shape)} and "
                           f"{_size(input2.shape)}.")
    eps = 1e-12  # PyTorch's EPSILON, added to each squared magnitude
    prod = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + eps
    mag2 = (input2 * input2).sum(tdim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    zeros = ember.zeros_like(cos)
    pos = ember.where(target == 1, 1 - cos, zeros)
    neg = ember.where(target == -1, (cos - margin).clamp_min(0), zeros)
    return _reduce(pos + neg, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    zeros = ember.zeros_like(input)
    below = ember.where(target != 1, (margin - input).clamp_min(0), zeros)
    above = ember.where(target != -1, input, zeros)
    return _reduce(below + above, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.size()}, input2: {input2.size()}, "
                           f"target: {target.size()} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    # log(1 + exp(-y x)) == -log(sigmoid(y x)), without overflow for large margins
    return _reduce(-logsigmoid(input * target), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    reduction = _legacy(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.size(class_dim)
    if reduction not in _REDUCE:
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def _margin_frames(input):
    """(frames, classes) of a multi[label]_margin input: a vector or a batch of vectors."""
    nd = input.dim()
    if not ((nd == 2 and input.shape[1] != 0) or (nd == 1 and input.shape[0] != 0) or nd == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {_size(input.shape)}")
    if nd <= 1:
        return 1, 1 if nd == 0 else input.shape[0]
    return input.shape[0], input.shape[1]


def _require_long(target):
    if target.dtype != ember.int64:
        raise RuntimeError(f"expected scalar type Long but found {_name(target.dtype)}")


def _in_range(target, lo, hi):
    if target.numel() == 0 or ember.jit.is_tracing():  # the graph's gather checks bounds
        return True
    t_lo, t_hi = ember.aminmax(target)
    return int(t_lo) >= lo and int(t_hi) < hi


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    frames, n_classes = _margin_frames(input)
    if target.dim() > 1 or target.numel() != frames:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{frames}], but got {_size(target.shape)}. Input has shape "
                           f"{_size(input.shape)}.")
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(f"inconsistent weight size, expected {n_classes} but got "
                           f"{_size(weight.shape)}")
    _require_long(target)
    if not _in_range(target, 0, n_classes):
        raise RuntimeError("target out of range")
    x = input.reshape(frames, n_classes)
    t = target.reshape(frames, 1)
    z = relu(margin - x.gather(1, t) + x)  # PyTorch counts (and differentiates) z > 0 only
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[t]
    others = ember.arange(n_classes) != t
    loss = (z * others).sum(1) / n_classes
    if reduction == "none":
        return loss.reshape(target.shape)
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    frames, n_classes = _margin_frames(input)
    expected = (n_classes,) if input.dim() <= 1 else (frames, n_classes)
    if (input.dim() <= 1 and (target.dim() > 1 or target.numel() != n_classes)) or \
            (input.dim() == 2 and tuple(target.shape) != expected):
        raise RuntimeError(f"inconsistent target size: {_size(target.shape)} for input of size: "
                           f"{_size(input.shape)}")
    _require_long(target)
    if not _in_range(target, -1, n_classes):
        raise RuntimeError("argument #2 'target' is out of range")
    x = input.reshape(frames, n_classes)
    t = target.reshape(frames, n_classes)
    # the labels of a row are its entries before the first -1
    listed = (t >= 0).long().cumprod(1).to(x.dtype)
    safe = t.clamp_min(0)
    is_label = ember.zeros_like(x).scatter_add(1, safe, listed) > 0
    z = relu(1 - x.gather(1, safe).unsqueeze(2) + x.unsqueeze(1))  # (frame, label j, class d)
    pairs = listed.unsqueeze(2) * (~is_label).unsqueeze(1)
    loss = (z * pairs).sum((1, 2)) / n_classes
    if reduction == "none":
        return loss if input.dim() == 2 else loss.reshape(())
    return _reduce(loss, reduction)


def _triplet(d_pos, d_neg, d_swap, margin, reduction):
    if d_swap is not None:
        d_neg = ember.minimum(d_neg, d_swap)
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def _check_triplet(anchor, positive, negative, margin):
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not a == p == n:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction(size_average, reduce, reduction)
    _check_triplet(anchor, positive, negative, margin)
    d_swap = pairwise_distance(positive, negative, p, eps) if swap else None
    return _triplet(pairwise_distance(anchor, positive, p, eps),
                    pairwise_distance(anchor, negative, p, eps), d_swap, margin, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    if reduction not in _REDUCE:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check_triplet(anchor, positive, negative, margin)
    dist = distance_function if distance_function is not None else pairwise_distance
    d_swap = dist(positive, negative) if swap else None
    return _triplet(dist(anchor, positive), dist(anchor, negative), d_swap, margin, reduction)


# ---------------------------------------------------------------- CTC

_CHECKING = " (while checking arguments for ctc_loss_allocate_outputs)"


def _lengths(lengths, what):
    """input_lengths / target_lengths as a list of ints (a tensor, a sequence or an int)."""
    if isinstance(lengths, ember.Tensor):
        if lengths.is_floating_point() or lengths.dtype == ember.bool:
            raise RuntimeError(f"{what} must be integral")
        return [int(v) for v in lengths.reshape(-1).tolist()]
    if hasattr(lengths, "__index__"):
        return [operator.index(lengths)]
    return [operator.index(v) for v in lengths]


def _check_ctc(log_probs, targets, il, tl, blank):
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    if log_probs.dim() != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {log_probs.dim()}-dimensional "
                           f"tensor for argument #1 'log_probs'{_CHECKING}")
    if not 1 <= targets.dim() <= 2:
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.dim()}-dimensional "
                           f"tensor for argument #2 'targets'{_CHECKING}")
    max_time, batch, n_labels = log_probs.shape
    if not 0 <= blank < n_labels:
        raise RuntimeError("blank must be in label range")
    for lengths, what in ((il, "input_lengths"), (tl, "target_lengths")):
        if len(lengths) != batch:
            raise RuntimeError(f"{what} must be of size batch_size")
    for v in tl:
        if v < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                               f"{v}{_CHECKING}")
    want = sum(tl) if targets.dim() == 1 else batch  # concatenated or padded rows
    if targets.shape[0] != want:
        raise RuntimeError(f"Expected tensor to have size {want} at dimension 0, but got size "
                           f"{targets.shape[0]} for argument #2 'targets'{_CHECKING}")
    if targets.dim() == 2 and targets.shape[1] < max(tl, default=0):
        raise RuntimeError(f"Expected tensor to have size at least {max(tl)} at dimension 1, but "
                           f"got size {targets.shape[1]} for argument #2 'targets'{_CHECKING}")
    for v in il:
        if v < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value "
                               f"{v}{_CHECKING}")
        if v > max_time:
            raise RuntimeError(f"Expected input_lengths to have value at most {max_time}, but got "
                               f"value {v}{_CHECKING}")


def _padded_labels(targets, tl):
    """(N, S) label rows, S the longest target; concatenated targets are cut per sample."""
    s_max = max(tl, default=0)
    if targets.dim() == 2:
        return targets[:, :s_max].long()
    if targets.shape[0] == 0:
        return ember.zeros(len(tl), s_max, dtype=ember.int64)
    offsets = [sum(tl[:n]) for n in range(len(tl))]
    last = targets.shape[0] - 1  # positions past a short target read any valid label
    idx = [[min(o + s, last) for s in range(s_max)] for o in offsets]
    return targets.long()[ember.tensor(idx, dtype=ember.int64).reshape(len(tl), s_max)]


def _extended(labels, blank):
    """The blank-interleaved label sequence l' (N, 2S+1) and where a skip l'[s-2] -> l'[s] is
    allowed (l'[s] is a label different from l'[s-2])."""
    n, s = labels.shape
    blanks = ember.full((n, s), blank, dtype=ember.int64)
    ext = ember.cat([ember.stack([blanks, labels], 2).reshape(n, 2 * s),
                     ember.full((n, 1), blank, dtype=ember.int64)], 1)
    skip = ember.zeros((n, 2 * s + 1), dtype=ember.bool)
    if s:
        skip[:, 2:] = ext[:, 2:] != ext[:, :-2]
    return ext, skip


def _lse(x, dim):
    """log(sum(exp(x))) over dim, whose gradient is 0 (not nan) where every term is -inf: the
    composite below is differentiated through it (eagerly under create_graph, and in traced
    graphs), and a zero gradient reaching an impossible prefix must stay zero. The shift m
    is a gradient cut: its gradient would be g * (1 - sum of the softmax weights), zero but
    for rounding."""
    m = x.amax(dim, keepdim=True).detach()
    dead = ember.isinf(m)
    m0 = ember.where(dead, ember.zeros((), dtype=m.dtype), m)
    total = ember.exp(x - m0).sum(dim, keepdim=True)
    total = ember.where(dead, ember.ones((), dtype=m.dtype), total)
    return ember.where(dead, m, m0 + ember.log(total)).squeeze(dim)


def _lse3(a, b, c):
    return _lse(ember.stack([a, b, c]), 0)


def _ctc_alpha(log_probs, labels, il, tl, blank):
    """The forward recursion: (ext, skip, lpe, alpha, nll, il_t, tl_t), nll (N,) the negative
    log likelihood per sample, alpha (T', N, 2S+1) over the first T' = max(il, 1) frames and
    lpe the log-probabilities of the extended labels there."""
    max_time, batch, _ = log_probs.shape
    ext, skip = _extended(labels, blank)
    width = ext.shape[1]
    steps = max(max(il, default=0), 1)
    lpe = log_probs[:steps].gather(2, ext.unsqueeze(0).expand(steps, batch, width))
    ninf = ember.full((batch, 2), -math.inf, dtype=log_probs.dtype)
    ninf1 = ember.full((), -math.inf, dtype=log_probs.dtype)
    il_t = ember.tensor(il, dtype=ember.int64)
    tl_t = ember.tensor(tl, dtype=ember.int64)
    pos = ember.arange(width)
    alpha = [ember.where((pos < 2) & (pos <= 2 * tl_t.unsqueeze(1)), lpe[0], ninf1)]
    for t in range(1, steps):
        prev = ember.cat([ninf, alpha[-1]], 1)  # prev[:, s + 2] is alpha[t-1, s]
        alpha.append(_lse3(alpha[-1], prev[:, 1:width + 1],
                           ember.where(skip, prev[:, :width], ninf1)) + lpe[t])
    alpha = ember.stack(alpha)
    # the paths end on the last label or the blank after it, at time input_length - 1
    last = alpha[(il_t - 1).clamp_min(0), ember.arange(batch)]
    ends = ember.stack([2 * tl_t, (2 * tl_t - 1).clamp_min(0)], 1)
    no_label = ember.stack([ember.zeros_like(tl_t, dtype=ember.bool), tl_t == 0], 1)
    nll = -_lse(last.gather(1, ends).masked_fill(no_label, -math.inf), 1)
    # no frames: an empty target costs nothing, any other is impossible
    no_frames = ember.zeros_like(nll).masked_fill(tl_t > 0, math.inf)
    nll = ember.where(il_t == 0, no_frames, nll)
    return ext, skip, lpe, alpha, nll, il_t, tl_t


def _ctc_forward(log_probs, *, labels, il, tl, blank, zero_infinity):
    ext, skip, lpe, alpha, nll, il_t, tl_t = _ctc_alpha(log_probs, labels, il, tl, blank)
    return nll, (ext, skip, lpe, alpha, nll, il_t, tl_t)


def _ctc_backward(g, saved, needs, *, labels, il, tl, blank, zero_infinity):
    """PyTorch's alpha-beta gradient: exp(lp) - exp(log(sum alpha beta over the positions of
    each label) + nll - lp) on the frames t < input_length, times g."""
    log_probs, ext, skip, lpe, alpha, nll, il_t, tl_t = saved
    if not needs[0]:
        return (None,)
    max_time, batch, n_labels = log_probs.shape
    steps, _, width = lpe.shape
    ninf = ember.full((batch, 2), -math.inf, dtype=log_probs.dtype)
    ninf1 = ember.full((), -math.inf, dtype=log_probs.dtype)
    pos = ember.arange(width)
    tl2 = 2 * tl_t.unsqueeze(1)
    end = (pos == tl2) | ((pos == tl2 - 1) & (tl2 > 0))
    final_t = (il_t - 1).unsqueeze(1)
    skip_up = ember.cat([skip, ember.zeros((batch, 2), dtype=ember.bool)], 1)[:, 2:]
    beta = [None] * steps
    nxt = ember.full((batch, width), -math.inf, dtype=log_probs.dtype)
    for t in range(steps - 1, -1, -1):
        up = ember.cat([nxt, ninf], 1)  # up[:, s + k] is beta[t+1, s + k], -inf past the end
        rec = _lse3(nxt, up[:, 1:width + 1], ember.where(skip_up, up[:, 2:], ninf1)) + lpe[t]
        start = ember.where(end, lpe[t], ninf1)
        nxt = ember.where(final_t == t, start, ember.where(final_t > t, rec, ninf1))
        beta[t] = nxt
    both = alpha + ember.stack(beta)  # log(alpha * beta), emission counted twice
    # log-sum-exp of `both` over the positions s carrying each label: (T, N, C)
    where_to = ext.unsqueeze(0).expand(steps, batch, width)
    top = ember.full((steps, batch, n_labels), -math.inf, dtype=both.dtype)
    top = top.scatter_reduce(2, where_to, both, "amax")
    top = top.masked_fill(ember.isinf(top), 0)
    sums = ember.zeros((steps, batch, n_labels), dtype=both.dtype)
    sums = sums.scatter_add(2, where_to, ember.exp(both - top.gather(2, where_to)))
    lcab = ember.log(sums) + top
    lp = log_probs[:steps]
    live = _ctc_live(steps, il_t)
    if zero_infinity:  # impossible alignments get no gradient (and no inf - inf)
        impossible = ember.isinf(nll)
        live = live & ~impossible.view(1, batch)
        nll = nll.masked_fill(impossible, 0)
    grad = (ember.exp(lp) - ember.exp(lcab + nll.view(1, batch, 1) - lp)) * g.view(1, batch, 1)
    grad = ember.where(live.unsqueeze(2), grad, ember.zeros((), dtype=grad.dtype))
    if steps < max_time:
        grad = ember.cat([grad, ember.zeros((max_time - steps, batch, n_labels),
                                            dtype=grad.dtype)], 0)
    return (grad,)


def _ctc_live(steps, il_t):
    """(T', N): frame t of sample n is inside its input (t < input_length)."""
    return ember.arange(steps).view(steps, 1) < il_t.view(1, il_t.shape[0])


def _nan_gradient(x):
    """exp(log(x)) for x >= 0: x in value, and where x is 0 a nan gradient (log's 0 / 0)."""
    return ember.exp(ember.log(x))


def _ctc_composite(log_probs, *, labels, il, tl, blank, zero_infinity):
    """The meaning, with PyTorch's gradient g * (exp(lp) - exp(lcab + nll - lp)) on the live
    frames, whose second term alone is the recursion's own derivative:
    - the exp(lp) term (PyTorch assumes log_softmax inputs, whose backward cancels it, so it
      shows only for log-probabilities that are leaves) enters as the sum of e - e.detach(),
      e = exp(lp) on the live frames: zero in value, exp(lp) in gradient. detach is a
      gradient cut here because traced graphs record this composite as plain ops (inside an
      autograd.Function forward the tracer does not cut at detach);
    - where a live lp is -inf, PyTorch's -inf + inf makes the gradient nan: there the term
      is _nan_gradient(e) (e is 0), on possible samples (the others are the next case);
    - an impossible sample (nll = inf) gets no gradient with zero_infinity, and nan on its
      live frames without: -log(0 * sum(e)) is inf in value and nan in gradient there, and
      finite elsewhere, so that the branch `where` does not select stays clean."""
    _, _, _, _, nll, il_t, _ = _ctc_alpha(log_probs, labels, il, tl, blank)
    steps = max(max(il, default=0), 1)
    lp = log_probs[:steps]
    zero, one = (ember.full((), v, dtype=lp.dtype) for v in (0.0, 1.0))
    live = _ctc_live(steps, il_t).unsqueeze(2)
    impossible = ember.isinf(nll.detach())
    e = ember.where(live, ember.exp(lp), zero)
    undefined = live & (lp == -math.inf) & ~impossible.view(1, -1, 1)
    term = ember.where(undefined, _nan_gradient(ember.where(undefined, e, one)), e - e.detach())
    nll = nll + term.sum((0, 2))
    if zero_infinity:
        return ember.where(impossible, nll.detach(), nll)
    inf_nan_grad = -ember.log(e.sum((0, 2)) * ember.where(impossible, zero, one))
    return ember.where(impossible, inf_nan_grad, nll)


_ctc = fused("CtcLoss", _ctc_forward, _ctc_backward, _ctc_composite)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    reduction = _checked(reduction)
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    il = _lengths(input_lengths, "input_lengths")
    tl = _lengths(target_lengths, "target_lengths")
    _check_ctc(lp, targets, il, tl, blank)
    nll = _ctc(lp, labels=_padded_labels(targets, tl), il=il, tl=tl, blank=blank,
               zero_infinity=zero_infinity)
    if zero_infinity:
        nll = ember.where(nll == math.inf, ember.zeros((), dtype=nll.dtype), nll)
    if reduction == "mean":
        return (nll / ember.tensor(tl, dtype=nll.dtype).clamp_min(1)).mean()
    if reduction == "sum":
        return nll.sum()
    return nll if batched else nll.squeeze(0)
