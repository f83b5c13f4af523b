"""detect_anomaly: record where each node was created; check backward outputs for NaN."""
import contextlib
import traceback

from ...runtime.autograd import STATE


def record_trace(node):
    node.trace = traceback.extract_stack()[:-3]


def is_anomaly_enabled():
    return STATE.anomaly


class set_detect_anomaly:
    def __init__(self, mode, check_nan=True):
        self.prev = (STATE.anomaly, STATE.anomaly_check_nan)
        STATE.anomaly = bool(mode)
        STATE.anomaly_check_nan = check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        STATE.anomaly, STATE.anomaly_check_nan = self.prev


@contextlib.contextmanager
def detect_anomaly(check_nan=True):
    with set_detect_anomaly(True, check_nan):
        yield
