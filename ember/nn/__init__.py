"""ember.nn: modules, functional forms, init and utils, written on the public ember API."""
from .parameter import Parameter, Buffer, UninitializedParameter  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, init, utils  # noqa: F401

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "functional", "init", "utils",
           *_modules_all]
