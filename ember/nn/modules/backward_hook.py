"""Full backward hooks: identity autograd Functions around a module's tensor inputs and
outputs. The output identity's backward captures grad_output (running backward pre-hooks);
the input identity's backward sees grad_input and calls the hooks, which may replace it."""
from __future__ import annotations

import ember
from ember.autograd import Function


class _Identity(Function):
    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)
        outs = tuple(t.detach() for t in tensors)
        ctx.mark_non_differentiable(*(o for o, t in zip(outs, tensors) if not t.requires_grad))
        return outs

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_backward(grads))


def _tensor_slots(obj):
    """Positions of tensors in a tensor or a flat tuple/list of values."""
    if isinstance(obj, ember.Tensor):
        return [None]
    if isinstance(obj, (tuple, list)):
        return [i for i, v in enumerate(obj) if isinstance(v, ember.Tensor)]
    return []


def _replace(obj, slots, new):
    if slots == [None]:
        return new[0]
    out = list(obj)
    for i, v in zip(slots, new):
        out[i] = v
    return type(obj)(out) if isinstance(obj, tuple) else out


def _get(obj, slots):
    return [obj] if slots == [None] else [obj[i] for i in slots]


class BackwardHook:
    def __init__(self, module, hooks, pre_hooks):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.inputs_hooked = False

    def _wrap(self, obj, on_backward):
        slots = _tensor_slots(obj)
        tensors = _get(obj, slots)
        if not tensors or not ember.is_grad_enabled() or \
                not any(t.requires_grad for t in tensors):
            return obj, False
        return _replace(obj, slots, _Identity.apply(on_backward, *tensors)), True

    def setup_input_hook(self, args):
        self.n_inputs = len(_tensor_slots(args))
        args, self.inputs_hooked = self._wrap(args, self._on_input_grads)
        return args

    def setup_output_hook(self, out):
        return self._wrap(out, self._on_output_grads)[0]

    def _run_hooks(self, grad_input):
        for hook in self.hooks:
            r = hook(self.module, grad_input, self.grad_outputs)
            if r is None:
                continue
            r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
            if len(r) != len(grad_input):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                   f"{len(r)}, but expected {len(grad_input)}")
            grad_input = r
        return grad_input

    def _on_output_grads(self, grads):
        grads = tuple(grads)
        for hook in self.pre_hooks:
            r = hook(self.module, grads)
            if r is not None:
                r = tuple(r) if isinstance(r, (tuple, list)) else (r,)
                if len(r) != len(grads):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                       f"grad_output, got {len(r)}, but expected {len(grads)}")
                grads = r
        self.grad_outputs = grads
        if not self.inputs_hooked:  # nothing upstream needs grad: hooks see grad_input=None
            self._run_hooks((None,) * max(self.n_inputs, 1))
        return grads

    def _on_input_grads(self, grads):
        return self._run_hooks(tuple(grads))
