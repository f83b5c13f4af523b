"""F.pad and the padding layers against torch: constant (any dims, negative crops, values,
integer dtypes), reflect, replicate, circular (1-3 d, batched or not, negative pads), with
gradients; module reprs; errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _spatial import arrays, check, same_error

X3, X4, X5 = arrays((2, 3, 5), (2, 3, 4, 5), (1, 2, 3, 4, 5))


@pytest.mark.parametrize("x,pad,value", [
    (X3, (1, 2), None), (X4, (1, 2, 0, 3), 1.5), (X4, (-1, 2, 1, -2), None),
    (X5, (1, 1, 1, 1, 1, 1, 1, 1), -2.0), (X4, (-2, -3), None), (X3, (), None),
    (X3[0, 0], (3, -1), 0.0),
])
def test_constant(x, pad, value):
    check(lambda x: F.pad(x, pad, value=value), lambda x: TF.pad(x, pad, value=value), [x])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("x,pad", [
    (X3, (2, 3)), (X3[0], (1, 4)), (X4, (1, 2, 3, 0)), (X4[0], (4, 4, 2, 1)),
    (X5, (1, 2, 0, 1, 2, 1)), (X5[0], (2, 0, 1, 1, 0, 2)), (X3, (-1, 2)), (X4, (2, -1, -2, 1)),
])
def test_non_constant(mode, x, pad):
    check(lambda x: F.pad(x, pad, mode=mode), lambda x: TF.pad(x, pad, mode=mode), [x])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_dtypes(mode):
    x = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    for dtype in ("int64", "float32"):
        check(lambda x: F.pad(x, (2, 1), mode=mode), lambda x: TF.pad(x, (2, 1), mode=mode),
              [x], dtype=dtype, grad=False)
    check(lambda x: F.pad(x, (1, 1), value=2.5), lambda x: TF.pad(x, (1, 1), value=2.5), [x],
          dtype="int64", grad=False)


@pytest.mark.parametrize("cls,args,xs", [
    ("ZeroPad1d", ((1, 2),), (2, 3, 4)), ("ZeroPad2d", (1,), (2, 3, 4)),
    ("ZeroPad3d", ((1, 0, 2, 1, 0, 1),), (1, 2, 3, 3, 3)), ("ConstantPad1d", (2, 3.5), (3, 4)),
    ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (1, 2, 3, 3)), ("ConstantPad3d", (1, 0.5), (1, 2, 2, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 0, 2),), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 1, 2, 3, 3)), ("ReplicationPad1d", ((3, 1),), (2, 4)),
    ("ReplicationPad2d", (2,), (1, 2, 3, 3)), ("ReplicationPad3d", (1,), (1, 1, 2, 2, 2)),
    ("CircularPad1d", (2,), (2, 3, 4)), ("CircularPad2d", ((1, 0, 2, 1),), (1, 2, 3, 4)),
    ("CircularPad3d", (1,), (1, 1, 2, 2, 2)),
])
def test_modules(cls, args, xs):
    em, tm = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(em) == repr(tm)
    check(em, tm, arrays(xs))


@pytest.mark.parametrize("call", [
    lambda F, x: F.pad(x, (1, 2, 3)),
    lambda F, x: F.pad(x, (1,) * 10),
    lambda F, x: F.pad(x, (-3, -3)),
    lambda F, x: F.pad(x, (4, 2), mode="reflect"),
    lambda F, x: F.pad(x, (1, 1, 3, 1), mode="reflect"),
    lambda F, x: F.pad(x, (5, 2), mode="circular"),
    lambda F, x: F.pad(x, (1, 1, 1, 1, 1, 1), mode="reflect"),
    lambda F, x: F.pad(x[0, 0], (1, 1), mode="replicate"),
    lambda F, x: F.pad(x, (1, 1), mode="foo"),
    lambda F, x: F.pad(x, (1, 1), mode="reflect", value=2),
    lambda F, x: F.pad(x.bool(), (1, 1), mode="reflect"),
    lambda F, x: F.pad(x, (1.5, 1)),
    lambda F, x: F.pad(x, (-3, -1), mode="replicate"),
    lambda F, x: F.pad(x[:, :0], (1, 1), mode="reflect"),
    lambda F, x: nn_of(F).CircularPad2d(1)(x[0, 0]),
])
def test_errors_match_torch(call):
    same_error(lambda: call(F, ember.ones(1, 3, 4)), lambda: call(TF, torch.ones(1, 3, 4)))


def nn_of(functional):
    return nn if functional is F else torch.nn
