"""Devices, storage, eager kernels, the autograd engine, file formats."""
from . import host_memory  # noqa: F401  (allocator settings, before any large array)
from . import device, registry, autograd  # noqa: F401
from . import cpu  # noqa: F401  (registers the CPU kernels)
