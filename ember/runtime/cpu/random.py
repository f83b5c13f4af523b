"""CPU kernels: random family."""
KERNELS = {}
