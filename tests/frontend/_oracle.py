"""Shared helpers for tests that compare ember with torch (the oracle)."""
import numpy as np
import torch

import ember


def pair(a, dtype="float64", requires_grad=False):
    """The same data as an ember tensor and a torch tensor."""
    e = ember.tensor(a, dtype=getattr(ember, dtype))
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    if requires_grad:
        e.requires_grad_()
        t.requires_grad_()
    return e, t


def close(e, t, rtol=1e-6, atol=1e-8):
    """Same shape, same dtype, values within tolerance (NaNs equal)."""
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    assert str(e.dtype)[6:] == str(t.dtype)[6:], (e.dtype, t.dtype)
    np.testing.assert_allclose(np.asarray(e.detach()._data, np.float64),
                               t.detach().double().numpy(), rtol=rtol, atol=atol, equal_nan=True)
