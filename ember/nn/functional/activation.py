"""Activation functions: relu family, gelu/silu/mish, sigmoid/tanh family, shrinkage,
softmax/log_softmax/softmin/gumbel_softmax, glu, prelu, rrelu, and the in-place forms
PyTorch has (relu_, elu_, ...).

Each pointwise activation is one autograd node (ember/nn/functional/_fused.py) whose
backward reproduces PyTorch's gradient at the kinks (e.g. hardtanh passes no gradient at
its bounds, relu none at 0). The ones that dominate training (relu, gelu, silu, softmax,
log_softmax) have tuned forwards and backwards with in-place temporaries."""
from __future__ import annotations

import math
import warnings

import ember

from ._fused import fused

__all__ = ["threshold", "threshold_", "relu", "relu_", "hardtanh", "hardtanh_", "relu6", "elu",
           "elu_", "selu", "selu_", "celu", "celu_", "leaky_relu", "leaky_relu_", "prelu",
           "rrelu", "rrelu_", "glu", "gelu", "logsigmoid", "hardshrink", "tanhshrink",
           "softsign", "softplus", "softmin", "softmax", "gumbel_softmax", "log_softmax",
           "softshrink", "tanh", "sigmoid", "hardsigmoid", "silu", "mish", "hardswish"]

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_ONE_SIXTH_F32 = 0.1666666716337204  # PyTorch's hardsigmoid backward uses float(1/6) for all dtypes


def _inplace(input, result):
    """Write an out-of-place result back into input; autograd rebases input's history."""
    return input.copy_(result)


def _recording(t):
    return t.requires_grad and ember.is_grad_enabled()


def _zero(like):
    return ember.zeros((), dtype=like.dtype)


def _const(value, like):
    return ember.full((), value, dtype=like.dtype)


def _masked(cond, g):
    """g where cond holds, 0 elsewhere (0 even where g is inf/nan, as PyTorch's kernels)."""
    return ember.where(cond, g, _zero(g))


def _pointwise(name, value, grad, composite):
    """An activation y = value(x) with dL/dx = grad(g, x, y). Both are written with ember
    ops on x and y only, so the backward is itself differentiable (create_graph).
    `composite` is the meaning in differentiable ops whose own gradient equals `grad`, kinks
    included (inclusive/exclusive comparisons chosen as PyTorch's kernels): tracing records
    it, so graph autodiff and create_graph agree with the eager backward."""
    def forward(x, **kw):
        out = value(x, **kw)
        return out, (out,)

    def backward(g, saved, needs, **kw):
        x, out = saved
        return (grad(g, x, out, **kw),)

    return fused(name, forward, backward, composite)


def _with_inplace(fn):
    """fn(input, ..., inplace=False) -> fn_(input, ...), PyTorch's in-place spelling."""
    def fn_(input, *args, **kwargs):
        return fn(input, *args, inplace=True, **kwargs)
    fn_.__name__ = fn.__name__ + "_"
    return fn_


# ---------------------------------------------------------------- relu

def _relu_composite(x):
    return ember.where(x > 0, x, _zero(x))


def _relu_forward(x):
    out = ember.relu(x)
    return out, (out,)


def _relu_backward(g, saved, needs):
    _, out = saved
    return (_masked(out > 0, g),)


_relu = fused("ReluBackward", _relu_forward, _relu_backward, _relu_composite)


def relu(input, inplace=False):
    if not _recording(input):  # the core's relu: one NumPy call when nothing is recorded
        return ember.relu_(input) if inplace else ember.relu(input)
    out = _relu(input)
    return _inplace(input, out) if inplace else out


relu_ = _with_inplace(relu)


# ---------------------------------------------------------------- threshold / hardtanh / relu6

def _threshold_value(x, threshold, value):
    return ember.where(x > threshold, x, _const(value, x))


_threshold = _pointwise(
    "ThresholdBackward", _threshold_value,
    lambda g, x, out, threshold, value: _masked(x > threshold, g), _threshold_value)


def threshold(input, threshold, value, inplace=False):
    out = _threshold(input, threshold=threshold, value=value)
    return _inplace(input, out) if inplace else out


threshold_ = _with_inplace(threshold)

def _hardtanh_composite(x, lo, hi):
    # no gradient at the bounds themselves (PyTorch's mask is lo < x < hi)
    return ember.where(x <= lo, _const(lo, x), ember.where(x >= hi, _const(hi, x), x))


_hardtanh = _pointwise(
    "HardtanhBackward",
    lambda x, lo, hi: x.clamp(lo, hi),
    lambda g, x, out, lo, hi: _masked((x > lo) & (x < hi), g), _hardtanh_composite)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    out = _hardtanh(input, lo=min_val, hi=max_val)
    return _inplace(input, out) if inplace else out


hardtanh_ = _with_inplace(hardtanh)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


# ---------------------------------------------------------------- elu / selu / celu

def _elu_value(x, alpha, scale, input_scale):
    neg = x.clamp_max(0).mul_(input_scale).expm1_().mul_(alpha * scale)
    return ember.where(x > 0, x * scale, neg)


def _elu_grad(g, x, out, alpha, scale, input_scale):
    # below 0, d/dx [a s (exp(x i) - 1)] = i (out + a s): PyTorch's rule written on the output
    return ember.where(x > 0, g * scale, g * ((out + alpha * scale) * input_scale))


def _elu_composite(x, alpha, scale, input_scale):
    # the exponential branch sees x only where x <= 0 (no overflow, no 0 * inf in its
    # gradient), and at x == 0 it is the branch taken, as in PyTorch's backward
    neg = ember.expm1(ember.where(x > 0, _zero(x), x) * input_scale) * (alpha * scale)
    return ember.where(x > 0, x * scale, neg)


_elu = _pointwise("EluBackward", _elu_value, _elu_grad, _elu_composite)


def elu(input, alpha=1.0, inplace=False):
    out = _elu(input, alpha=alpha, scale=1.0, input_scale=1.0)
    return _inplace(input, out) if inplace else out


def selu(input, inplace=False):
    out = _elu(input, alpha=_SELU_ALPHA, scale=_SELU_SCALE, input_scale=1.0)
    return _inplace(input, out) if inplace else out


def celu(input, alpha=1.0, inplace=False):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    out = _elu(input, alpha=alpha, scale=1.0, input_scale=1.0 / alpha)
    return _inplace(input, out) if inplace else out


elu_, selu_, celu_ = _with_inplace(elu), _with_inplace(selu), _with_inplace(celu)


# ---------------------------------------------------------------- leaky_relu / prelu / rrelu

def _leaky_relu_value(x, slope):
    return ember.where(x > 0, x, x * slope)


_leaky_relu = _pointwise(
    "LeakyReluBackward", _leaky_relu_value,
    lambda g, x, out, slope: ember.where(x > 0, g, g * slope), _leaky_relu_value)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _leaky_relu(input, slope=negative_slope)
    return _inplace(input, out) if inplace else out


leaky_relu_ = _with_inplace(leaky_relu)


def prelu(input, weight):
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    n = weight.numel()
    if n != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.dim() >= 2 else 1
        if n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
        weight = weight.reshape(n, *([1] * (input.dim() - 2)))
    return ember.where(input > 0, input, weight * input)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    slopes = ember.empty(input.shape, dtype=input.dtype).uniform_(lower, upper)
    out = ember.where(input > 0, input, input * slopes)
    return _inplace(input, out) if inplace else out


rrelu_ = _with_inplace(rrelu)


# ---------------------------------------------------------------- gelu

def _gelu_exact_composite(x):
    return x * 0.5 * (1.0 + ember.erf(x * _SQRT1_2))


def _gelu_exact_forward(x):
    cdf = (x * _SQRT1_2).erf_().add_(1.0).mul_(0.5)
    return x * cdf, (cdf,)


def _gelu_exact_backward(g, saved, needs):
    x, cdf = saved
    pdf = (x * x).mul_(-0.5).exp_().mul_(_INV_SQRT_2PI)
    return (g * pdf.mul_(x).add_(cdf),)


def _gelu_tanh_composite(x):
    inner = (x + _GELU_C * x * x * x) * _SQRT_2_OVER_PI
    return 0.5 * x * (1.0 + ember.tanh(inner))


def _gelu_tanh_forward(x):
    x2 = x * x
    t = (x2 * _GELU_C).add_(1.0).mul_(x).mul_(_SQRT_2_OVER_PI).tanh_()
    return (t + 1.0).mul_(x).mul_(0.5), (t, x2)


def _gelu_tanh_backward(g, saved, needs):
    x, t, x2 = saved
    # d/dx [x (1+t)/2] = (1+t)/2 + x/2 (1 - t^2) sqrt(2/pi) (1 + 3c x^2)
    dinner = (x2 * (3.0 * _GELU_C)).add_(1.0).mul_(_SQRT_2_OVER_PI)
    sech2 = (t * t).neg_().add_(1.0)
    return (g * dinner.mul_(sech2).mul_(x).add_(t).add_(1.0).mul_(0.5),)


_GELU = {
    "none": fused("GeluBackward", _gelu_exact_forward, _gelu_exact_backward,
                  _gelu_exact_composite),
    "tanh": fused("GeluBackward", _gelu_tanh_forward, _gelu_tanh_backward,
                  _gelu_tanh_composite),
}


def gelu(input, approximate="none"):
    fn = _GELU.get(approximate)
    if fn is None:
        raise RuntimeError("approximate argument must be either none or tanh.")
    return fn(input)


# ---------------------------------------------------------------- silu / mish / hard variants

def _silu_composite(x):
    return x * ember.sigmoid(x)


def _silu_forward(x):
    s = ember.sigmoid(x)
    return x * s, (s,)


def _silu_backward(g, saved, needs):
    x, s = saved
    # s (1 + x (1 - s))
    return (g * (1.0 - s).mul_(x).add_(1.0).mul_(s),)


_silu = fused("SiluBackward", _silu_forward, _silu_backward, _silu_composite)


def silu(input, inplace=False):
    out = _silu(input)
    return _inplace(input, out) if inplace else out


def _softplus_stable(x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return x.clamp_min(0) + ember.log1p(ember.exp(-x.abs()))


def _softplus_smooth(x):
    """log(1 + exp(x)) as a composite whose derivatives are sigmoid's everywhere, 0
    included (no abs/max kink): one smooth branch per sign, each fed only values that
    cannot overflow, so the branch not taken passes a zero gradient, never 0 * inf."""
    pos = x > 0
    xp = ember.where(pos, x, _zero(x))
    xn = ember.where(pos, _zero(x), x)
    return ember.where(pos, xp + ember.log1p(ember.exp(-xp)), ember.log1p(ember.exp(xn)))


def _mish_grad(g, x, out):
    tsp = ember.tanh(_softplus_stable(x))
    return g * (tsp + x * ember.sigmoid(x) * (1.0 - tsp * tsp))


_mish = _pointwise("MishBackward", lambda x: x * ember.tanh(_softplus_stable(x)), _mish_grad,
                   lambda x: x * ember.tanh(_softplus_smooth(x)))


def mish(input, inplace=False):
    out = _mish(input)
    return _inplace(input, out) if inplace else out


_hardsigmoid = _pointwise(
    "HardsigmoidBackward",
    lambda x: (x + 3.0).clamp_(0.0, 6.0).div_(6.0),
    lambda g, x, out: _masked((x > -3.0) & (x < 3.0), g * _ONE_SIXTH_F32),
    lambda x: ember.where(x <= -3.0, _zero(x),
                          ember.where(x >= 3.0, _const(1.0, x), (x + 3.0) / 6.0)))


def hardsigmoid(input, inplace=False):
    out = _hardsigmoid(input)
    return _inplace(input, out) if inplace else out


_hardswish = _pointwise(
    "HardswishBackward",
    lambda x: (x + 3.0).clamp_(0.0, 6.0).mul_(x).div_(6.0),
    lambda g, x, out: _masked(x > -3.0, ember.where(x < 3.0, g * (x / 3.0 + 0.5), g)),
    lambda x: ember.where(x <= -3.0, _zero(x), ember.where(x < 3.0, x * (x + 3.0) / 6.0, x)))


def hardswish(input, inplace=False):
    out = _hardswish(input)
    return _inplace(input, out) if inplace else out


# ---------------------------------------------------------------- sigmoid family

def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


_logsigmoid = _pointwise(
    "LogSigmoidBackward",
    lambda x: -_softplus_stable(-x),
    lambda g, x, out: g * ember.sigmoid(-x),
    lambda x: -_softplus_smooth(-x))


def logsigmoid(input):
    return _logsigmoid(input)


def _softplus_value(x, beta, threshold):
    xb = x * beta
    soft = _softplus_stable(xb).div_(beta)
    return ember.where(xb > threshold, x, soft)


def _softplus_composite(x, beta, threshold):
    xb = x * beta
    return ember.where(xb > threshold, x, _softplus_smooth(xb) / beta)


_softplus = _pointwise(
    "SoftplusBackward", _softplus_value,
    lambda g, x, out, beta, threshold: ember.where(x * beta > threshold, g,
                                                   g * ember.sigmoid(x * beta)),
    _softplus_composite)


def softplus(input, beta=1.0, threshold=20.0):
    return _softplus(input, beta=beta, threshold=threshold)


def softsign(input):
    return input / (input.abs() + 1)


def tanhshrink(input):
    return input - input.tanh()


# ---------------------------------------------------------------- shrinkage

def _outside(x, lambd):
    return (x < -lambd) | (x > lambd)


def _hardshrink_value(x, lambd):
    return ember.where(_outside(x, lambd), x, _zero(x))


def _softshrink_composite(x, lambd):
    return ember.where(x > lambd, x - lambd, ember.where(x < -lambd, x + lambd, _zero(x)))


_hardshrink = _pointwise(
    "HardshrinkBackward", _hardshrink_value,
    lambda g, x, out, lambd: _masked(_outside(x, lambd), g), _hardshrink_value)

_softshrink = _pointwise(
    "SoftshrinkBackward",
    lambda x, lambd: x - x.clamp(-lambd, lambd),
    lambda g, x, out, lambd: _masked(_outside(x, lambd), g), _softshrink_composite)


def hardshrink(input, lambd=0.5):
    return _hardshrink(input, lambd=lambd)


# (PyTorch's name, largest finite value) per floating dtype, for softshrink's message
_FLOAT_RANGE = {ember.float32: ("Float", 3.4028234663852886e38),
                ember.float64: ("Double", 1.7976931348623157e308),
                ember.float16: ("Half", 65504.0),
                ember.bfloat16: ("BFloat16", 3.3895313892515355e38)}


def softshrink(input, lambd=0.5):
    name, top = _FLOAT_RANGE.get(input.dtype, (str(input.dtype), float("inf")))
    if not 0 <= lambd <= top:
        raise RuntimeError(f"lambda must be in range [0, {top:g}] for input dtype {name}, but "
                           f"found {lambd:g}")
    return _softshrink(input, lambd=lambd)


# ---------------------------------------------------------------- glu

def glu(input, dim=-1):
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension "
                           f"{dim % input.dim()} is size {n}")
    a, b = input.chunk(2, dim)
    return a * ember.sigmoid(b)


# ---------------------------------------------------------------- softmax family

def _get_softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_composite(x, dim):
    e = ember.exp(x - x.amax(dim, keepdim=True).detach())
    return e / e.sum(dim, keepdim=True)


def _softmax_forward(x, dim):
    out = ember.softmax(x, dim)  # nothing records here: the core computes it in one call
    return out, (out,)


def _softmax_backward(g, saved, needs, dim):
    _, y = saved
    gy = g * y
    return (gy.sub_(y * gy.sum(dim, keepdim=True)),)


def _log_softmax_composite(x, dim):
    return x - ember.logsumexp(x, dim, keepdim=True)


def _log_softmax_forward(x, dim):
    out = ember.log_softmax(x, dim)
    return out, (out,)


def _log_softmax_backward(g, saved, needs, dim):
    _, out = saved
    return (g - ember.exp(out).mul_(g.sum(dim, keepdim=True)),)


_softmax = fused("SoftmaxBackward", _softmax_forward, _softmax_backward, _softmax_composite)
_log_softmax = fused("LogSoftmaxBackward", _log_softmax_forward, _log_softmax_backward,
                     _log_softmax_composite)

_FUSED_FLOATS = (ember.float32, ember.float64)


def _softmax_like(fused_fn, core_fn, name, input, dim, stacklevel, dtype):
    """The fused node when autograd records a float32/float64 input; otherwise the core's
    softmax/log_softmax (NumPy in one call, float32 internally for half types)."""
    if dim is None:
        dim = _get_softmax_dim(name, input.dim(), stacklevel + 1)
    if dtype is not None:
        input = input.to(dtype)
    if not (_recording(input) and input.dtype in _FUSED_FLOATS and input.numel()):
        return core_fn(input, dim)
    ndim = max(input.dim(), 1)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return fused_fn(input, dim=dim % ndim if input.dim() else 0)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_like(_softmax, ember.softmax, "softmax", input, dim, _stacklevel, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    return _softmax_like(_log_softmax, ember.log_softmax, "log_softmax", input, dim,
                         _stacklevel, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -ember.empty(logits.shape, dtype=logits.dtype).exponential_().log()
    y_soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    # straight-through: the forward value is one-hot, the gradient is the soft sample's
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = ember.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
