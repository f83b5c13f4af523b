"""VJP rules: linalg family (filled in with the kernels)."""
RULES = {}
