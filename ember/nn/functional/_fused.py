"""Fused composites: one autograd node for a multi-op function (softmax, layer_norm, gelu...).

A composite written op by op records one tape node per op, and each node saves its inputs;
for the layers that dominate training (activations, normalization) that costs more than the
math. `fused` builds a function from two or three pieces:

- `forward(*tensors, **attrs) -> (out, saved)`: a fast forward run without recording, which
  also returns the tensors its backward needs (a tuple);
- `backward(g, saved, needs, **attrs) -> grads`: `saved` is the tensor inputs followed by
  what forward saved; one gradient per tensor input (None where `needs[i]` is False);
- `composite(*tensors, **attrs)` (optional): the meaning, written with differentiable ember
  ops. Under `create_graph` (grad mode on during backward) the gradient is then taken
  through the composite, so higher derivatives are exact without a second hand-written
  rule. Without a composite, `backward` must be differentiable as written: built from ember
  ops on the inputs and outputs only (which keep their history), never on tensors the fast
  forward computed on the side.
"""
from __future__ import annotations

import ember
from ember.autograd import Function
from ember.jit import is_tracing

__all__ = []


def fused(name, forward, backward, composite=None):
    def fwd(ctx, attrs, *tensors):
        out, saved = forward(*tensors, **attrs)
        ctx.attrs = attrs
        ctx.n_in = len(tensors)
        ctx.save_for_backward(*tensors, *saved)
        return out

    def bwd(ctx, g):
        everything = ctx.saved_tensors
        n = ctx.n_in
        needs = ctx.needs_input_grad[1:]
        if composite is not None and ember.is_grad_enabled():
            return (None, *_through_composite(composite, everything[:n], needs, g, ctx.attrs))
        return (None, *backward(g, everything, needs, **ctx.attrs))

    node = type(name, (Function,), {"forward": staticmethod(fwd), "backward": staticmethod(bwd)})

    def apply(*tensors, **attrs):
        if is_tracing():  # a traced graph holds primitives only: the meaning, op by op
            if composite is not None:
                return composite(*tensors, **attrs)
            return forward(*tensors, **attrs)[0]
        if ember.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
            return node.apply(attrs, *tensors)
        return forward(*tensors, **attrs)[0]

    apply.composite = composite
    apply.__name__ = name
    return apply


def _through_composite(composite, inputs, needs, g, attrs):
    with ember.enable_grad():
        out = composite(*inputs, **attrs)
    wanted = [t for t, need in zip(inputs, needs) if need]
    grads = iter(ember.autograd.grad(out, wanted, g, create_graph=True, allow_unused=True))
    return tuple(next(grads) if need else None for need in needs)
