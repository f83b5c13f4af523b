"""CPU kernels: linalg family."""
KERNELS = {}
