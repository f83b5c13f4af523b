"""VJP rules: indexing family (filled in with the kernels)."""
RULES = {}
