import numpy as np
import pytest
import torch

import ember


def arr(t):
    return np.asarray(t._data, dtype=np.float64)


def test_manual_seed_reproducible():
    ember.manual_seed(123)
    a = ember.rand(4, 5)
    b = ember.randn(3)
    ember.manual_seed(123)
    assert np.array_equal(arr(ember.rand(4, 5)), arr(a))
    assert np.array_equal(arr(ember.randn(3)), arr(b))
    assert ember.initial_seed() == 123
    assert isinstance(ember.manual_seed(5), ember.Generator)


def test_generator_independent_of_default():
    g1 = ember.Generator().manual_seed(7)
    x = ember.rand(5, generator=g1)
    ember.rand(100)  # advancing the default stream must not affect g1
    g2 = ember.Generator().manual_seed(7)
    assert np.array_equal(arr(ember.rand(5, generator=g2)), arr(x))
    assert g2.initial_seed() == 7
    assert ember.Generator().initial_seed() == torch.Generator().initial_seed()


def test_state_round_trip():
    g = ember.Generator().manual_seed(3)
    ember.randn(7, generator=g)
    st = g.get_state()
    assert st.dtype is ember.uint8 and st.ndim == 1
    a = ember.randint(0, 100, (10,), generator=g)
    g.set_state(st)
    assert np.array_equal(arr(ember.randint(0, 100, (10,), generator=g)), arr(a))
    s = ember.get_rng_state()
    x = ember.rand(3)
    ember.set_rng_state(s)
    assert np.array_equal(arr(ember.rand(3)), arr(x))
    with pytest.raises((TypeError, RuntimeError)):
        g.set_state(ember.zeros(3))


def test_seed_returns_new_seed():
    s = ember.seed()
    assert ember.initial_seed() == s
    g = ember.Generator()
    s2 = g.seed()
    assert g.initial_seed() == s2


def test_fork_rng():
    from ember.frontend.ops.random import fork_rng
    ember.manual_seed(0)
    with fork_rng():
        ember.rand(10)
    a = ember.rand(2)
    ember.manual_seed(0)
    assert np.array_equal(arr(ember.rand(2)), arr(a))


@pytest.mark.parametrize("dt", [None, "float32", "float64", "float16", "bfloat16"])
def test_rand_randn_shapes_dtypes(dt):
    kw = {} if dt is None else {"dtype": getattr(ember, dt)}
    tkw = {} if dt is None else {"dtype": getattr(torch, dt)}
    for fn in ("rand", "randn"):
        e, t = getattr(ember, fn)(2, 3, **kw), getattr(torch, fn)(2, 3, **tkw)
        assert tuple(e.shape) == tuple(t.shape) and str(e.dtype)[6:] == str(t.dtype)[6:]
        e = getattr(ember, fn)((4,), **kw)
        assert tuple(e.shape) == (4,)
        assert tuple(getattr(ember, fn)(size=(2, 2), **kw).shape) == (2, 2)


def test_rand_requires_grad_and_int_error():
    assert ember.rand(2, requires_grad=True).requires_grad
    with pytest.raises(RuntimeError):
        torch.rand(2, dtype=torch.int64)
    with pytest.raises(RuntimeError):
        ember.rand(2, dtype=ember.int64)


def test_stats():
    ember.manual_seed(0)
    u = arr(ember.rand(20000))
    assert 0 <= u.min() and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.std() - (1 / 12) ** 0.5) < 0.01
    z = arr(ember.randn(20000))
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    n = arr(ember.normal(2.0, 3.0, (20000,)))
    assert abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1


def test_randint():
    ember.manual_seed(1)
    r = ember.randint(3, 10, (1000,))
    assert r.dtype is ember.int64 and r.shape == (1000,)
    d = r._data
    assert d.min() == 3 and d.max() == 9
    assert ember.randint(5, (2, 2)).shape == (2, 2)
    assert ember.randint(0, 5, size=(3,), dtype=ember.float32).dtype is ember.float32
    with pytest.raises(RuntimeError):
        ember.randint(5, 5, (2,))
    x = ember.zeros(3, 4, dtype=ember.int32)
    r = ember.randint_like(x, 10)
    assert r.dtype is ember.int32 and r.shape == (3, 4) and r._data.max() < 10
    assert ember.rand_like(ember.zeros(2, dtype=ember.float64)).dtype is ember.float64
    assert ember.randn_like(ember.zeros(2, 2)).shape == (2, 2)


def test_randperm():
    p = ember.randperm(50)
    assert p.dtype is ember.int64 and sorted(p.tolist()) == list(range(50))
    assert ember.randperm(0).shape == (0,)
    assert ember.randperm(4, dtype=ember.int32).dtype is ember.int32
    g = ember.Generator().manual_seed(9)
    a = ember.randperm(10, generator=g).tolist()
    g.manual_seed(9)
    assert ember.randperm(10, generator=g).tolist() == a


def test_normal_tensor_forms_and_grad():
    mean = ember.zeros(3, 1000, dtype=ember.float64) + ember.tensor([[0.0], [5.0], [-5.0]], dtype=ember.float64)
    r = ember.normal(mean, 0.5)
    assert r.shape == (3, 1000) and r.dtype is ember.float64
    np.testing.assert_allclose(arr(r).mean(1), [0, 5, -5], atol=0.1)
    std = ember.full((1000,), 2.0)
    r = ember.normal(1.0, std)
    assert abs(arr(r).std() - 2) < 0.2
    m = ember.zeros(4, dtype=ember.float64).requires_grad_()
    s = ember.ones(4, dtype=ember.float64).requires_grad_()
    out = ember.normal(m, s)
    out.sum().backward()
    np.testing.assert_allclose(arr(m.grad), np.ones(4))
    np.testing.assert_allclose(arr(s.grad), arr(out.detach()))   # d/ds (m + s z) = z
    with pytest.raises(RuntimeError):
        ember.normal(ember.zeros(2), -1.0)


def test_bernoulli():
    ember.manual_seed(0)
    p = ember.full((20000,), 0.3)
    b = ember.bernoulli(p)
    assert b.dtype is ember.float32 and set(np.unique(arr(b))) <= {0.0, 1.0}
    assert abs(arr(b).mean() - 0.3) < 0.02
    b = ember.bernoulli(ember.zeros(10000, dtype=ember.float64), 0.8)
    assert b.dtype is ember.float64 and abs(arr(b).mean() - 0.8) < 0.02
    assert p.bernoulli().shape == p.shape
    with pytest.raises(RuntimeError):
        ember.bernoulli(ember.full((2,), 1.5))


@pytest.mark.parametrize("replacement", [True, False])
def test_multinomial(replacement):
    ember.manual_seed(0)
    probs = ember.tensor([0.1, 0.0, 0.6, 0.3])
    n = 3 if not replacement else 4000
    s = ember.multinomial(probs, n, replacement=replacement)
    assert s.dtype is ember.int64 and s.shape == (n,)
    assert 1 not in s.tolist()
    if replacement:
        freq = np.bincount(s._data, minlength=4) / n
        np.testing.assert_allclose(freq, [0.1, 0, 0.6, 0.3], atol=0.03)
    else:
        assert len(set(s.tolist())) == 3
    s2 = ember.multinomial(ember.ones(5, 6), 2, replacement)
    assert s2.shape == (5, 2)


def test_multinomial_errors():
    for args in [(ember.tensor([0.5, 0.5]), 3), (ember.tensor([1.0, 0.0]), 2),
                 (ember.tensor([-1.0, 2.0]), 1), (ember.zeros(2), 1)]:
        with pytest.raises(RuntimeError):
            ember.multinomial(*args)


def test_multinomial_without_replacement_distribution():
    # first draw without replacement follows the normalized weights
    ember.manual_seed(2)
    w = ember.tensor([1.0, 2.0, 7.0])
    first = [ember.multinomial(w, 2).tolist()[0] for _ in range(2000)]
    np.testing.assert_allclose(np.bincount(first, minlength=3) / 2000, [0.1, 0.2, 0.7], atol=0.04)


def test_inplace_samplers():
    ember.manual_seed(0)
    x = ember.empty(10000)
    v = x._version_count
    assert x.uniform_(2, 4) is x and x._version_count > v
    d = arr(x)
    assert d.min() >= 2 and d.max() < 4 and abs(d.mean() - 3) < 0.05
    x.normal_(1.0, 2.0)
    assert abs(arr(x).mean() - 1) < 0.1 and abs(arr(x).std() - 2) < 0.1
    x.bernoulli_(0.25)
    assert abs(arr(x).mean() - 0.25) < 0.02
    x.random_(0, 5)
    assert set(np.unique(arr(x))) <= {0, 1, 2, 3, 4}
    x.random_(3)
    assert arr(x).max() <= 2
    x.exponential_(2.0)
    assert abs(arr(x).mean() - 0.5) < 0.03
    x.geometric_(0.5)
    assert arr(x).min() >= 1 and abs(arr(x).mean() - 2) < 0.1
    i = ember.zeros(1000, dtype=ember.int64)
    i.random_()
    assert i._data.min() >= 0 and i._data.max() > 1000
    g1 = ember.Generator().manual_seed(4)
    g2 = ember.Generator().manual_seed(4)
    a = ember.empty(5).uniform_(generator=g1)
    b = ember.empty(5).uniform_(generator=g2)
    assert np.array_equal(arr(a), arr(b))


def test_inplace_on_leaf_requiring_grad_raises():
    w = ember.zeros(3, requires_grad=True)
    tw = torch.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError):
        tw.uniform_()
    with pytest.raises(RuntimeError):
        w.uniform_()
    with ember.no_grad():
        w.normal_()
    assert w.requires_grad and np.all(arr(w) != 0)


def test_manual_seed_validation():
    with pytest.raises(TypeError):
        ember.manual_seed(1.5)
    ember.manual_seed(-1)
    assert ember.initial_seed() == torch.manual_seed(-1).initial_seed()


def test_normal_broadcast_shapes():
    assert ember.normal(ember.zeros(2, 1), ember.ones(3)).shape == (2, 3)
    with pytest.raises(RuntimeError):
        ember.normal(ember.zeros(2, 3), ember.ones(6))
