"""repr(ember tensor) must equal repr(torch tensor) with 'torch' -> 'ember'."""
import numpy as np
import pytest
import torch

import ember

R = np.random.RandomState(0)
CASES = [
    ([1, 2, 3], None), ([1., 2., 3.], None), ([1.5, 2.25, -3.125], None), (3.0, None), (3, None),
    (True, None), ([True, False], None), ([1e-5, 1.], None), ([1e10, 1.], None), ([1., 1e5], None),
    ([float("nan"), float("inf"), -float("inf"), 0.], None), ([[1., 2.], [3., 4.]], None),
    ([[[1, 2], [3, 4]], [[5, 6], [7, 8]]], None), ([1, 2, 3], "int32"), ([1., 2.], "float64"),
    ([1., 2.], "float16"), ([1., 2.5], "bfloat16"), ([0.1, 0.2, 0.3333333], "float64"),
    ([1, 2], "uint8"), ([-1, 2], "int8"), ([1, 2], "int16"), ([], None), ([], "int64"),
    (np.zeros((0, 3)), "float32"), (np.zeros((2, 0, 3)), "int32"), (np.zeros((0,)), "bool"),
    (np.arange(2000.).reshape(40, 50), "float32"), (np.arange(1001), None),
    (np.arange(30.) / 7, "float32"), (R.randn(4, 5, 6), "float32"), (R.randn(3, 40) * 1000, "float64"),
    ([123456789.0, 1.], None), ([0.0001, 0.5], None), ([-0.0, 1.], None), ([1e-8, 1e-9], "float64"),
    (np.arange(100000).reshape(100, 1000), None), (-5.5, "float64"), (7, "int32"), ([[1e20]], None),
    (R.randn(2, 3, 4, 5), "float64"), (np.arange(12).reshape(3, 4) > 5, None),
    (R.randint(-1000, 1000, (8, 30)), "int64"),
]


def _pair(data, dt):
    tdt = getattr(torch, dt) if dt else None
    t = torch.tensor(np.asarray(data) if isinstance(data, (list, np.ndarray)) else data, dtype=tdt)
    if t.dtype == torch.bfloat16:
        e = ember.tensor(t.float().numpy(), dtype=ember.bfloat16)
    else:
        e = ember.tensor(t.numpy(), dtype=getattr(ember, str(t.dtype).split(".")[1]))
    return t, e


@pytest.mark.parametrize("data,dt", CASES, ids=[str(i) for i in range(len(CASES))])
def test_repr_matches_torch(data, dt):
    t, e = _pair(data, dt)
    assert repr(e) == repr(t).replace("torch", "ember")
    assert str(e) == str(t).replace("torch", "ember")


def test_autograd_suffixes():
    x, ex = torch.tensor([1., 2.], requires_grad=True), ember.tensor([1., 2.], requires_grad=True)
    for t, e in ((x, ex), (x * 2, ex * 2), ((x * 2).sum(), (ex * 2).sum()), (x.exp(), ex.exp()),
                 (x.reshape(2, 1).expand(2, 30) * 1000.5, ex.reshape(2, 1).expand(2, 30) * 1000.5),
                 (x.sum(0), ex.sum(0))):
        assert repr(e) == repr(t).replace("torch", "ember")


@pytest.mark.parametrize("opts", [dict(precision=2), dict(sci_mode=True), dict(threshold=5),
                                  dict(edgeitems=1, threshold=3), dict(linewidth=30),
                                  dict(profile="short"), dict(profile="full")])
def test_printoptions(opts):
    data = np.random.RandomState(1).randn(6, 7).astype(np.float32)
    try:
        torch.set_printoptions(**opts)
        ember.set_printoptions(**opts)
        assert repr(ember.tensor(data)) == repr(torch.tensor(data)).replace("torch", "ember")
    finally:
        torch.set_printoptions(profile="default")
        ember.set_printoptions(profile="default")
