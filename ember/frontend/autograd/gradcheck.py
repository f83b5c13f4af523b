"""gradcheck / gradgradcheck: analytical Jacobians (autograd.grad, one backward per output
element) against central finite differences, as torch.autograd.gradcheck does."""
from __future__ import annotations

import warnings

import numpy as np

from ..tensor import Tensor, _wrap
from .api import grad as _grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor))


def _numerical(func, inputs, diff_idx, outputs, eps):
    """J[i][o]: (numel(input i), numel(output o)) from (f(x+eps) - f(x-eps)) / 2eps."""
    jac = [[np.zeros((inputs[i]._data.size, o._data.size)) for o in outputs] for i in diff_idx]
    # grad mode stays as it is: gradgradcheck's func itself calls autograd.grad
    for row, i in enumerate(diff_idx):
        data = inputs[i]._data
        for k, idx in enumerate(np.ndindex(data.shape)):
            orig = data[idx].copy()
            data[idx] = orig + eps
            plus = [o._data.astype(np.float64).ravel() for o in _outputs(func, inputs)]
            data[idx] = orig - eps
            minus = [o._data.astype(np.float64).ravel() for o in _outputs(func, inputs)]
            data[idx] = orig
            for j, (p, m) in enumerate(zip(plus, minus)):
                jac[row][j][k] = (p - m) / (2 * eps)
    return jac


def _analytical(inputs, diff_idx, outputs):
    from ..ops.creation import zeros_like
    diff = [inputs[i] for i in diff_idx]
    jac = [[np.zeros((inputs[i]._data.size, o._data.size)) for o in outputs] for i in diff_idx]
    for j, o in enumerate(outputs):
        if not o._requires_grad:
            continue  # a constant output: its Jacobian is zero
        for k in range(o._data.size):
            g = zeros_like(o)
            g._data.reshape(-1)[k] = 1
            grads = _grad(o, diff, grad_outputs=g, retain_graph=True, allow_unused=True)
            for row, gi in enumerate(grads):
                if gi is not None:
                    jac[row][j][:, k] = gi._data.astype(np.float64).ravel()
    return jac


def _fail(msg, raise_exception):
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False, check_forward_ad=False,
              check_backward_ad=True, fast_mode=False, masked=None):
    """True when func's analytical gradients match finite differences for every input that
    requires grad; otherwise raises GradcheckError naming the output/input pair (or returns
    False with raise_exception=False)."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          f"point or complex. This check will likely fail if all the inputs are "
                          f"not of double precision floating point or complex. ", stacklevel=2)
    outputs = _outputs(func, inputs)
    if not check_backward_ad:
        return True
    numerical = _numerical(func, inputs, diff_idx, outputs, eps)
    analytical = _analytical(inputs, diff_idx, outputs)
    for row, i in enumerate(diff_idx):
        for j, o in enumerate(outputs):
            n, a = numerical[row][j], analytical[row][j]
            if n.size and not np.allclose(a, n, rtol=rtol, atol=atol, equal_nan=True):
                diff = np.abs(a - n)
                where = np.unravel_index(int(np.nanargmax(diff)), diff.shape)
                return _fail(
                    f"Jacobian mismatch for output {j} with respect to input {i},\n"
                    f"numerical:{_wrap(n)}\nanalytical:{_wrap(a)}\n"
                    f"max difference {float(np.nanmax(diff)):.6g} at (input element {where[0]}, "
                    f"output element {where[1]}) (atol={atol}, rtol={rtol})\n", raise_exception)
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
                  check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """gradcheck of the map (inputs, grad_outputs) -> grads of func (built with create_graph),
    i.e. of second derivatives."""
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t._requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outs = _outputs(func, inputs)
        grad_outputs = []
        for o in outs:
            g = _wrap(rng.standard_normal(o._data.shape).astype(o._data.dtype))
            g._requires_grad = o._data.dtype.kind == "f"
            grad_outputs.append(g)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first_order(*args):
        ins, gos = args[:n_in], args[n_in:]
        outs = _outputs(func, ins)
        pairs = [(o, g) for o, g in zip(outs, gos) if o._requires_grad]
        diff = [ins[i] for i in diff_idx]
        return _grad([o for o, _ in pairs], diff, grad_outputs=[g for _, g in pairs],
                     create_graph=True, allow_unused=True, materialize_grads=True)

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
