"""Public op functions, one module per family; each exports `__all__` and installs its
Tensor methods from a `METHODS` table when imported."""
from . import elementwise, conversion, reduction, shape, indexing, creation, random, linalg, sorting  # noqa: F401

MODULES = (elementwise, conversion, reduction, shape, indexing, creation, random, linalg, sorting)
