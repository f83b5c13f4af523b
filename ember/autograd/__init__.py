"""ember.autograd: the public face of automatic differentiation."""
from ..frontend.autograd.api import backward, grad  # noqa: F401
from ..frontend.autograd.grad_mode import (  # noqa: F401
    no_grad, enable_grad, set_grad_enabled, inference_mode, is_grad_enabled,
)
from ..frontend.autograd.function import Function, FunctionCtx  # noqa: F401
from ..frontend.autograd.anomaly import detect_anomaly, set_detect_anomaly, is_anomaly_enabled  # noqa: F401
from ..frontend.autograd.gradcheck import gradcheck, gradgradcheck  # noqa: F401
from . import function, graph  # noqa: F401
