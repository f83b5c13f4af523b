"""Shape / view family against PyTorch: values, dtypes, view-vs-copy, gradients, errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import ember

DTYPES = ["float32", "float64", "int64", "bool", "float16"]
RNG = np.random.default_rng(0)


# ---------------------------------------------------------------- harness

def _np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x.detach()._data, dtype=np.float32 if x.dtype is ember.bfloat16 else None)


def _arr(shape, dtype="float64"):
    a = RNG.standard_normal(shape) * 3
    if dtype == "bool":
        return np.asarray(a > 0)
    return np.asarray(a.astype(dtype))


def _pair(a, requires_grad=False):
    t = torch.tensor(a, requires_grad=requires_grad)
    e = ember.tensor(a, requires_grad=requires_grad)
    return t, e


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(fn, *arrays, grad=True):
    """fn(lib, *tensors) run on torch and ember: same values/shapes/dtypes, same float64 grads."""
    ts, es = zip(*(_pair(a) for a in arrays)) if arrays else ((), ())
    tout, eout = _flat(fn(torch, *ts)), _flat(fn(ember, *es))
    assert len(tout) == len(eout)
    for t, e in zip(tout, eout):
        assert tuple(t.shape) == tuple(e.shape), (t.shape, e.shape)
        assert str(t.dtype).split(".")[-1] == e.dtype.name, (t.dtype, e.dtype)
        np.testing.assert_array_equal(_np(t), _np(e))
    if not grad or not all(np.asarray(a).dtype == np.float64 for a in arrays):
        return
    ts, es = zip(*(_pair(a, True) for a in arrays))
    tout, eout = _flat(fn(torch, *ts)), _flat(fn(ember, *es))
    ws = [RNG.standard_normal(tuple(t.shape)) for t in tout]
    tl = sum((t * torch.tensor(w)).sum() for t, w in zip(tout, ws))
    el = sum((e * ember.tensor(w)).sum() for e, w in zip(eout, ws))
    tl.backward()
    el.backward()
    for t, e in zip(ts, es):
        tg = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        eg = np.zeros(tuple(e.shape)) if e.grad is None else _np(e.grad)
        np.testing.assert_allclose(eg, tg, rtol=1e-12, atol=1e-12)


def check_error(fn, *arrays):
    ts, es = zip(*(_pair(a) for a in arrays))
    with pytest.raises(Exception) as te:
        fn(torch, *ts)
    with pytest.raises(type(te.value)):
        fn(ember, *es)


def shares(a, b):
    return np.shares_memory(a._data, b._data)


# ---------------------------------------------------------------- primitives through dispatch

def test_slice_and_pad_primitives_grad():
    from ember.frontend.dispatch import dispatch, dispatch_view
    x = _arr((5, 7))
    t, e = _pair(x, True)
    y = dispatch_view("slice", e, starts=(1, 0), stops=(5, 7), steps=(2, 3))
    ty = t[1:5:2, 0:7:3]
    np.testing.assert_array_equal(_np(y), _np(ty))
    assert shares(y, e)
    w = _arr(tuple(ty.shape))
    ty.backward(torch.tensor(w))
    (y * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(_np(e.grad), t.grad.numpy())


@pytest.mark.parametrize("pads", [((1, 2, 0), (0, 0, 1)), ((-1, 2, 1), (2, -3, 2)),
                                  ((-2, -3, 0), (0, 0, 0)), ((0, 0, 0), (-7, 0, 0)),
                                  ((-6, 1, 0), (3, -9, 0))])
def test_pad_primitive(pads):
    from ember.frontend.dispatch import dispatch
    x = _arr((5, 7))
    e = ember.tensor(x, requires_grad=True)
    y = dispatch("pad", e, pads=pads, value=0.5)
    big = np.full(tuple(max(lo, 0) + max(hi, 0) + d + (d - 1) * it
                        for d, (lo, hi, it) in zip(x.shape, pads)), 0.5)
    idx = tuple(slice(max(lo, 0), max(lo, 0) + (d - 1) * (it + 1) + 1, it + 1)
                for d, (lo, hi, it) in zip(x.shape, pads))
    big[idx] = x
    crop = tuple(slice(max(-lo, 0), big.shape[i] - max(-hi, 0)) for i, (lo, hi, _) in enumerate(pads))
    np.testing.assert_array_equal(_np(y), big[crop])
    w = _arr(tuple(y.shape))
    (y * ember.tensor(w)).sum().backward()
    gbig = np.zeros(big.shape)
    gbig[crop] = w
    np.testing.assert_array_equal(_np(e.grad), gbig[idx])


def test_pad_double_backward():
    from ember.frontend.dispatch import dispatch
    e = ember.tensor(_arr((3, 4)), requires_grad=True)
    y = dispatch("pad", e, pads=((1, -1, 1), (0, 2, 0)), value=0.0)
    g = ember.autograd.grad((y * y).sum(), e, create_graph=True)[0]
    np.testing.assert_allclose(_np(g), 2 * _np(e) * (np.arange(3) < 3)[:, None] *
                               np.array([1, 1, 0])[:, None])


# ---------------------------------------------------------------- reshape family

@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape_view_values(dtype):
    x = _arr((2, 3, 4), dtype)
    check(lambda L, a: a.reshape(4, -1), x)
    check(lambda L, a: L.reshape(a, (6, 4)), x)
    check(lambda L, a: a.view(-1), x)
    check(lambda L, a: a.view(2, 12).view_as(a), x)
    check(lambda L, a: a.reshape_as(a.new_zeros(24)), x)


def test_reshape_grad():
    check(lambda L, a: a.reshape(6, 4) * 2, _arr((2, 3, 4)))
    check(lambda L, a: a.transpose(0, 2).reshape(-1), _arr((2, 3, 4)))
    check(lambda L, a: a.view(4, 6), _arr((2, 3, 4)))


def test_reshape_view_vs_copy():
    e = ember.tensor(_arr((3, 4)))
    v = e.reshape(4, 3)
    assert shares(v, e) and v._base is e
    c = e.t().reshape(-1)  # non-viewable: copy as in torch
    t = torch.tensor(_np(e))
    assert not shares(c, e)
    assert t.t().reshape(-1).data_ptr() != t.data_ptr()
    np.testing.assert_array_equal(_np(c), t.t().reshape(-1).numpy())


def test_view_errors():
    x = _arr((3, 4))
    check_error(lambda L, a: a.t().view(-1), x)
    e = ember.tensor(x)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        e.t().view(12)
    with pytest.raises(RuntimeError, match=r"shape '\[5\]' is invalid for input of size 12"):
        e.view(5)
    with pytest.raises(RuntimeError, match="only one dimension can be inferred"):
        e.view(-1, -1)
    check_error(lambda L, a: a.reshape(5, -1), x)
    check_error(lambda L, a: a.view(2, -1, -1), x)


def test_view_writes_through():
    e = ember.tensor(np.zeros((2, 3)))
    v = e.view(6)
    v.add_(1.0)
    assert e._data.sum() == 6
    assert v._version is e._version


def test_view_dtype():
    x = _arr((2, 4), "float32")
    t, e = _pair(x)
    np.testing.assert_array_equal(_np(e.view(ember.int32)), _np(t.view(torch.int32)))
    assert e.view(ember.int32).dtype is ember.int32
    np.testing.assert_array_equal(_np(e.view(ember.float16)), _np(t.view(torch.float16)))
    assert tuple(e.view(ember.float64).shape) == tuple(t.view(torch.float64).shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_unflatten_ravel(dtype):
    x = _arr((2, 3, 4), dtype)
    check(lambda L, a: a.flatten(), x)
    check(lambda L, a: L.flatten(a, 1), x)
    check(lambda L, a: a.flatten(0, 1), x)
    check(lambda L, a: a.flatten(-2, -1), x)
    check(lambda L, a: a.unflatten(1, (3, 1)), x)
    check(lambda L, a: L.unflatten(a, -1, (2, -1)), x)
    check(lambda L, a: a.ravel(), x)
    check(lambda L, a: L.ravel(a.transpose(0, 1)), x)
    check(lambda L, a: a.select(0, 1).select(0, 2).select(0, 3).flatten(), x)


def test_flatten_same_dim_returns_self_and_errors():
    e = ember.tensor(_arr((2, 3)))
    assert e.flatten(1, 1) is e
    check_error(lambda L, a: a.flatten(1, 0), _arr((2, 3)))
    check_error(lambda L, a: a.unflatten(1, (2, 2)), _arr((2, 3)))
    check_error(lambda L, a: a.flatten(3), _arr((2, 3)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_squeeze_unsqueeze(dtype):
    x = _arr((1, 3, 1, 2), dtype)
    check(lambda L, a: a.squeeze(), x)
    check(lambda L, a: a.squeeze(0), x)
    check(lambda L, a: a.squeeze(1), x)
    check(lambda L, a: L.squeeze(a, (0, 2)), x)
    check(lambda L, a: a.squeeze(-2), x)
    check(lambda L, a: a.unsqueeze(0), x)
    check(lambda L, a: a.unsqueeze(-1), x)
    check(lambda L, a: L.unsqueeze(a, 2), x)
    check(lambda L, a: a.unsqueeze(4), x)
    check_error(lambda L, a: a.unsqueeze(5), x)
    check_error(lambda L, a: a.squeeze(4), x)
    e = ember.tensor(x)
    assert shares(e.unsqueeze(1), e) and shares(e.squeeze(), e)


def test_squeeze_scalar():
    check(lambda L, a: a.sum().squeeze(), _arr((2,)))
    check(lambda L, a: a.sum().unsqueeze(0), _arr((2,)))
    check(lambda L, a: a.sum().squeeze(0), _arr((2,)))


# ---------------------------------------------------------------- permutations

@pytest.mark.parametrize("dtype", DTYPES)
def test_permute_transpose(dtype):
    x = _arr((2, 3, 4), dtype)
    check(lambda L, a: a.permute(2, 0, 1), x)
    check(lambda L, a: L.permute(a, (1, -1, 0)), x)
    check(lambda L, a: a.transpose(0, 2), x)
    check(lambda L, a: L.transpose(a, -1, 1), x)
    check(lambda L, a: L.swapaxes(a, 0, 1), x)
    check(lambda L, a: a.swapdims(2, 1), x)
    check(lambda L, a: a.mT, x)
    check(lambda L, a: L.movedim(a, 0, -1), x)
    check(lambda L, a: a.movedim((0, 1), (2, 0)), x)
    check(lambda L, a: L.moveaxis(a, -1, 0), x)


def test_permute_errors():
    x = _arr((2, 3, 4))
    check_error(lambda L, a: a.permute(0, 1), x)
    check_error(lambda L, a: a.permute(0, 1, 1), x)
    check_error(lambda L, a: a.permute(0, 1, 3), x)
    check_error(lambda L, a: a.transpose(0, 3), x)
    check_error(lambda L, a: a.t(), x)
    check_error(lambda L, a: a.sum(0).sum(0).mT, x)
    check_error(lambda L, a: a.movedim((0, 1), (0,)), x)


def test_t_and_T():
    check(lambda L, a: a.t(), _arr((2, 3)))
    check(lambda L, a: L.t(a), _arr((3,)))
    check(lambda L, a: a.T, _arr((2, 3)))
    check(lambda L, a: a.sum().t(), _arr((3,)))
    e = ember.tensor(_arr((2, 3)))
    tt = e.t()
    assert shares(tt, e) and tt._base is e
    tt[0].fill_(7.0) if hasattr(tt, "fill_") and hasattr(tt, "__getitem__") else None


def test_transpose_view_writes_through():
    e = ember.tensor(np.zeros((2, 3)))
    tt = e.transpose(0, 1)
    tt.mul_(0.0).add_(2.0)
    assert (e._data == 2).all()
    assert e._version[0] == tt._version[0] > 0


# ---------------------------------------------------------------- broadcasting

@pytest.mark.parametrize("dtype", DTYPES)
def test_expand(dtype):
    x = _arr((3, 1), dtype)
    check(lambda L, a: a.expand(2, 3, 4), x)
    check(lambda L, a: a.expand(-1, 5), x)
    check(lambda L, a: a.expand((2, -1, 2)), x)
    check(lambda L, a: a.expand_as(L.zeros(4, 3, 2)), x)
    check(lambda L, a: L.broadcast_to(a, (2, 3, 3)), x)
    check(lambda L, a, b: L.broadcast_tensors(a, b), x, _arr((2, 1, 4), dtype))
    e = ember.tensor(x)
    assert shares(e.expand(3, 6), e)


def test_expand_errors():
    x = _arr((3, 1))
    check_error(lambda L, a: a.expand(4, 2), x)
    check_error(lambda L, a: a.expand(2), x)
    check_error(lambda L, a: a.expand(-1, 3, 2), x)
    check_error(lambda L, a, b: L.broadcast_tensors(a, b), x, _arr((2, 4)))


def test_broadcast_shapes():
    assert ember.broadcast_shapes((2, 1), (3, 1, 4), 4) == torch.broadcast_shapes((2, 1), (3, 1, 4), 4)
    assert ember.broadcast_shapes() == torch.broadcast_shapes()
    assert isinstance(ember.broadcast_shapes((2,)), ember.Size)
    with pytest.raises(RuntimeError):
        torch.broadcast_shapes((2,), (3,))
    with pytest.raises(RuntimeError):
        ember.broadcast_shapes((2,), (3,))


# ---------------------------------------------------------------- slicing views

@pytest.mark.parametrize("dtype", DTYPES)
def test_narrow_select(dtype):
    x = _arr((4, 5, 3), dtype)
    check(lambda L, a: a.narrow(1, 1, 3), x)
    check(lambda L, a: L.narrow(a, -1, -2, 2), x)
    check(lambda L, a: a.narrow(0, 4, 0), x)
    check(lambda L, a: a.select(1, 2), x)
    check(lambda L, a: L.select(a, -1, -1), x)
    e = ember.tensor(x)
    assert shares(e.narrow(1, 1, 3), e) and shares(e.select(0, 2), e)


def test_narrow_select_errors():
    x = _arr((4, 5))
    check_error(lambda L, a: a.narrow(0, 3, 2), x)
    check_error(lambda L, a: a.select(0, 4), x)
    check_error(lambda L, a: a.select(2, 0), x)
    check_error(lambda L, a: a.select(0, -5), x)


def test_select_writes_through():
    e = ember.tensor(np.zeros((3, 4)))
    e.select(0, 1).add_(5.0)
    e.narrow(1, 2, 2).add_(1.0)
    expect = np.zeros((3, 4))
    expect[1] += 5
    expect[:, 2:] += 1
    np.testing.assert_array_equal(e._data, expect)


@pytest.mark.parametrize("dtype", ["float64", "int64", "bool"])
def test_split_chunk_unbind(dtype):
    x = _arr((7, 4), dtype)
    check(lambda L, a: a.split(3), x)
    check(lambda L, a: L.split(a, [2, 5]), x)
    check(lambda L, a: a.split([1, 3], dim=1), x)
    check(lambda L, a: a.split(10), x)
    check(lambda L, a: a.chunk(3), x)
    check(lambda L, a: L.chunk(a, 4, 1), x)
    check(lambda L, a: a.chunk(10, 1), x)
    check(lambda L, a: a.unbind(), x)
    check(lambda L, a: L.unbind(a, -1), x)
    check(lambda L, a: a.tensor_split(3), x)
    check(lambda L, a: L.tensor_split(a, [1, 5, 3, 10], 0), x)
    check(lambda L, a: a.tensor_split((-2,), dim=1), x)
    check(lambda L, a: L.hsplit(a, 2), x)
    check(lambda L, a: L.vsplit(a, [3]), x)
    e = ember.tensor(x)
    assert all(shares(p, e) for p in e.split(3))


def test_split_errors():
    x = _arr((7, 4))
    check_error(lambda L, a: a.split([2, 2]), x)
    check_error(lambda L, a: a.chunk(0), x)
    check_error(lambda L, a: a.split(2, dim=2), x)
    check_error(lambda L, a: L.hsplit(a, 3), x)


def test_chunk_empty_dim():
    check(lambda L, a: a.chunk(3), _arr((0, 2)))
    check(lambda L, a: a.split(2), _arr((0, 2)))


# ---------------------------------------------------------------- diagonals

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offset", [0, 1, -2, 5, -4])
def test_diagonal(dtype, offset):
    x = _arr((3, 4, 5), dtype)
    check(lambda L, a: a.diagonal(offset), x)
    check(lambda L, a: L.diagonal(a, offset, 2, 0), x)
    check(lambda L, a: a.diagonal(offset=offset, dim1=-1, dim2=1), x)


def test_diagonal_is_writable_view():
    t, e = _pair(np.zeros((3, 4)))
    e.diagonal(1).add_(1.0)
    t.diagonal(1).add_(1.0)
    np.testing.assert_array_equal(_np(e), _np(t))
    assert shares(e.diagonal(), e)


def test_diagonal_errors():
    check_error(lambda L, a: a.diagonal(0, 1, 1), _arr((3, 4)))
    check_error(lambda L, a: a.diagonal(0, 0, 2), _arr((3, 4)))


@pytest.mark.parametrize("k", [0, 1, -1, 3])
def test_diag(k):
    check(lambda L, a: L.diag(a, k), _arr((4,)))
    check(lambda L, a: a.diag(k), _arr((3, 5)))
    check(lambda L, a: L.diag(a, k), _arr((3,), "int64"))
    check(lambda L, a: L.diag_embed(a, k), _arr((2, 3)))
    check(lambda L, a: L.diag_embed(a, k, 0, 2), _arr((2, 3)))
    check(lambda L, a: a.diag_embed(k, -1, 1), _arr((2, 3, 2)))
    e = ember.tensor(_arr((3, 3)))
    assert not shares(e.diag(), e)
    check_error(lambda L, a: L.diag(a), _arr((2, 2, 2)))


# ---------------------------------------------------------------- joining

@pytest.mark.parametrize("dtype", DTYPES)
def test_cat_stack(dtype):
    a, b, c = _arr((2, 3), dtype), _arr((1, 3), dtype), _arr((4, 3), dtype)
    check(lambda L, x, y, z: L.cat([x, y, z]), a, b, c)
    check(lambda L, x, y: L.cat((x, y.t()), dim=-1), a, _arr((3, 2), dtype))
    check(lambda L, x, y: L.concat([x, x, y], 1), a, a)
    check(lambda L, x, y: L.concatenate([x, y], axis=0), a, b)
    check(lambda L, x, y: L.stack([x, y]), a, a)
    check(lambda L, x, y: L.stack([x, y], dim=-1), a, a)
    check(lambda L, x, y: L.stack((x, y), 1), a, a)
    check(lambda L, x: L.cat([x]), a)


def test_cat_copies_and_promotes():
    e = ember.tensor(_arr((2, 3)))
    assert not shares(ember.cat([e]), e)
    check(lambda L, x, y: L.cat([x, y]), _arr((2,), "int64"), _arr((3,), "float32"))
    check(lambda L, x, y: L.cat([x, y]), _arr((2,), "bool"), _arr((3,), "int64"))
    check(lambda L, x, y: L.cat([x, y]), _arr((2,), "float16"), _arr((3,), "float64"))
    check(lambda L, x, y: L.stack([x, y]), _arr((2,), "int64"), _arr((2,), "float32"))


def test_cat_skips_legacy_empty():
    check(lambda L, x, y: L.cat([x, y], 1), _arr((2, 3)), _arr((0,)))
    check(lambda L, x, y, z: L.cat([x, y, z]), _arr((0,)), _arr((2, 2)), _arr((0,)))
    check(lambda L, x, y: L.cat([x, y]), _arr((0,), "float32"), _arr((0,), "int64"))


def test_cat_errors():
    check_error(lambda L, x, y: L.cat([x, y]), _arr((2, 3)), _arr((2, 4)))
    check_error(lambda L, x, y: L.cat([x, y]), _arr((2, 3)), _arr((3,)))
    check_error(lambda L, x, y: L.cat([x, y], 2), _arr((2, 3)), _arr((2, 3)))
    check_error(lambda L, x, y: L.cat([x.sum(), y.sum()]), _arr((2, 3)), _arr((2, 3)))
    check_error(lambda L, x, y: L.stack([x, y]), _arr((2, 3)), _arr((3, 2)))
    check_error(lambda L, x: L.cat(x), _arr((2, 3)))
    with pytest.raises(RuntimeError):
        ember.cat([])
    with pytest.raises(RuntimeError):
        ember.stack([])
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 4)])


def test_cat_out():
    out = ember.empty(0)
    r = ember.cat([ember.ones(2), ember.zeros(1)], out=out)
    assert r is out and out.tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize("shapes", [[(3,), (2,)], [(2, 3), (2, 1)], [(), ()], [(2, 1, 2), (2, 3, 2)]])
def test_hstack_vstack_dstack(shapes):
    arrs = [_arr(s) for s in shapes]
    check(lambda L, *xs: L.hstack(xs), *arrs)
    if all(len(s) <= 2 and (len(s) < 2 or s[1:] == shapes[0][1:]) for s in shapes) and \
            len({s[-1:] for s in shapes}) == 1:
        check(lambda L, *xs: L.vstack(xs), *arrs)
        check(lambda L, *xs: L.row_stack(xs), *arrs)
    if len({s[:2] for s in shapes}) == 1 and all(len(s) == 3 for s in shapes):
        check(lambda L, *xs: L.dstack(xs), *arrs)


def test_dstack_column_stack():
    check(lambda L, x, y: L.dstack([x, y]), _arr((3,)), _arr((3,)))
    check(lambda L, x, y: L.dstack([x, y]), _arr((2, 3)), _arr((2, 3)))
    check(lambda L, x, y, z: L.column_stack([x, y, z]), _arr((3,)), _arr((3, 2)), _arr((3,)))
    check(lambda L, x, y: L.vstack([x, y]), _arr((3,)), _arr((2, 3)))


def test_atleast():
    for s in [(), (3,), (2, 3), (2, 3, 4)]:
        x = _arr(s)
        check(lambda L, a: L.atleast_1d(a), x)
        check(lambda L, a: L.atleast_2d(a), x)
        check(lambda L, a: L.atleast_3d(a), x)
    check(lambda L, a, b: L.atleast_2d(a, b), _arr(()), _arr((3,)))
    check(lambda L, a, b: L.atleast_3d((a, b)), _arr(()), _arr((3,)))


# ---------------------------------------------------------------- repeating, flipping, rolling

@pytest.mark.parametrize("dtype", DTYPES)
def test_repeat_tile(dtype):
    x = _arr((2, 3), dtype)
    check(lambda L, a: a.repeat(2, 1), x)
    check(lambda L, a: a.repeat(2, 2, 3), x)
    check(lambda L, a: a.repeat((1, 1)), x)
    check(lambda L, a: a.repeat(0, 2), x)
    check(lambda L, a: L.tile(a, (2,)), x)
    check(lambda L, a: a.tile((3, 1, 2)), x)
    check(lambda L, a: a[:1].repeat(4, 1) if L is torch else a.narrow(0, 0, 1).repeat(4, 1), x)
    e = ember.tensor(x)
    assert not shares(e.repeat(1, 1), e)
    r = e.narrow(1, 0, 1).repeat(1, 3)
    assert r._data.flags.writeable and not shares(r, e)
    check_error(lambda L, a: a.repeat(2), x)


@pytest.mark.parametrize("dtype", DTYPES)
def test_flip_roll(dtype):
    x = _arr((3, 4, 2), dtype)
    check(lambda L, a: a.flip(0), x)
    check(lambda L, a: L.flip(a, (0, 2)), x)
    check(lambda L, a: a.flip(-1, 1), x)
    check(lambda L, a: L.fliplr(a), x)
    check(lambda L, a: L.flipud(a), x)
    check(lambda L, a: a.roll(1), x)
    check(lambda L, a: L.roll(a, -2, 1), x)
    check(lambda L, a: L.roll(a, (1, 7), (0, -1)), x)
    check(lambda L, a: a.roll(0, 0), x)
    check(lambda L, a: a.roll(4, 1), x)
    e = ember.tensor(x)
    assert not shares(e.flip(0), e) and not shares(e.roll(0, 0), e)


def test_flip_roll_errors():
    x = _arr((3, 4))
    check_error(lambda L, a: a.flip(0, 0), x)
    check_error(lambda L, a: a.flip(2), x)
    check_error(lambda L, a: L.fliplr(a.sum(0)), x)
    check_error(lambda L, a: a.roll((1, 2), 0), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
def test_tril_triu(dtype, k):
    x = _arr((2, 3, 4), dtype)
    check(lambda L, a: a.tril(k), x)
    check(lambda L, a: L.triu(a, k), x)
    check(lambda L, a: L.tril(a, diagonal=k), _arr((4, 3), dtype))


def test_tril_inplace_and_errors():
    t, e = _pair(_arr((3, 3)))
    t.tril_()
    e.tril_()
    np.testing.assert_array_equal(_np(e), _np(t))
    t.triu_(1)
    e.triu_(1)
    np.testing.assert_array_equal(_np(e), _np(t))
    check_error(lambda L, a: a.tril(), _arr((3,)))


# ---------------------------------------------------------------- hypothesis shapes

_dims = st.lists(st.integers(1, 4), min_size=0, max_size=4)


@settings(max_examples=40, deadline=None)
@given(_dims, st.randoms(use_true_random=False))
def test_hyp_reshape_permute(shape, rnd):
    x = _arr(tuple(shape))
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    check(lambda L, a: a.permute(perm), x)
    # reshape of a permuted tensor: a view or a copy, values and grads the same
    n = x.size
    divs = [d for d in range(1, n + 1) if n % d == 0]
    d = rnd.choice(divs)
    check(lambda L, a: a.permute(perm).reshape(d, -1), x)


@settings(max_examples=40, deadline=None)
@given(_dims, st.integers(0, 3), st.integers(1, 3), st.integers(0, 3))
def test_hyp_cat(shape, dim, k, extra):
    if not shape:
        shape = [2]
    dim = dim % len(shape)
    arrs = []
    for i in range(k):
        s = list(shape)
        s[dim] = (extra + i) % 3
        arrs.append(_arr(tuple(s)))
    check(lambda L, *xs: L.cat(xs, dim), *arrs)


@settings(max_examples=40, deadline=None)
@given(_dims, st.lists(st.integers(1, 3), max_size=2), st.randoms(use_true_random=False))
def test_hyp_expand(shape, lead, rnd):
    # pick dims to broadcast: size-1 dims may grow
    small = [1 if rnd.random() < 0.5 else d for d in shape]
    x = _arr(tuple(small))
    target = tuple(lead) + tuple(shape)
    check(lambda L, a: a.expand(target), x)


# ---------------------------------------------------------------- autograd through views

def test_grad_through_chain():
    def f(L, a):
        y = a.transpose(0, 1).unsqueeze(0).expand(2, 4, 3)
        z = L.cat([y.flip(1), y.narrow(2, 1, 2)], -1)
        return z.select(0, 1).diagonal(), z.roll(1, 1).mT.reshape(-1).narrow(0, 3, 5)
    check(f, _arr((3, 4)))


def test_double_backward_through_rules():
    # the VJP rules are themselves differentiable: grad of <VJP(w), 1> w.r.t. w
    def f(L, x):
        y = L.cat([x.diagonal(1), x.flip(0).diagonal(), x.t().narrow(0, 1, 2).reshape(-1)])
        return L.stack([y, y.roll(2)]).unsqueeze(0).expand(3, 2, 11)
    x = _arr((3, 3))
    w = _arr((3, 2, 11))
    res = []
    for L in (ember, torch):
        xt = L.tensor(x, requires_grad=True)
        wt = L.tensor(w, requires_grad=True)
        g = L.autograd.grad(f(L, xt), xt, grad_outputs=wt, create_graph=True)[0]
        assert g.requires_grad
        (g * L.tensor(x)).sum().backward()
        res.append((_np(g), _np(wt.grad)))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])


@pytest.mark.skipif(not hasattr(ember.Tensor, "zero_"), reason="needs Tensor.zero_ (CopySlices)")
def test_inplace_on_view_grad():
    def run(L):
        a = L.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        b = a * 1
        b.transpose(0, 1).narrow(0, 1, 2).mul_(3.0)
        b.diagonal().add_(1.0)
        (b * b).sum().backward()
        return a.grad
    np.testing.assert_allclose(_np(run(ember)), run(torch).numpy())


def test_no_grad_views_have_no_history():
    e = ember.tensor(_arr((2, 3)), requires_grad=True)
    with ember.no_grad():
        v = e.t().reshape(-1)
    assert v.grad_fn is None and not v.requires_grad
