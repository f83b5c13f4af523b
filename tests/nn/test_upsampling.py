"""F.interpolate in every mode (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area) with sizes, integer and fractional scale factors, recompute_scale_factor and
align_corners, against torch (values and gradients, float64 and float32); Upsample layers;
pixel_shuffle/unshuffle; errors."""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _spatial import arrays, assert_same, check, same_error

X1, X2, X3 = arrays((2, 3, 6), (2, 3, 5, 7), (1, 2, 3, 4, 5))
MODES = [("nearest", X1), ("nearest", X2), ("nearest", X3), ("nearest-exact", X1),
         ("nearest-exact", X2), ("nearest-exact", X3), ("linear", X1), ("bilinear", X2),
         ("bicubic", X2), ("trilinear", X3), ("area", X1), ("area", X2), ("area", X3)]
SIZES = [dict(scale_factor=2), dict(scale_factor=1.7), dict(scale_factor=0.6), dict(size=9),
         dict(size=3), dict(scale_factor=1.7, recompute_scale_factor=True), dict(size="same")]


def _align_options(mode):
    return [None] if mode in ("nearest", "nearest-exact", "area") else [False, True]


@pytest.mark.parametrize("mode,x", MODES, ids=[f"{m}-{x.ndim - 2}d" for m, x in MODES])
@pytest.mark.parametrize("kw", SIZES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_interpolate(mode, x, kw):
    if kw.get("size") == "same":
        kw = dict(size=tuple(x.shape[2:]))
    for ac in _align_options(mode):
        check(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw),
              lambda x: TF.interpolate(x, mode=mode, align_corners=ac, **kw), [x])


@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "nearest-exact"])
def test_interpolate_float32_and_per_dim_sizes(mode):
    for ac in _align_options(mode):
        for kw in (dict(size=(8, 4)), dict(scale_factor=(1.5, 0.7))):
            check(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw),
                  lambda x: TF.interpolate(x, mode=mode, align_corners=ac, **kw), [X2],
                  dtype="float32", tol=1e-5)


def test_interpolate_integer_images():
    x = np.random.default_rng(0).integers(0, 256, (1, 3, 9, 11))
    check(lambda x: F.interpolate(x, scale_factor=1.5), lambda x: TF.interpolate(
        x, scale_factor=1.5), [x], dtype="uint8", grad=False)
    # uint8 bilinear: PyTorch uses fixed-point weights; rounding may differ by one level
    check(lambda x: F.interpolate(x, size=(7, 16), mode="bilinear"), lambda x: TF.interpolate(
        x, size=(7, 16), mode="bilinear"), [x], dtype="uint8", grad=False, tol=1.0)


def test_deprecated_forms_and_modules():
    xe, xt = ember.tensor(X2), torch.tensor(X2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_same(F.upsample(xe, scale_factor=2, mode="bilinear"),
                    TF.upsample(xt, scale_factor=2, mode="bilinear"), 1e-10)
        assert_same(F.upsample_nearest(xe, size=(6, 9)), TF.upsample_nearest(xt, size=(6, 9)), 0)
        assert_same(F.upsample_bilinear(xe, scale_factor=2), TF.upsample_bilinear(
            xt, scale_factor=2), 1e-10)
    with pytest.warns(UserWarning, match="deprecated"):
        F.upsample_nearest(xe, scale_factor=2)
    cases = [("Upsample", dict(scale_factor=2, mode="bilinear", align_corners=True)),
             ("Upsample", dict(size=(3, 4))), ("Upsample", dict(scale_factor=(2, 1.5))),
             ("UpsamplingNearest2d", dict(scale_factor=3)),
             ("UpsamplingBilinear2d", dict(size=(8, 8)))]
    for name, kw in cases:
        em, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
        assert repr(em) == repr(tm)
        check(em, tm, [X2])


@pytest.mark.parametrize("xs,r", [((1, 8, 3, 4), 2), ((2, 3, 18, 2, 3), 3), ((4, 2, 2), 2)])
def test_pixel_shuffle(xs, r):
    (x,) = arrays(xs)
    check(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r), [x])
    check(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r),
          [TF.pixel_shuffle(torch.tensor(x), r).numpy()])
    em, tm = nn.PixelShuffle(r), torch.nn.PixelShuffle(r)
    assert repr(em) == repr(tm)
    check(em, tm, [x])
    assert repr(nn.PixelUnshuffle(r)) == repr(torch.nn.PixelUnshuffle(r))


@pytest.mark.parametrize("call", [
    lambda F, x: F.interpolate(x, size=4, scale_factor=2),
    lambda F, x: F.interpolate(x),
    lambda F, x: F.interpolate(x, size=(2, 3, 4)),
    lambda F, x: F.interpolate(x, scale_factor=(2, 3, 4)),
    lambda F, x: F.interpolate(x, size=(2.5, 3)),
    lambda F, x: F.interpolate(x, size=4, recompute_scale_factor=True),
    lambda F, x: F.interpolate(x, scale_factor=2, align_corners=True),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="linear"),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="trilinear"),
    lambda F, x: F.interpolate(x[0], scale_factor=2, mode="bilinear"),
    lambda F, x: F.interpolate(x, scale_factor=2, mode="foo"),
    lambda F, x: F.interpolate(x[0, 0], scale_factor=2),
    lambda F, x: F.interpolate(x, size=0),
    lambda F, x: F.interpolate(x[0], scale_factor=0.1, mode="linear"),
    lambda F, x: F.interpolate(x.long(), scale_factor=2, mode="bilinear"),
    lambda F, x: F.interpolate(x.bool(), scale_factor=2),
    lambda F, x: F.interpolate(x.long(), scale_factor=2, mode="area"),
    lambda F, x: F.interpolate(x[0], scale_factor=2, antialias=True, mode="linear"),
    lambda F, x: F.pixel_shuffle(x[0, 0], 2),
    lambda F, x: F.pixel_shuffle(x, 2),
    lambda F, x: F.pixel_shuffle(x, 0),
    lambda F, x: F.pixel_unshuffle(x, 2),
    lambda F, x: F.pixel_unshuffle(x, 0),
])
def test_errors_match_torch(call):
    same_error(lambda: call(F, ember.ones(1, 3, 5, 6)), lambda: call(TF, torch.ones(1, 3, 5, 6)))
