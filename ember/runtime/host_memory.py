"""Host allocator settings for eager execution.

glibc's malloc hands large blocks back to the kernel when they are freed: blocks above its
mmap threshold are unmapped, and free memory at the top of the heap is trimmed. An eager
training step allocates and frees many arrays of a few megabytes, so every one of them faults
its pages in afresh: a 6 MB broadcast add took 3.2 ms instead of 0.6 ms, almost all of it in
page faults. Raising the mmap threshold to its largest allowed value (32 MiB) and the trim
threshold to 256 MiB keeps freed blocks in the heap for reuse, at the cost of holding up to
that much freed memory. Applied once, when the runtime is imported, on glibc only (other C
libraries are left alone); EMBER_MALLOC_TUNING=0 in the environment opts out.
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1   # mallopt parameter numbers, from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20


def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018  (present on glibc only)
        libc.mallopt
    except (OSError, AttributeError):
        return None
    return libc


def tune(environ=os.environ) -> bool:
    """Apply the settings; True when they were applied."""
    if environ.get("EMBER_MALLOC_TUNING", "1") == "0":
        return False
    libc = _glibc()
    if libc is None:
        return False
    libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    ok &= libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(ok)


TUNED = tune()
