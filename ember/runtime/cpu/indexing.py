"""CPU kernels: indexing family."""
KERNELS = {}
