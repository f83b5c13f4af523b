"""ember.utils: utilities on the public ember API (as torch.utils)."""
from . import data  # noqa: F401
