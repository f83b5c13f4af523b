"""Public op functions, one module per family; each exports `__all__` and installs its
Tensor methods from a `METHODS` table when imported."""
from . import elementwise, conversion, reduction, shape, indexing, creation, random, linalg, sorting  # noqa: F401

MODULES = (elementwise, conversion, reduction, shape, indexing, creation, random, linalg, sorting)

# the extra ops (composites, strided views, special functions, decompositions)
from . import composite, strided, special, stats, extra, decomp  # noqa: E402
MODULES += (composite, strided, special, stats, extra, decomp)
from . import conv  # noqa: E402  (convolutions, lowered to the conv primitive)
MODULES += (conv,)
