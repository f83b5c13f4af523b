"""Anomaly mode: remember where each node was created; in backward, name the node whose
gradient went NaN (or that raised) and show the user line of the forward call behind it."""
from __future__ import annotations

import functools
import os
import sys
import traceback
import warnings

from ...runtime.autograd import STATE

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def record_trace(node):
    """Called by dispatch (and Function.apply) for each new node while anomaly mode is on."""
    node.trace = traceback.extract_stack()[:-2]


def user_frames(trace):
    """The frames of a creation stack that are user code (outside the ember package)."""
    return [f for f in trace if not os.path.abspath(f.filename).startswith(_EMBER_DIR + os.sep)]


def _forward_trace(node):
    if node.trace is None:
        return ("No forward pass information available. Enable detect anomaly during forward "
                "pass for more information.")
    frames = user_frames(node.trace) or node.trace
    return ("Traceback of forward call that caused the error:\n" +
            "".join(traceback.format_list(frames)))


def _anomaly_apply(node, gouts):
    """The engine's hook under anomaly mode: run the node, check its outputs for NaN, and
    warn with the forward traceback when anything goes wrong (as PyTorch does)."""
    name = node.name.torch
    try:
        gins = node.apply(node, gouts)
        if STATE.anomaly_check_nan:
            for i, g in enumerate(gins):
                if g is not None and g._data.dtype.kind == "f" and g._data.size and \
                        (g._data != g._data).any():
                    raise RuntimeError(f"Function '{name}' returned nan values in its {i}th "
                                       f"output.")
    except Exception:
        warnings.warn(f"Error detected in {name}. {_forward_trace(node)}",
                      stacklevel=_user_stacklevel())
        raise
    return gins


def _user_stacklevel():
    """The stacklevel that attributes a warning to the user's backward() call."""
    level, f = 1, sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_EMBER_DIR + os.sep):
        f = f.f_back
        level += 1
    return level


def is_anomaly_enabled():
    return STATE.anomaly


def is_anomaly_check_nan_enabled():
    return STATE.anomaly_check_nan


def _set(mode, check_nan):
    STATE.anomaly = bool(mode)
    STATE.anomaly_check_nan = bool(check_nan)
    STATE.anomaly_checker = _anomaly_apply if mode else None


class set_detect_anomaly:
    """Sets anomaly mode on construction (usable as a call) and restores it on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        _set(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)


class detect_anomaly:
    """Context manager and decorator that turns anomaly mode on."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        _set(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        _set(*self.prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **kw):
            with self.__class__(self.check_nan):
                return fn(*a, **kw)
        return wrapper
