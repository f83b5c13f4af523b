"""The CPU `conv` kernel: every algorithm (gather/im2col, the two shifted forms on the
flattened padded input, scatter/col2im) against a reference built from torch (explicit zero
insertion, F.pad, conv) over random configurations with strides, negative and asymmetric
padding, input and kernel dilation and groups, also in blocks of a few images; the shape rule
agrees with the kernel; half types round once; integers are exact; scratch buffers never
leak into results; non-finite inputs keep NaN out of outputs they do not reach."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember  # noqa: F401  (registers kernels)
from ember.ir import dtypes as D
from ember.ir.ops import PRIMITIVES, TensorType
from ember.runtime.cpu import conv as K


def reference(x, w, stride, padding, lhs_dilation, rhs_dilation, groups):
    x, w = torch.from_numpy(x), torch.from_numpy(w)
    for i, d in enumerate(lhs_dilation):
        if d > 1:
            shape = list(x.shape)
            shape[2 + i] = (shape[2 + i] - 1) * d + 1
            z = x.new_zeros(shape)
            idx = [slice(None)] * x.dim()
            idx[2 + i] = slice(None, None, d)
            z[tuple(idx)] = x
            x = z
    x = TF.pad(x, [v for lo_hi in reversed(padding) for v in lo_hi])
    conv = (TF.conv1d, TF.conv2d, TF.conv3d)[x.dim() - 3]
    return conv(x, w, stride=stride, dilation=rhs_dilation, groups=groups).numpy()


def _configs(count, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        nd = int(rng.integers(1, 4))
        g = int(rng.choice([1, 2, 3]))
        cg, og, n = (int(v) for v in rng.integers(1, 4, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, nd))
        s = tuple(int(v) for v in rng.integers(2, 7, nd))
        attrs = dict(stride=tuple(int(v) for v in rng.integers(1, 3, nd)),
                     padding=tuple((int(a), int(b)) for a, b in rng.integers(-1, 4, (nd, 2))),
                     lhs_dilation=tuple(int(v) for v in rng.integers(1, 3, nd)),
                     rhs_dilation=tuple(int(v) for v in rng.integers(1, 3, nd)), groups=g)
        sizes = [K.out_size(a, b, c, lo, hi, d, e) for a, b, c, (lo, hi), d, e in zip(
            s, k, attrs["stride"], attrs["padding"], attrs["lhs_dilation"],
            attrs["rhs_dilation"])]
        if min(sizes) >= 1:
            out.append(((n, g * cg) + s, (g * og, cg) + k, attrs))
    return out


@pytest.mark.parametrize("xs,ws,attrs", _configs(40))
def test_both_algorithms_match_reference(xs, ws, attrs):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    ref = reference(x, w, **attrs)
    osize = ref.shape[2:]
    args = (attrs["padding"], attrs["lhs_dilation"], attrs["rhs_dilation"], attrs["groups"], osize)
    np.testing.assert_allclose(K._gather(x, w, attrs["stride"], *args), ref, atol=1e-12)
    if all(v == 1 for v in attrs["stride"]):
        np.testing.assert_allclose(K._scatter(x, w, *args), ref, atol=1e-12)
        np.testing.assert_allclose(K._shifted(x, w, *args), ref, atol=1e-12)
    if all(v == 1 for v in attrs["rhs_dilation"]):
        np.testing.assert_allclose(K._shifted_kernel(x, w, attrs["stride"], attrs["lhs_dilation"],
                                                     attrs["padding"], attrs["groups"], osize),
                                   ref, atol=1e-12)
    out = K.conv(x, w, **attrs)
    np.testing.assert_allclose(out, ref, atol=1e-12)
    rule = PRIMITIVES["conv"].rule(TensorType(xs, D.float64), TensorType(ws, D.float64), **attrs)
    assert rule[0].shape == out.shape and out.flags.c_contiguous


def test_strided_operands():
    """Non-contiguous inputs (the weight-gradient conv passes transposed views)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 2, 6, 7)).transpose(1, 0, 2, 3)
    w = rng.standard_normal((3, 5, 2, 2))[:, :, ::-1]
    attrs = dict(stride=(1, 2), padding=((1, 0), (0, 1)), lhs_dilation=(1, 1),
                 rhs_dilation=(2, 1), groups=1)
    np.testing.assert_allclose(K.conv(x, w, **attrs),
                               reference(np.ascontiguousarray(x), np.ascontiguousarray(w), **attrs),
                               atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_types_round_once(dtype):
    import ml_dtypes
    npdt = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    rng = np.random.default_rng(3)
    # values with few significant bits: float32 sums are exact, so rounding once is checkable
    x = (rng.integers(-8, 8, (2, 3, 5, 5)) / 8).astype(npdt)
    w = (rng.integers(-8, 8, (4, 3, 3, 3)) / 4).astype(npdt)
    attrs = dict(stride=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                 rhs_dilation=(1, 1), groups=1)
    out = K.conv(x, w, **attrs)
    ref = reference(x.astype(np.float32), w.astype(np.float32), **attrs).astype(npdt)
    assert out.dtype == np.dtype(npdt)
    np.testing.assert_array_equal(out.astype(np.float32), ref.astype(np.float32))


def test_integers_exact_and_empty_shapes():
    x = np.arange(2 * 2 * 4 * 4).reshape(2, 2, 4, 4)
    w = np.ones((2, 1, 2, 2), dtype=np.int64)
    attrs = dict(stride=(2, 1), padding=((0, 0), (1, 0)), lhs_dilation=(1, 1),
                 rhs_dilation=(1, 1), groups=2)
    out = K.conv(x, w, **attrs)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, reference(x, w, **attrs))
    for xs, ws in itertools.product([(0, 2, 4, 4), (1, 2, 4, 4)], [(0, 2, 2, 2), (3, 2, 2, 2)]):
        out = K.conv(np.ones(xs), np.ones(ws), stride=(1, 1), padding=((0, 0), (0, 0)),
                     lhs_dilation=(1, 1), rhs_dilation=(1, 1), groups=1)
        assert out.shape == (xs[0], ws[0], 3, 3)


def test_rule_errors():
    rule = PRIMITIVES["conv"].rule
    a = dict(stride=(1,), padding=((0, 0),), lhs_dilation=(1,), rhs_dilation=(1,), groups=1)
    with pytest.raises(RuntimeError, match="does not fit"):
        rule(TensorType((1, 1, 2), D.float32), TensorType((1, 1, 3), D.float32), **a)
    with pytest.raises(RuntimeError, match="groups=1"):
        rule(TensorType((1, 2, 4), D.float32), TensorType((1, 1, 3), D.float32), **a)
    with pytest.raises(TypeError, match="share a dtype"):
        rule(TensorType((1, 1, 4), D.float32), TensorType((1, 1, 3), D.float64), **a)


@pytest.mark.parametrize("xs,ws,attrs", _configs(12, seed=5))
def test_blocks_of_images(xs, ws, attrs, monkeypatch):
    """Tiny blocks: every algorithm walks its block loop several times."""
    monkeypatch.setattr(K, "_CHUNK_BYTES", 64)
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((xs[0] + 3,) + xs[1:]), rng.standard_normal(ws)
    ref = reference(x, w, **attrs)
    osize = ref.shape[2:]
    args = (attrs["padding"], attrs["lhs_dilation"], attrs["rhs_dilation"], attrs["groups"], osize)
    np.testing.assert_allclose(K._gather(x, w, attrs["stride"], *args), ref, atol=1e-12)
    if all(v == 1 for v in attrs["stride"]):
        np.testing.assert_allclose(K._shifted(x, w, *args), ref, atol=1e-12)
    if all(v == 1 for v in attrs["rhs_dilation"]):
        np.testing.assert_allclose(K._shifted_kernel(x, w, attrs["stride"], attrs["lhs_dilation"],
                                                     attrs["padding"], attrs["groups"], osize),
                                   ref, atol=1e-12)


def test_results_do_not_share_scratch():
    rng = np.random.default_rng(6)
    attrs = dict(stride=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                 rhs_dilation=(1, 1), groups=1)
    x1, x2 = rng.standard_normal((2, 2, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))
    first = K.conv(x1, w, **attrs)
    kept = first.copy()
    K.conv(x2, w, **attrs)                                   # same shapes, same scratch
    np.testing.assert_array_equal(first, kept)
    big_kernel = K.conv(x1.transpose(1, 0, 2, 3), first.transpose(1, 0, 2, 3), **attrs)
    np.testing.assert_allclose(big_kernel, reference(np.ascontiguousarray(x1.transpose(1, 0, 2, 3)),
                               np.ascontiguousarray(first.transpose(1, 0, 2, 3)), **attrs),
                               atol=1e-12)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_input_in_weight_gradient(bad):
    """The weight-gradient shape (kernel larger than the output): a non-finite input value
    reaches only the outputs whose windows hold it, as in torch."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 9, 9))
    x[1, 2, 0, 0] = bad
    g = rng.standard_normal((5, 4, 9, 9))
    attrs = dict(stride=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                 rhs_dilation=(1, 1), groups=1)
    out = K.conv(x, g, **attrs)
    ref = reference(x, g, **attrs)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(out[fin], ref[fin], atol=1e-10)


def test_large_buffers_are_not_kept(monkeypatch):
    monkeypatch.setattr(K, "_SCRATCH_MAX", 1024)
    big = K._scratch("probe", 4096, np.float32)
    assert big.size == 4096 and "probe" not in K._SCRATCH.bufs
    small = K._scratch("probe", 16, np.float32)
    assert K._scratch("probe", 16, np.float32).base is small.base   # reused
    test_results_do_not_share_scratch()     # still exact when big buffers are not kept


@pytest.mark.parametrize("xs,ws,groups", [
    ((3, 8, 6, 7), (5, 8, 3, 3), 1),      # 72 products per output: one wide product
    ((3, 1, 6, 7), (5, 1, 3, 3), 1),      # a thin input: one product per image
    ((3, 16, 5, 6), (4, 8, 3, 3), 2),     # grouped
    ((2, 8, 4, 5, 3), (3, 8, 2, 2, 2), 1),
])
def test_shifted_product_layouts(xs, ws, groups, monkeypatch):
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    nd = len(xs) - 2
    attrs = dict(stride=(1,) * nd, padding=((1, 1),) * nd, lhs_dilation=(1,) * nd,
                 rhs_dilation=(1,) * nd, groups=groups)
    ref = reference(x, w, **attrs)
    for chunk in (64, 1 << 22):     # several blocks, one block
        monkeypatch.setattr(K, "_CHUNK_BYTES", chunk)
        np.testing.assert_allclose(K._shifted(x, w, attrs["padding"], attrs["lhs_dilation"],
                                              attrs["rhs_dilation"], groups, ref.shape[2:]),
                                   ref, atol=1e-12)
