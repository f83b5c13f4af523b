"""CPU kernels: extern family."""
KERNELS = {}
