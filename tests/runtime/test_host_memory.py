"""Allocator settings: applied on glibc at import, skipped when opted out."""
import os
import platform
import subprocess
import sys

import pytest

from ember.runtime import host_memory


def test_opt_out():
    assert host_memory.tune({"EMBER_MALLOC_TUNING": "0"}) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_applied_on_glibc():
    assert host_memory.TUNED is True
    assert host_memory.tune({}) is True


_STEPS = """
import resource, numpy as np, ember
a = np.ones((64, 32, 28, 28), np.float32)
b = np.ones((1, 32, 1, 1), np.float32)
keep = []
def step():  # a temporary, and a result that outlives the next step's (as in autograd)
    t = a * 2
    keep.append(t + b)
    if len(keep) > 2:
        keep.pop(0)
for _ in range(3): step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20): step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def _faults(opt_out):
    env = dict(os.environ, EMBER_MALLOC_TUNING="0" if opt_out else "1")
    return int(subprocess.run([sys.executable, "-c", _STEPS], capture_output=True, text=True,
                              check=True, env=env).stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_freed_blocks_are_reused():
    """6 MiB arrays that outlive each other: with the settings their pages are reused, without
    them (glibc's defaults) each new one faults its 1568 pages in again."""
    tuned, default = _faults(False), _faults(True)
    assert tuned < 300 < default
