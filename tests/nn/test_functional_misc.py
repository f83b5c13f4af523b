"""one_hot, cosine_similarity, pairwise_distance and pdist (and the PairwiseDistance /
CosineSimilarity layers) against torch: values, dtypes, gradients, broadcasting, errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F
from _nn_compare import check_fn, module_pair, same_error, same_repr

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("idx,n", [([0, 2, 1], -1), ([[1, 1], [0, 3]], 5), (2, 4), ([], 3)])
def test_one_hot(idx, n):
    e = F.one_hot(ember.tensor(idx, dtype=ember.int64), n)
    t = TF.one_hot(torch.tensor(idx, dtype=torch.int64), n)
    assert e.dtype == ember.int64 and tuple(e.shape) == tuple(t.shape)
    assert e.tolist() == t.tolist()


@pytest.mark.parametrize("idx,n", [([1, 2], 2), ([1, -2], -1), ([], -1), ([1], -2)])
def test_one_hot_errors(idx, n):
    same_error(lambda: F.one_hot(ember.tensor(idx, dtype=ember.int64), n),
               lambda: TF.one_hot(torch.tensor(idx, dtype=torch.int64), n))
    same_error(lambda: F.one_hot(ember.tensor([1, 2], dtype=ember.int32)),
               lambda: TF.one_hot(torch.tensor([1, 2], dtype=torch.int32)))


@pytest.mark.parametrize("s1,s2,dim", [((4, 3), (4, 3), 1), ((4, 3), (1, 3), -1),
                                       ((2, 3, 4), (2, 3, 4), 0)])
def test_cosine_similarity(s1, s2, dim):
    check_fn(lambda a, b: F.cosine_similarity(a, b, dim),
             lambda a, b: TF.cosine_similarity(a, b, dim),
             [RNG.standard_normal(s1), RNG.standard_normal(s2)])


def test_cosine_similarity_zero_vector_and_error():
    a = RNG.standard_normal((3, 4))
    a[1] = 0.0
    check_fn(F.cosine_similarity, TF.cosine_similarity, [a, RNG.standard_normal((3, 4))])
    with pytest.raises(RuntimeError):
        F.cosine_similarity(ember.randn(2, 3), ember.randn(4, 3))


@pytest.mark.parametrize("p,keepdim", [(2.0, False), (1.0, True), (3.0, False),
                                       (float("inf"), False)])
@pytest.mark.parametrize("s1,s2", [((4, 3), (4, 3)), ((4, 3), (1, 3)), ((3,), (3,))])
def test_pairwise_distance(p, keepdim, s1, s2):
    check_fn(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
             lambda a, b: TF.pairwise_distance(a, b, p, keepdim=keepdim),
             [RNG.standard_normal(s1), RNG.standard_normal(s2)])


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_pdist(p, n):
    check_fn(lambda a: F.pdist(a, p), lambda a: TF.pdist(a, p), [RNG.standard_normal((n, 3))])


def test_pdist_errors():
    same_error(lambda: F.pdist(ember.randn(4, 3, 2)), lambda: TF.pdist(torch.randn(4, 3, 2)))
    same_error(lambda: F.pdist(ember.randn(4, 3), -1), lambda: TF.pdist(torch.randn(4, 3), -1))


@pytest.mark.parametrize("build", [lambda nn: nn.PairwiseDistance(),
                                   lambda nn: nn.PairwiseDistance(1.0, 1e-3, True),
                                   lambda nn: nn.CosineSimilarity(),
                                   lambda nn: nn.CosineSimilarity(0, 1e-4)])
def test_distance_layers(build):
    em, tm = module_pair(build)
    same_repr(em, tm)
    check_fn(em, tm, [RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))])
