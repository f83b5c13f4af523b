"""Backend-neutral core: dtypes and promotion, the primitive op table (later the graph IR)."""
from . import dtypes, ops  # noqa: F401
