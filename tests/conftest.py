"""Fixtures for the whole suite."""
import zlib

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _module_rng_per_test(request):
    """Test modules that keep a module-level NumPy Generator get it reseeded from the test's
    id before each test, so a test's data does not depend on which tests ran before it in
    the same worker (pytest-xdist distributes tests differently from run to run)."""
    mod = request.module
    for name in ("RNG", "_RNG", "rng"):
        if isinstance(getattr(mod, name, None), np.random.Generator):
            setattr(mod, name, np.random.default_rng(zlib.crc32(request.node.nodeid.encode())))
