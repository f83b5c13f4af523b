"""F.unfold / F.fold (im2col / col2im) and the Unfold / Fold layers against torch: kernel,
dilation, padding, stride, batched and unbatched, values and gradients; errors."""
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _spatial import arrays, check, same_error

KW = [dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(1, 2)),
      dict(kernel_size=3, padding=1, stride=2), dict(kernel_size=(3, 2), dilation=(2, 1),
                                                    padding=(2, 0)),
      dict(kernel_size=2, dilation=2, padding=1, stride=3)]


@pytest.mark.parametrize("kw", KW)
@pytest.mark.parametrize("xs", [(2, 3, 7, 6), (3, 5, 6)])
def test_unfold(kw, xs):
    check(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), arrays(xs))


@pytest.mark.parametrize("kw", KW)
@pytest.mark.parametrize("batched", [True, False])
def test_fold(kw, batched):
    out = (7, 6)
    cols = TF.unfold(torch.zeros(1, 3, *out), **kw)   # the matching column layout
    shape = tuple(cols.shape) if batched else tuple(cols.shape[1:])
    check(lambda x: F.fold(x, out, **kw), lambda x: TF.fold(x, out, **kw), arrays(shape))


def test_fold_unfold_float32_and_modules():
    (x,) = arrays((2, 2, 6, 6))
    check(lambda x: F.fold(F.unfold(x, 3, padding=1), (6, 6), 3, padding=1),
          lambda x: TF.fold(TF.unfold(x, 3, padding=1), (6, 6), 3, padding=1), [x],
          dtype="float32", tol=1e-5)
    for em, tm, xs in [(nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2), (1, 2, 4, 6)),
                       (nn.Fold((4, 5), 2), torch.nn.Fold((4, 5), 2), (1, 8, 12))]:
        assert repr(em) == repr(tm)
        check(em, tm, arrays(xs))


@pytest.mark.parametrize("call", [
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4), 5),
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4), 2, stride=0),
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4), 2, padding=-1),
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4), 2, dilation=0),
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4), (2, 2, 2)),
    lambda F, m: F.unfold(m.ones(1, 1, 4, 4, dtype=m.long), 2),
    lambda F, m: F.fold(m.ones(1, 4, 8), 4, 2),
    lambda F, m: F.fold(m.ones(1, 3, 9), 4, 2),
    lambda F, m: F.fold(m.ones(1, 1, 4, 9), 4, 2),
    lambda F, m: F.fold(m.ones(1, 4, 9), 4, 2, stride=0),
    lambda F, m: F.fold(m.ones(1, 4, 9), (4, 4, 4), 2),
    lambda F, m: F.fold(m.ones(1, 4, 1), 1, 2),
    lambda F, m: F.fold(m.ones(1, 4, 9, dtype=m.long), 4, 2),
])
def test_errors_match_torch(call):
    same_error(lambda: call(F, ember), lambda: call(TF, torch))
