"""VJP rules: extern family (filled in with the kernels)."""
RULES = {}
