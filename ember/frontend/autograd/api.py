"""backward() and autograd.grad() over the runtime engine."""
from __future__ import annotations

from ...runtime.autograd import run_backward
from ..tensor import Tensor


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs, op):
    grads = []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if o.numel() != 1:
                raise RuntimeError(f"{op}: grad can be implicitly created only for scalar outputs; "
                                   f"output {i} has shape {tuple(o.shape)}")
            from ..ops.creation import ones_like
            g = ones_like(o)
        elif not isinstance(g, Tensor):
            from ..ops.creation import tensor
            g = tensor(g, dtype=o.dtype)
        elif g.shape != o.shape:
            raise RuntimeError(f"{op}: Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of {tuple(o.shape)}.")
        grads.append(g)
    return grads


def _check_outputs(outputs, op):
    for i, o in enumerate(outputs):
        if not o.requires_grad:
            raise RuntimeError(f"{op}: element {i} of tensors does not require grad and does not "
                               f"have a grad_fn")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    tensors = _as_tuple(tensors)
    grad_tensors = _as_tuple(grad_tensors) or (None,) * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    _check_outputs(tensors, "backward")
    grads = _make_grads(tensors, grad_tensors, "backward")
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
        res = run_backward(tensors, grads, retain_graph=retain_graph, create_graph=create_graph,
                           capture=list(inputs))
        for t, g in zip(inputs, res):
            if g is not None:
                from ...runtime.autograd import _accumulate_leaf
                if t.grad_fn is None:
                    _accumulate_leaf(t, g, create_graph)
                elif not t.retains_grad:  # a retained grad was already set by the engine
                    t._set_retained_grad(g, create_graph)
        return
    run_backward(tensors, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    outputs = _as_tuple(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: One of the differentiated Tensors (input {i}, shape "
                               f"{tuple(t.shape)}) does not require grad")
    _check_outputs(outputs, "grad")
    grads = _make_grads(outputs, grad_outputs, "grad")
    res = run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                       capture=list(inputs))
    out = []
    for i, (t, g) in enumerate(zip(inputs, res)):
        if g is None:
            if materialize_grads:
                from ..ops.creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"grad: One of the differentiated Tensors (input {i}) appears to "
                                   f"not have been used in the graph. Set allow_unused=True if this "
                                   f"is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        out.append(g)
    return tuple(out)
