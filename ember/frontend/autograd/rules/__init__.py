"""VJP rules, one table keyed by primitive name, assembled from the family modules.

A rule is `VJPRule(fn, save)`: `save` lists which forward values the backward needs
(input indices; -1 for the output) so only those are kept and version-checked;
`fn(ctx, *grad_outputs)` returns one gradient (or None) per forward operand. Rules are
written with Tensor ops, so they run under autograd themselves (create_graph) and, under
the tracer, produce backward graphs.
"""
from ._base import VJPRule  # noqa: F401
from . import elementwise, reduction, movement, indexing, linalg, extern

VJP = {}
for _m in (elementwise, reduction, movement, indexing, linalg, extern):
    VJP.update(_m.RULES)

# rules of the primitives added with the extra ops (strided views, special functions, ...)
from . import strided, special, scan, decomp  # noqa: E402
for _m in (strided, special, scan, decomp):
    VJP.update(_m.RULES)

from . import conv  # noqa: E402  (the convolution primitive)
VJP.update(conv.RULES)
