"""Convolutions against torch: F.conv1d/2d/3d and F.conv_transpose1d/2d/3d over many
parameter combinations (outputs and input/weight/bias gradients, float64), the modules
(padding modes, 'same'/'valid', output_size, init, repr), low-precision and integer dtypes,
numerical gradient checks of the `conv` primitive, and errors."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn as nn
import ember.nn.functional as F
from _spatial import arrays, assert_same, check, same_error

# torch notes that 'same' with even kernels pads a copy of the input; nothing to act on here
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")

# (x shape, w shape, kwargs): strides, paddings (ints, tuples, strings), dilations, groups
CONV = [
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 4, 11), (6, 2, 4), dict(stride=3, padding=2, dilation=2, groups=2)),
    ((1, 3, 8), (3, 1, 3), dict(padding="same", dilation=3, groups=3)),
    ((1, 2, 7), (2, 2, 4), dict(padding="same")),
    ((2, 2, 7), (3, 2, 2), dict(padding="valid", stride=2)),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 4, 7, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    ((1, 4, 9, 8), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),
    ((2, 2, 6, 7), (3, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    ((1, 3, 5, 5), (2, 3, 1, 1), dict(stride=2)),
    ((2, 1, 9, 9), (2, 1, 5, 5), dict(stride=3, padding=2, dilation=2)),
    ((1, 2, 5, 4, 6), (3, 2, 2, 3, 2), dict(stride=(1, 2, 2), padding=(1, 0, 1))),
    ((1, 4, 5, 5, 5), (4, 2, 3, 3, 3), dict(padding="same", groups=2)),
]

TRANSPOSED = [
    ((2, 3, 5), (3, 4, 3), {}),
    ((2, 4, 5), (4, 3, 3), dict(stride=2, padding=4, output_padding=1, dilation=3)),
    ((1, 4, 6), (4, 1, 2), dict(stride=3, output_padding=2, groups=2)),
    ((2, 4, 5, 4), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                      groups=2)),
    ((1, 2, 4, 4), (2, 3, 4, 4), dict(stride=2, padding=1)),
    ((2, 3, 3, 5), (3, 2, 3, 3), dict(dilation=2, padding=(2, 1))),
    ((1, 2, 3, 4, 3), (2, 2, 2, 3, 2), dict(stride=(2, 1, 2), padding=(0, 1, 1))),
]

_NAMES = {3: "conv1d", 4: "conv2d", 5: "conv3d"}


@pytest.mark.parametrize("xs,ws,kw", CONV)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_matches_torch(xs, ws, kw, bias):
    name = _NAMES[len(xs)]
    fe, ft = getattr(F, name), getattr(TF, name)
    x, w, b = arrays(xs, ws, (ws[0],))
    check(lambda x, w, b: fe(x, w, b, **kw), lambda x, w, b: ft(x, w, b, **kw),
          [x, w, b if bias else None])


@pytest.mark.parametrize("xs,ws,kw", TRANSPOSED)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose_matches_torch(xs, ws, kw, bias):
    name = "conv_transpose" + _NAMES[len(xs)][-2:]
    fe, ft = getattr(F, name), getattr(TF, name)
    g = kw.get("groups", 1)
    x, w, b = arrays(xs, ws, (ws[1] * g,))
    check(lambda x, w, b: fe(x, w, b, **kw), lambda x, w, b: ft(x, w, b, **kw),
          [x, w, b if bias else None])


def test_unbatched_and_top_level_forms():
    x, w, b = arrays((3, 7, 6), (4, 3, 3, 3), (4,))
    check(lambda x, w, b: ember.conv2d(x, w, b, padding=1), lambda x, w, b: torch.conv2d(
        x, w, b, padding=1), [x, w, b])
    x, w = arrays((4, 5), (4, 2, 3))
    check(lambda x, w: F.conv_transpose1d(x, w, stride=2), lambda x, w: TF.conv_transpose1d(
        x, w, stride=2), [x, w])
    x, w = arrays((1, 2, 5, 5), (2, 3, 3, 3))
    check(lambda x, w: ember.convolution(x, w, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1),
          lambda x, w: torch.convolution(x, w, None, [2, 2], [1, 1], [1, 1], True, [1, 1], 1),
          [x, w])


@pytest.mark.parametrize("dtype,tol", [("float32", 1e-5), ("float16", 2e-2), ("bfloat16", 5e-2)])
def test_conv_float_dtypes(dtype, tol):
    x, w, b = arrays((2, 4, 6, 6), (4, 2, 3, 3), (4,))
    check(lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=2),
          lambda x, w, b: TF.conv2d(x, w, b, padding=1, groups=2), [x, w, b], dtype=dtype,
          tol=tol)
    x, w = arrays((1, 2, 4, 4), (2, 3, 3, 3))
    check(lambda x, w: F.conv_transpose2d(x, w, stride=2),
          lambda x, w: TF.conv_transpose2d(x, w, stride=2), [x, w], dtype=dtype, tol=tol,
          grad=dtype == "float32")


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
def test_conv_integer(dtype):
    rng = np.random.default_rng(0)
    x, w = rng.integers(0, 4, (2, 2, 5, 5)), rng.integers(0, 3, (3, 2, 2, 2))
    check(lambda x, w: F.conv2d(x, w, stride=2), lambda x, w: TF.conv2d(x, w, stride=2),
          [x, w], dtype=dtype, grad=False)


@pytest.mark.parametrize("kw", [
    dict(stride=2, padding=1),
    dict(padding=((1, 2), (0, 1)), lhs_dilation=(2, 1), rhs_dilation=(1, 2), groups=2),
    dict(padding=((-1, 1), (2, -1)), stride=(1, 2), lhs_dilation=(2, 3), groups=1),
])
def test_conv_primitive_gradcheck(kw):
    from ember.frontend.dispatch import dispatch
    attrs = dict(stride=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                 rhs_dilation=(1, 1), groups=1)
    attrs.update({k: (v, v) if isinstance(v, int) and k != "groups" else v for k, v in kw.items()})
    if isinstance(attrs["padding"], tuple) and isinstance(attrs["padding"][0], int):
        attrs["padding"] = tuple((p, p) for p in attrs["padding"])
    g = attrs["groups"]
    x = ember.randn(2, 2 * g, 4, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3 * g, 2, 2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, w: dispatch("conv", x, w, **attrs), (x, w))


def test_conv_gradgradcheck():
    x = ember.randn(1, 2, 5, 4, dtype=ember.float64, requires_grad=True)
    w = ember.randn(4, 1, 2, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(
        lambda x, w: F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2), groups=2), (x, w))
    w = ember.randn(2, 3, 3, 2, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), (x, w))


def test_double_backward_matches_torch():
    (x, w), out = arrays((1, 2, 5, 5), (3, 2, 3, 3)), []
    for mod, fn in ((ember, F.conv2d), (torch, TF.conv2d)):
        xt = mod.tensor(x, requires_grad=True)
        wt = mod.tensor(w, requires_grad=True)
        y = fn(xt, wt, stride=2, padding=1)
        (gx,) = mod.autograd.grad((y ** 2).sum(), xt, create_graph=True)
        (gw,) = mod.autograd.grad((gx ** 2).sum(), wt)
        out.append((gx, gw))
    assert_same(out[0], out[1], 1e-10)


# ------------------------------------------------------------------ modules

def _copy_params(em, tm):
    with torch.no_grad():
        for name, p in em.named_parameters():
            getattr(tm, name).copy_(torch.tensor(p.detach().numpy()))


@pytest.mark.parametrize("cls,args,kw,xs", [
    ("Conv1d", (2, 4, 3), dict(padding=2, padding_mode="reflect"), (2, 2, 7)),
    ("Conv1d", (2, 4, 4), dict(padding="same", padding_mode="circular"), (2, 2, 7)),
    ("Conv2d", (3, 4, 3), dict(padding=(1, 2), padding_mode="replicate", stride=2), (2, 3, 6, 7)),
    ("Conv2d", (2, 4, 2), dict(padding="same", padding_mode="reflect", dilation=2), (1, 2, 6, 6)),
    ("Conv2d", (4, 4, 3), dict(padding=1, padding_mode="circular", groups=2, bias=False),
     (2, 4, 5, 5)),
    ("Conv2d", (1, 4, 3), dict(padding="valid"), (3, 1, 6, 6)),
    ("Conv3d", (2, 2, 3), dict(padding=1, padding_mode="replicate"), (1, 2, 4, 4, 4)),
    ("ConvTranspose1d", (2, 3, 3), dict(stride=2, output_padding=1), (2, 2, 5)),
    ("ConvTranspose2d", (4, 2, 3), dict(stride=2, padding=1, groups=2, dilation=2), (1, 4, 4, 5)),
    ("ConvTranspose3d", (2, 2, 2), dict(stride=2), (1, 2, 2, 3, 2)),
])
def test_modules_match_torch(cls, args, kw, xs):
    em = getattr(nn, cls)(*args, **kw).double()
    tm = getattr(torch.nn, cls)(*args, **kw).double()
    _copy_params(em, tm)
    assert repr(em) == repr(tm)
    (x,) = arrays(xs)
    check(em, tm, [x])
    for name, p in em.named_parameters():
        assert_same(p.grad, getattr(tm, name).grad, 1e-10)


@pytest.mark.parametrize("output_size", [[9, 10], [1, 2, 9, 10], [10, 9]])
def test_conv_transpose_output_size(output_size):
    em = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    tm = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    _copy_params(em, tm)
    (x,) = arrays((1, 2, 5, 5))
    check(lambda x: em(x, output_size=output_size), lambda x: tm(x, output_size=output_size), [x])


def test_conv_transpose_output_size_errors():
    em, tm = nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ConvTranspose2d(2, 3, 3, stride=2)
    xe, xt = ember.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"valid sizes range from \[9, 9\] to \[10, 10\]"):
        em(xe, output_size=[12, 12])
    for size in ([12, 12], [9]):
        with pytest.raises(ValueError) as te:
            tm(xt, output_size=size)
        with pytest.raises(ValueError) as ee:
            em(xe, output_size=size)
        assert str(ee.value).split("(for")[0] == str(te.value).split("(for")[0]


def test_default_init_bounds_and_shapes():
    m = nn.Conv2d(4, 8, (3, 5), groups=2)
    assert tuple(m.weight.shape) == (8, 2, 3, 5) and tuple(m.bias.shape) == (8,)
    bound = 1 / math.sqrt(2 * 3 * 5)
    assert float(m.weight.abs().max()) <= bound and float(m.bias.abs().max()) <= bound
    assert float(m.weight.std()) > bound / 3
    t = nn.ConvTranspose1d(4, 6, 3, groups=2)
    assert tuple(t.weight.shape) == (4, 3, 3)
    assert [k for k, _ in nn.Conv1d(1, 1, 1, bias=False).state_dict().items()] == ["weight"]


@pytest.mark.parametrize("make", [
    lambda M: M.Conv2d(3, 4, 3, groups=2),
    lambda M: M.Conv2d(4, 3, 3, groups=2),
    lambda M: M.Conv2d(4, 4, 3, groups=0),
    lambda M: M.Conv2d(4, 4, 3, padding="full"),
    lambda M: M.Conv2d(4, 4, 3, padding="same", stride=2),
    lambda M: M.Conv2d(4, 4, 3, padding_mode="mirror"),
    lambda M: M.ConvTranspose2d(4, 4, 3, padding_mode="reflect"),
])
def test_module_constructor_errors(make):
    with pytest.raises(ValueError) as te:
        make(torch.nn)
    with pytest.raises(ValueError) as ee:
        make(nn)
    # torch prints a set of names, whose order varies between runs
    canon = lambda e: sorted(str(e.value).translate(str.maketrans("{},", "   ")).split())
    assert canon(ee) == canon(te)


# ------------------------------------------------------------------ errors

def _err(name, xs, ws, bs=None, xdt="float32", wdt="float32", bdt="float32", **kw):
    def run(mod, fns):
        x = mod.ones(xs, dtype=getattr(mod, xdt))
        w = mod.ones(ws, dtype=getattr(mod, wdt))
        b = None if bs is None else mod.ones(bs, dtype=getattr(mod, bdt))
        return getattr(fns, name)(x, w, b, **kw)
    same_error(lambda: run(ember, F), lambda: run(torch, TF))


@pytest.mark.parametrize("args,kw", [
    (("conv2d", (1, 2, 4, 4), (1, 1, 3, 3)), {}),
    (("conv2d", (4, 4), (1, 1, 3, 3)), {}),
    (("conv1d", (1, 2, 4, 4), (1, 2, 3)), {}),
    (("conv2d", (1, 1, 2, 2), (1, 1, 3, 3)), {}),
    (("conv1d", (1, 1, 2), (1, 1, 3)), {}),
    (("conv3d", (1, 1, 2, 2, 2), (1, 1, 3, 3, 3)), dict(dilation=2, padding=1)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(stride=2, padding="same")),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(padding="foo")),
    (("conv2d", (1, 4, 4, 4), (4, 2, 3, 3)), dict(groups=3)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3), (2,)), {}),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(stride=0)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(padding=-1)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(dilation=0)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(groups=0)),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3)), {}),
    (("conv2d", (1, 1, 4, 4), (1, 1, 0, 3)), {}),
    (("conv2d", (1, 1, 4, 4), (0, 1, 3, 3)), {}),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(stride=(1, 1, 1))),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(wdt="float64")),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3), (1,)), dict(bdt="float64")),
    (("conv2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(xdt="bool", wdt="bool")),
    (("conv_transpose2d", (1, 2, 4, 4), (1, 1, 3, 3)), {}),
    (("conv_transpose2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(output_padding=1)),
    (("conv_transpose1d", (1, 1, 4), (1, 1, 3)), dict(stride=2, output_padding=2)),
    (("conv_transpose3d", (1, 1, 4, 4, 4), (1, 1, 3, 3, 3)), dict(stride=2, output_padding=2)),
    (("conv_transpose2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(padding=5)),
    (("conv_transpose2d", (1, 2, 4, 4), (2, 2, 3, 3), (3,)), {}),
    (("conv_transpose2d", (1, 2, 4, 4), (2, 2, 3, 3)), dict(output_padding=-1)),
    (("conv_transpose2d", (1, 4, 4, 4), (3, 1, 3, 3)), dict(groups=2)),
    (("conv_transpose2d", (4, 4), (1, 1, 3, 3)), {}),
    (("conv_transpose2d", (1, 1, 4, 4), (1, 1, 3, 3)), dict(padding="same")),
])
def test_errors_match_torch(args, kw):
    _err(*args, **kw)
