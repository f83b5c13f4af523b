"""Convolutions: conv1d/2d/3d and conv_transpose1d/2d/3d (the public ember ops, which lower
to the `conv` primitive)."""
from __future__ import annotations

from ember import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d,  # noqa: F401
                   conv_transpose3d)

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]
