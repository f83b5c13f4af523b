"""Embedding and ranking losses against torch: cosine_embedding, hinge_embedding,
margin_ranking, triplet_margin (p, eps, swap), triplet_margin_with_distance."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from test_loss_oracle import compare, rand, same_error, signs

REDUCTIONS = ["mean", "sum", "none"]
DTYPES = ["float64", "float32"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3])
def test_cosine_embedding(margin, reduction, dtype):
    compare("cosine_embedding_loss", [rand(6, 5), rand(6, 5), signs(6)],
            dict(margin=margin, reduction=reduction), grad=(0, 1), dtype=dtype)


def test_cosine_embedding_single_pair():
    compare("cosine_embedding_loss", [rand(5), rand(5), np.array(-1.0)], dict(margin=-0.5),
            grad=(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_hinge_embedding(margin, reduction, dtype):
    compare("hinge_embedding_loss", [rand(4, 5), signs(4, 5)],
            dict(margin=margin, reduction=reduction), grad=(0,), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.4])
def test_margin_ranking(margin, reduction, dtype):
    compare("margin_ranking_loss", [rand(7), rand(7), signs(7)],
            dict(margin=margin, reduction=reduction), grad=(0, 1, 2), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [2, 1, 3.5])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin(p, swap, reduction, dtype):
    compare("triplet_margin_loss", [rand(5, 4), rand(5, 4), rand(5, 4)],
            dict(p=p, swap=swap, margin=1.5, eps=1e-3, reduction=reduction),
            grad=(0, 1, 2), dtype=dtype)


def test_triplet_margin_single_triplet():
    compare("triplet_margin_loss", [rand(4), rand(4), rand(4)], dict(margin=3.0),
            grad=(0, 1, 2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_with_distance(swap, reduction):
    compare("triplet_margin_with_distance_loss", [rand(5, 4), rand(5, 4), rand(5, 4)],
            dict(swap=swap, margin=1.5, reduction=reduction), grad=(0, 1, 2))


def test_triplet_margin_with_custom_distance():
    outs = []
    for lib, f in ((ember, F), (torch, torch.nn.functional)):
        a, p, n = (lib.tensor(v) for v in (np.eye(3), np.ones((3, 3)), -np.eye(3)))

        def dist(x, y, lib=lib):
            return 1 - (x * y).sum(-1) / ((x * x).sum(-1) * (y * y).sum(-1)).sqrt()
        outs.append(f.triplet_margin_with_distance_loss(a, p, n, distance_function=dist,
                                                        margin=0.2, reduction="none"))
        m = lib.nn.TripletMarginWithDistanceLoss(distance_function=dist, swap=True)
        outs.append(m(a, p, n))
    np.testing.assert_allclose(outs[0].numpy(), outs[2].numpy(), rtol=1e-12)
    np.testing.assert_allclose(outs[1].numpy(), outs[3].numpy(), rtol=1e-12)


@pytest.mark.parametrize("module,ctor,args", [
    ("CosineEmbeddingLoss", dict(margin=0.2), lambda: [rand(3, 4), rand(3, 4), signs(3)]),
    ("HingeEmbeddingLoss", dict(margin=2.0), lambda: [rand(3, 4), signs(3, 4)]),
    ("MarginRankingLoss", dict(margin=0.1, reduction="sum"),
     lambda: [rand(5), rand(5), signs(5)]),
    ("TripletMarginLoss", dict(p=1.0, swap=True), lambda: [rand(3, 4), rand(3, 4), rand(3, 4)]),
    ("TripletMarginWithDistanceLoss", dict(margin=0.5),
     lambda: [rand(3, 4), rand(3, 4), rand(3, 4)]),
])
def test_modules(module, ctor, args):
    compare(None, args(), module=module, ctor=ctor, grad=(0, 1))


def test_module_margin_checks():
    for cls in ("TripletMarginLoss", "TripletMarginWithDistanceLoss"):
        with pytest.raises(ValueError, match=f"{cls}: expected margin to be greater than 0, "
                                             f"got 0 instead"):
            getattr(ember.nn, cls)(margin=0)
    assert ember.nn.HingeEmbeddingLoss().margin == 1.0
    assert ember.nn.CosineEmbeddingLoss().margin == 0.0


ERRORS = {
    "cosine target dims": lambda lib, f: f.cosine_embedding_loss(lib.randn(3, 4),
                                                                 lib.randn(3, 4),
                                                                 lib.ones(3, 1)),
    "cosine 1d target": lambda lib, f: f.cosine_embedding_loss(lib.randn(4), lib.randn(4),
                                                               lib.ones(1)),
    "cosine 0d target": lambda lib, f: f.cosine_embedding_loss(lib.randn(3, 4),
                                                               lib.randn(3, 4), lib.tensor(1.0)),
    "cosine reduction": lambda lib, f: f.cosine_embedding_loss(lib.randn(3, 4),
                                                               lib.randn(3, 4), lib.ones(3),
                                                               reduction="bogus"),
    "ranking dims": lambda lib, f: f.margin_ranking_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                         lib.ones(4)),
    "triplet margin": lambda lib, f: f.triplet_margin_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                           lib.randn(3, 4), margin=0),
    "triplet dims": lambda lib, f: f.triplet_margin_loss(lib.randn(3, 4), lib.randn(3, 4),
                                                         lib.randn(4)),
    "distance margin": lambda lib, f: f.triplet_margin_with_distance_loss(
        lib.randn(3, 4), lib.randn(3, 4), lib.randn(3, 4), margin=-1.0),
    "distance dims": lambda lib, f: f.triplet_margin_with_distance_loss(
        lib.randn(3, 4), lib.randn(4), lib.randn(3, 4)),
    "distance reduction": lambda lib, f: f.triplet_margin_with_distance_loss(
        lib.randn(3, 4), lib.randn(3, 4), lib.randn(3, 4), reduction="bogus"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    same_error(ERRORS[case])


def test_gradcheck_composites():
    x1, x2, x3 = (ember.randn(4, 3, dtype=ember.float64, requires_grad=True) for _ in range(3))
    y = ember.tensor([1.0, -1.0, 1.0, -1.0], dtype=ember.float64)
    assert ember.autograd.gradcheck(
        lambda a, b: F.cosine_embedding_loss(a, b, y, margin=-1.0), (x1, x2))
    assert ember.autograd.gradcheck(
        lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=10.0, p=3, swap=True),
        (x1, x2, x3))
