"""The Optimizer base class: parameter groups, per-parameter state, state dicts and hooks.

Subclasses own only their update rule: they declare `defaults`, build per-parameter state
lazily in `step`, and list in `_group_defaults` the group keys an older state dict may lack
(filled in by `__setstate__`, as PyTorch's per-class `__setstate__` does). The state-dict
layout is PyTorch's: {'state': {index: {...}}, 'param_groups': [{..., 'params': [index...]}]}.
"""
from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain

import ember

__all__ = ["Optimizer", "register_optimizer_step_pre_hook", "register_optimizer_step_post_hook",
           "required"]


class _RequiredParameter:
    """Marks a default that every parameter group must set itself."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class RemovableHandle:
    """Removes a registered hook from its table (PyTorch's utils.hooks.RemovableHandle)."""
    _next_id = 0

    def __init__(self, table):
        self._table = table
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


_global_step_pre_hooks: OrderedDict = OrderedDict()
_global_step_post_hooks: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """hook(optimizer, args, kwargs) -> None or (args, kwargs), run before every step."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """hook(optimizer, args, kwargs), run after every step."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


# ------------------------------------------------------------------ helpers for subclasses

def _to_scalar(x):
    """A one-element tensor hyperparameter as a 0-d tensor; anything else unchanged."""
    if isinstance(x, ember.Tensor) and x.dim() != 0:
        return x.squeeze()
    return x


def _value(x):
    """A hyperparameter or a 0-d state tensor as a Python number (the update math uses
    Python floats, as PyTorch's non-capturable path does)."""
    return x.item() if isinstance(x, ember.Tensor) else x


def _get_scalar_dtype():
    """dtype of the 'step' state: float32 unless the default dtype is float64."""
    return ember.float64 if ember.get_default_dtype() == ember.float64 else ember.float32


def _scalar_state(value):
    """A 0-d tensor holding a scalar state entry ('step', 'mu_product')."""
    return ember.tensor(float(value), dtype=_get_scalar_dtype())


def _typename(x):
    if isinstance(x, ember.Tensor):
        return x.type()
    t = type(x)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _check_one_element(name, x):
    if isinstance(x, ember.Tensor) and x.numel() != 1:
        raise ValueError(f"Tensor {name} must be 1-element")


# Range checks on hyperparameters, with PyTorch's messages. Every value must be >= 0 unless
# the table gives another range; `betas` stands for both coefficients, each in [0, 1).
_HPARAM_LABELS = {"lr": "learning rate", "eps": "epsilon value"}
_HPARAM_RANGES = {"rho": lambda v: 0.0 <= v <= 1.0}


def _nonnegative(v):
    return 0.0 <= v  # written so that NaN fails too, as in PyTorch


def _check_hparams(**values):
    """Raise PyTorch's ValueError for the first value out of range, in the order given."""
    for name, value in values.items():
        if name == "betas":
            for i, beta in enumerate(value[:2]):
                if not 0.0 <= beta < 1.0:
                    raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        elif not _HPARAM_RANGES.get(name, _nonnegative)(value):
            label = _HPARAM_LABELS.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value}")


def _checked_defaults(defaults, *checked):
    """`defaults`, after the 1-element check on a tensor lr and the range checks on the
    entries named in `checked` (in that order, which decides the error raised first)."""
    _check_one_element("lr", defaults["lr"])
    _check_hparams(**{name: defaults[name] for name in checked})
    return defaults


def _group_lr(group):
    """The group's learning rate as a Python number (a 1-element tensor lr included)."""
    return _value(_to_scalar(group["lr"]))


def _grads(group):
    """(param, grad) for each parameter of the group that has a gradient; under `maximize`
    the gradient is negated first, as PyTorch does before any other use of it."""
    for p in group["params"]:
        grad = p.grad
        if grad is None:
            continue
        yield p, (-grad if group["maximize"] else grad)


def _weight_decay(p, grad, weight_decay, lr=None, decoupled=False):
    """The gradient after weight decay: L2 (grad + weight_decay * p), or decoupled (p shrunk
    in place by 1 - lr * weight_decay, the gradient unchanged)."""
    if weight_decay == 0:
        return grad
    if decoupled:
        p.mul_(1 - lr * weight_decay)
        return grad
    return grad.add(p, alpha=weight_decay)


def _check_fused_foreach(fused, foreach, differentiable):
    """The flag combinations PyTorch rejects; the flags themselves choose nothing here."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _hooked_step(step):
    """Wrap a subclass's step: pre/post hooks around it, and the update itself without
    autograd recording (the closure, if any, re-enables grad itself)."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        for pre_hook in chain(_global_step_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
        with ember.no_grad():
            out = step(self, *args, **kwargs)
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_step_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out
    wrapper.hooked = True
    return wrapper


def _call_closure(closure):
    """Evaluate the closure with grad enabled (it usually runs forward and backward)."""
    if closure is None:
        return None
    with ember.enable_grad():
        return closure()


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of Tensors, of (name, Tensor) pairs, or of dicts (parameter groups,
    each with a 'params' entry and optional per-group options overriding `defaults`).
    """
    # group keys an older state dict may lack, with the value __setstate__ fills in
    _group_defaults: dict = {}
    # state entries kept as 0-d scalar tensors ('step' and friends), with their first value
    _scalar_states: dict = {"step": 0.0}
    # per-parameter state tensors created as zeros like the parameter (see _state_buffers)
    _buffers: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _hooked_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        if isinstance(params, ember.Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ------------------------------------------------------------ pickling and repr
    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            self.__dict__.setdefault(name, OrderedDict())
        self.defaults.setdefault("differentiable", False)
        for group in self.param_groups:
            for key, value in self._group_defaults.items():
                group.setdefault(key, value)
            # state saved with Python numbers for 'step' (old checkpoints) becomes tensors
            for p in group["params"]:
                p_state = self.state.get(p)
                if not p_state:
                    continue
                for key in self._scalar_states:
                    if key in p_state and not isinstance(p_state[key], ember.Tensor):
                        p_state[key] = _scalar_state(p_state[key])

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # ------------------------------------------------------------ hooks
    def _register(self, table, hook, prepend=False):
        handle = RemovableHandle(table)
        table[handle.id] = hook
        if prepend:
            table.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ------------------------------------------------------------ state dicts
    def state_dict(self):
        """{'state': {index: per-parameter state}, 'param_groups': [group options with
        'params' as indices]}. Indices number the parameters in group order. The state
        tensors are the live ones (not copies), as in PyTorch."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update({id(p): i for i, p in enumerate(group["params"], start_index)
                                   if id(p) not in param_mappings})
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(param_mappings[id(k)] if isinstance(k, ember.Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    @staticmethod
    def _process_value_according_to_param_policy(param, value, param_id, param_groups,
                                                 key=None):
        """Floating state follows the parameter's dtype; 'step' is kept as saved."""
        fused = capturable = False
        for pg in param_groups:
            if param_id in pg["params"]:
                fused = pg.get("fused", False)
                capturable = pg.get("capturable", False)
                break
        if key == "step":
            return value.to(dtype=ember.float32) if (capturable or fused) else value
        if param.is_floating_point():
            return value.to(dtype=param.dtype)
        return value

    def load_state_dict(self, state_dict):
        """Load a state dict made by `state_dict()` (from this class, same group sizes).
        Floating state tensors are cast to their parameter's dtype (a tensor that already
        has it is used as is, as in PyTorch); group options come from the state dict."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        def cast(param, value, param_id, key=None):
            if isinstance(value, ember.Tensor):
                return Optimizer._process_value_according_to_param_policy(
                    param, value, param_id, state_dict["param_groups"], key)
            if isinstance(value, dict):
                return {k: cast(param, v, param_id, key=k) for k, v in value.items()}
            if isinstance(value, Iterable) and not isinstance(value, str):
                return type(value)(cast(param, v, param_id) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v, k)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)

    # ------------------------------------------------------------ per-parameter state
    def _state_buffers(self, group):
        """Names of the zero-initialised state tensors a parameter of `group` needs."""
        return self._buffers

    def _state_for(self, p, group):
        """The parameter's state, created on its first step: the scalar entries, then the
        buffers (PyTorch's key order, which state dicts keep)."""
        state = self.state[p]
        if len(state) == 0:
            for key, value in self._scalar_states.items():
                state[key] = _scalar_state(value)
            for key in self._state_buffers(group):
                state[key] = ember.zeros_like(p)
        return state

    # ------------------------------------------------------------ gradients and steps
    def zero_grad(self, set_to_none=True):
        """Reset the gradients: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if g.grad_fn is not None:
                    g.detach_()
                else:
                    g.requires_grad_(False)
                g.zero_()

    def step(self, closure=None):
        raise NotImplementedError

    def add_param_group(self, param_group):
        """Append a parameter group (a dict with 'params' and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, ember.Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names

        for param in tensors:
            if not isinstance(param, ember.Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                txt = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. "
                                 f"cannot add param group {txt} to the optimizer")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)


class _PerParameterOptimizer(Optimizer):
    """An optimizer whose step updates each parameter on its own. The shared prologue, in
    PyTorch's order: skip parameters without a gradient, negate it under `maximize`, create
    the state, count the step, apply weight decay; then `_update` does the rest."""

    def step(self, closure=None):
        loss = _call_closure(closure)
        for group in self.param_groups:
            lr = _group_lr(group)
            decoupled = group.get("decoupled_weight_decay", False)
            for p, grad in _grads(group):
                state = self._state_for(p, group)
                step = state["step"].add_(1).item()
                grad = _weight_decay(p, grad, group["weight_decay"], lr, decoupled)
                self._update(p, grad, state, group, lr, step)
        return loss

    def _update(self, p, grad, state, group, lr, step):
        """Update `p` in place from its (decayed) gradient; `step` counts from 1."""
        raise NotImplementedError
