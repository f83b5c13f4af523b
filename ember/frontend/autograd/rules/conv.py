"""VJP rule of the `conv` primitive, written with `conv` itself (as XLA's transpose rules of
conv_general_dilated), so gradients of gradients and traced backward graphs need nothing else.

Per spatial dim (S input length, K kernel, s stride, (lo, hi) padding, ld/rd input/kernel
dilation, P = (S-1)*ld + 1 + lo + hi padded length, Ke = (K-1)*rd + 1, Op output length):

    y[p] = sum_k w[k] * xd[p*s + k*rd - lo]            (xd: x with ld-1 zeros between elements)

- d/dx: a full correlation of g (input-dilated by s) with the spatially flipped kernel:
  padding (Ke-1-lo, Sd-Gd+lo) with Sd = (S-1)*ld+1, Gd = (Op-1)*s+1; taking every ld-th
  output (x's real elements) is stride ld. Channels: in/out swapped within each group.
- d/dw: the roles swap: x with batch and channels exchanged is the input, g with batch and
  channels exchanged is the kernel (dilated by s), stride rd. The high padding drops the
  r = (P - Ke) - (Op-1)*s trailing elements no window reached, so the result is exactly K long.
  Groups: x's channel dim is split so that group j's batch-as-channels block lines up with
  group j's outputs.
"""
from ._base import VJPRule


def _dispatch(op, *args, **attrs):
    from ...dispatch import dispatch
    return dispatch(op, *args, **attrs)


def _zeros(shape, like):
    from ...ops.creation import zeros
    return zeros(tuple(shape), dtype=like.dtype)


def _swap01(nd):
    return (1, 0) + tuple(range(2, nd + 2))


def _grad_input(g, w, xshape, a):
    G = a["groups"]
    O, Cg, *K = w.shape
    nd = len(K)
    if G == 1:
        wt = w.permute(*_swap01(nd))
    else:   # (G*Og, Cg, K) -> (G*Cg, Og, K): swap in/out channels within each group
        wt = w.reshape(G, O // G, Cg, *K).transpose(1, 2).reshape(G * Cg, O // G, *K)
    wt = _dispatch("flip", wt, dims=tuple(range(2, nd + 2)))
    padding = []
    for S, k, s, (lo, _), ld, rd, op in zip(xshape[2:], K, a["stride"], a["padding"],
                                            a["lhs_dilation"], a["rhs_dilation"], g.shape[2:]):
        ke, sd, gd = (k - 1) * rd + 1, (S - 1) * ld + 1, (op - 1) * s + 1
        padding.append((ke - 1 - lo, sd - gd + lo))
    return _dispatch("conv", g, wt, stride=tuple(a["lhs_dilation"]), padding=tuple(padding),
                     lhs_dilation=tuple(a["stride"]), rhs_dilation=tuple(a["rhs_dilation"]),
                     groups=G)


def _grad_weight(g, x, wshape, a):
    G = a["groups"]
    N, C, *S = x.shape
    O, Cg, *K = wshape
    nd = len(K)
    if G == 1:
        xt = x.permute(*_swap01(nd))
    else:   # (N, G*Cg, S) -> (Cg, G*N, S): group j's samples become channel block j
        xt = x.reshape(N, G, Cg, *S).permute(2, 1, 0, *range(3, nd + 3)).reshape(Cg, G * N, *S)
    gt = g.permute(*_swap01(nd))
    padding = []
    for n, k, s, (lo, hi), ld, rd, op in zip(S, K, a["stride"], a["padding"],
                                             a["lhs_dilation"], a["rhs_dilation"], g.shape[2:]):
        unreached = ((n - 1) * ld + 1 + lo + hi - ((k - 1) * rd + 1)) - (op - 1) * s
        padding.append((lo, hi - unreached))
    y = _dispatch("conv", xt, gt, stride=tuple(a["rhs_dilation"]), padding=tuple(padding),
                  lhs_dilation=tuple(a["lhs_dilation"]), rhs_dilation=tuple(a["stride"]),
                  groups=G)
    return y.permute(*_swap01(nd)).contiguous()


def _conv(ctx, g):
    x, w = ctx.saved
    xshape, wshape = ctx.shapes
    # empty operands: nothing flows (the formulas above assume non-empty extents)
    empty = 0 in g.shape or 0 in xshape or 0 in wshape
    gx = gw = None
    if ctx.needs[0]:
        gx = _zeros(xshape, g) if empty else _grad_input(g, w, xshape, ctx.attrs)
    if ctx.needs[1]:
        gw = _zeros(wshape, g) if empty else _grad_weight(g, x, wshape, ctx.attrs)
    return gx, gw


RULES = {"conv": VJPRule(_conv, (0, 1))}
