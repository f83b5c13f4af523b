"""DESIGN.md section 3: every primitive has a row in every table, and no table has a row
for something that is not a primitive."""
import numpy as np
import pytest

import ember  # noqa: F401  (registers kernels and rules)
from ember.ir import dtypes as D
from ember.ir.ops import PRIMITIVES, TensorType
from ember.runtime.registry import KERNELS
from ember.frontend.autograd.rules import VJP


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitive_has_cpu_kernel(name):
    assert name in KERNELS["cpu"], f"primitive {name!r} has no CPU kernel"


@pytest.mark.parametrize("name", sorted(n for n, o in PRIMITIVES.items() if o.differentiable))
def test_differentiable_primitive_has_vjp(name):
    assert name in VJP, f"differentiable primitive {name!r} has no VJP rule"


def test_no_orphan_rows():
    assert set(KERNELS["cpu"]) - set(PRIMITIVES) == set()
    assert set(VJP) - set(PRIMITIVES) == set()


def test_non_differentiable_have_no_vjp():
    nd = {n for n, o in PRIMITIVES.items() if not o.differentiable}
    assert nd & set(VJP) == set()


@pytest.mark.parametrize("name", sorted(n for n, o in PRIMITIVES.items() if o.kind == "elementwise"
                                        and n != "where"))
@pytest.mark.parametrize("dtype", [D.float32, D.int64, D.bool_])
def test_elementwise_rule_matches_kernel(name, dtype):
    """The shape/dtype rule and the eager kernel agree (binary ops on broadcast shapes)."""
    from ember.frontend.dispatch import dispatch
    rule = PRIMITIVES[name].rule
    a = ember.ones(2, 3, dtype=dtype) if dtype is not D.bool_ else ember.ones(2, 3).bool()
    b = ember.ones(3, dtype=dtype) if dtype is not D.bool_ else ember.ones(3).bool()
    arity = PRIMITIVES[name].arity
    try:
        out_t = rule(*[TensorType(tuple(t.shape), dtype) for t in (a, b)[:arity]])[0]
    except (TypeError, RuntimeError):
        return  # outside the primitive's contract: frontends promote before dispatching
    out = dispatch(name, *(a, b)[:arity])
    assert tuple(out.shape) == out_t.shape
    assert out.dtype is out_t.dtype, (name, out.dtype, out_t.dtype)
