"""nn.utils: clip_grad_norm_ (2, 1, inf and fractional norms; the returned total norm;
non-finite handling), get_total_norm / clip_grads_with_norm_, clip_grad_value_,
parameters_to_vector / vector_to_parameters, against torch."""
import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from _nn_compare import assert_close, same_error


def _params(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4)) * scale, rng.standard_normal(5) * scale,
              rng.standard_normal((2, 2, 2)) * scale]
    ep = [nn.Parameter(ember.tensor(a)) for a in arrays]
    tp = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    for e, t, a in zip(ep, tp, arrays):
        g = rng.standard_normal(a.shape) * scale
        e.grad, t.grad = ember.tensor(g), torch.tensor(g)
    return ep, tp


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3.5, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm(norm_type, max_norm):
    ep, tp = _params()
    en = nn.utils.clip_grad_norm_(ep, max_norm, norm_type)
    tn = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    assert_close(en, tn)
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad)


def test_clip_grad_norm_single_tensor_generator_and_missing_grads():
    ep, tp = _params(seed=1)
    ep[1].grad = tp[1].grad = None
    assert_close(nn.utils.clip_grad_norm_(ep[0], 0.1), torch.nn.utils.clip_grad_norm_(tp[0], 0.1))
    assert_close(nn.utils.clip_grad_norm_(iter(ep), 0.1, foreach=True),
                 torch.nn.utils.clip_grad_norm_(iter(tp), 0.1, foreach=True))
    with pytest.warns(UserWarning, match="empty generator"):
        assert nn.utils.clip_grad_norm_((p for p in []), 1.0).item() == 0.0


def test_non_finite_norm():
    ep, tp = _params()
    ep[0].grad[0, 0] = float("inf")
    tp[0].grad[0, 0] = float("inf")
    same_error(lambda: nn.utils.clip_grad_norm_(ep, 1.0, error_if_nonfinite=True),
               lambda: torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True))
    assert_close(nn.utils.clip_grad_norm_(ep, 1.0), torch.nn.utils.clip_grad_norm_(tp, 1.0))
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad)


def test_total_norm_parts_and_deprecated_name():
    ep, tp = _params(seed=2)
    eg, tg = [p.grad for p in ep], [p.grad for p in tp]
    en = nn.utils.get_total_norm(eg, 3.0)
    assert_close(en, torch.nn.utils.get_total_norm(tg, 3.0))
    nn.utils.clip_grads_with_norm_(ep, 0.2, en)
    torch.nn.utils.clip_grads_with_norm_(tp, 0.2, torch.nn.utils.get_total_norm(tg, 3.0))
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad)
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm(ep, 1.0)


def test_clip_grad_value():
    ep, tp = _params(scale=2.0, seed=3)
    nn.utils.clip_grad_value_(ep, 0.7)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    for e, t in zip(ep, tp):
        assert_close(e.grad, t.grad)


def test_parameters_vector_round_trip():
    ep, tp = _params(seed=4)
    ev, tv = nn.utils.parameters_to_vector(ep), torch.nn.utils.parameters_to_vector(tp)
    assert_close(ev, tv)
    nn.utils.vector_to_parameters(ev * 2, ep)
    torch.nn.utils.vector_to_parameters(tv * 2, tp)
    for e, t in zip(ep, tp):
        assert_close(e.detach(), t.detach())
        assert isinstance(e, nn.Parameter) and e.requires_grad
    same_error(lambda: nn.utils.vector_to_parameters([1.0], ep),
               lambda: torch.nn.utils.vector_to_parameters([1.0], tp))


def test_utils_namespace():
    assert nn.utils.rnn is not None
    for name in ("clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
                 "vector_to_parameters", "get_total_norm", "clip_grads_with_norm_"):
        assert callable(getattr(nn.utils, name))
