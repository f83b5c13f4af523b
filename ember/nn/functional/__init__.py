"""ember.nn.functional: every submodule's `__all__` is exported here (see ember/nn/_collect.py)."""
from .._collect import collect

__all__ = collect(__name__, __path__, globals())
