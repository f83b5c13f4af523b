"""no_grad / enable_grad / set_grad_enabled / inference_mode: context managers that are
also decorators, over the engine's thread-local grad state.

`STATE.enabled` says whether ops are recorded: grad mode on and inference mode off.
Inside inference mode grad mode can still be switched (`is_grad_enabled()` follows it,
kept in `STATE.inference_grad`) but nothing is recorded, as in PyTorch.
"""
from __future__ import annotations

import functools
import inspect
import sys

from ...runtime.autograd import STATE
from ..tensor import inference_blocks


class _Mode:
    """Base: subclasses say what the state is inside (`_enter_state`)."""

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(fn)

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with self.__class__(*self._args()):
                return fn(*a, **kw)
        return wrapper

    def _wrap_generator(self, fn):
        """The mode holds while the generator runs, not while it is suspended."""
        @functools.wraps(fn)
        def gen(*a, **kw):
            g = fn(*a, **kw)
            try:
                with self.clone():
                    resp = g.send(None)
                while True:
                    try:
                        msg = yield resp
                    except GeneratorExit:
                        with self.clone():
                            g.close()
                        raise
                    except BaseException:
                        with self.clone():
                            resp = g.throw(*sys.exc_info())
                    else:
                        with self.clone():
                            resp = g.send(msg)
            except StopIteration as e:
                return e.value
        return gen

    def _args(self):
        return ()

    def __enter__(self):
        self._prev = _state()
        self._enter_state()
        return self

    def __exit__(self, *exc):
        _restore(self._prev)
        return False

    def clone(self):
        return self.__class__(*self._args())


def _state():
    return STATE.enabled, STATE.inference, STATE.inference_grad


def _restore(prev):
    STATE.enabled, STATE.inference, STATE.inference_grad = prev


def _set_grad(mode):
    if STATE.inference:
        STATE.inference_grad = mode
    else:
        STATE.enabled = mode


class no_grad(_Mode):
    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None:  # used as @no_grad without parentheses
            self.__init__()
            return self(orig_func)
        return self

    def _enter_state(self):
        _set_grad(False)


class enable_grad(_Mode):
    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is not None:
            self.__init__()
            return self(orig_func)
        return self

    def _enter_state(self):
        _set_grad(True)


class set_grad_enabled(_Mode):
    """Takes effect immediately (as a function call) and also works as a context manager."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _state()
        _set_grad(self.mode)

    def _args(self):
        return (self.mode,)

    def _enter_state(self):
        _set_grad(self.mode)

    def __enter__(self):
        # the state was already set in __init__; __exit__ restores what it was before that
        return self

    def __call__(self, fn):
        # as a decorator it must not change the state of the code that decorates
        _restore(self._prev)
        return super().__call__(fn)


class inference_mode(_Mode):
    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):  # @inference_mode without parentheses
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode=True):
        self.mode = bool(mode)

    def _args(self):
        return (self.mode,)

    def _enter_state(self):
        # like PyTorch's InferenceMode guard: grad mode is the opposite of inference mode
        STATE.enabled = not self.mode
        STATE.inference = self.mode
        STATE.inference_grad = False
        if self.mode:
            inference_blocks(1)   # this thread's new tensors are inference tensors

    def __exit__(self, *exc):
        if self.mode:
            inference_blocks(-1)
        return super().__exit__(*exc)


def is_grad_enabled() -> bool:
    return STATE.enabled or STATE.inference_grad


def is_inference_mode_enabled() -> bool:
    return STATE.inference
