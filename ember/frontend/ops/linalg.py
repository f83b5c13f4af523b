"""Public ops: matmul (and @), mm, bmm, mv, dot, vdot, inner, outer/ger, addmm, addmv, addr,
baddbmm, addbmm, trace, kron, tensordot, einsum.

The only primitive is `matmul` (>=2-D operands, broadcast batch dims). PyTorch's 1-D rules
are reshapes around it; einsum is a composite of sum/mul/permute/reshape/matmul so it is
differentiable, with a direct np.einsum path when no gradient is needed.
"""
from __future__ import annotations

import math

import numpy as np

from ...ir import dtypes as D
from ...runtime.autograd import STATE
from ...runtime.cpu.linalg import KERNELS as _LINALG_KERNELS
from ..dispatch import dispatch, dispatch_view
from ..tensor import Tensor, _wrap, install_methods

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "addr", "baddbmm", "addbmm", "trace", "kron", "tensordot", "einsum", "chain_matmul"]

_NP2DT = {d.np: d for d in D.ALL_DTYPES}
_np_matmul = _LINALG_KERNELS["matmul"]   # np.matmul's 1-D rules are torch's


def _cname(t):
    """PyTorch's C type name in messages: Float, Double, Long, Bool..."""
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[_NP2DT[t._data.dtype].name]


def _same_dtype(a, b, op):
    if a._data.dtype != b._data.dtype:
        if op == "dot":
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{_cname(a)} and {_cname(b)}")
        raise RuntimeError(f"{op}: expected m1 and m2 to have the same dtype, but got: "
                           f"{_NP2DT[a._data.dtype].name} != {_NP2DT[b._data.dtype].name}")
    if a._data.dtype == np.bool_:
        raise RuntimeError(f"\"{op}\" not implemented for 'Bool'")


def _reshape(t, shape):
    shape = tuple(shape)
    if -1 in shape:   # the primitive takes concrete sizes
        known = math.prod(d for d in shape if d != -1)
        shape = tuple(t._data.size // max(known, 1) if d == -1 else d for d in shape)
    return dispatch_view("reshape", t, shape=shape) if t._data.flags.c_contiguous \
        else t.reshape(shape)


def _mT(t):
    n = t._data.ndim
    return dispatch_view("permute", t, dims=tuple(range(n - 2)) + (n - 1, n - 2))


def _check_tensor(x, op, arg):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")


def _dot_sizes(a, b):
    n, m = a._data.shape[0], b._data.shape[0]
    if n != m:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{n}] and src [{m}] to have "
                           f"the same number of elements, but got {n} and {m} elements respectively")


def matmul(input, other, *, out=None):
    _check_tensor(input, "matmul", "input")
    _check_tensor(other, "matmul", "other")
    a, b = input, other
    na, nb = a._data.ndim, b._data.ndim
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D "
                           f"and {nb}D")
    _same_dtype(a, b, "matmul")
    if out is None and not (STATE.enabled and (a.requires_grad or b.requires_grad)) and \
            STATE.tracer is None:
        try:
            return _wrap(np.asarray(_np_matmul(a._data, b._data)))
        except ValueError:
            pass   # a shape error: the checked path below raises torch's message
    if na >= 2 and nb >= 2:
        r = dispatch("matmul", a, b)
    elif na == 1 and nb == 1:
        _dot_sizes(a, b)
        r = _reshape(dispatch("matmul", _reshape(a, (1, -1)), _reshape(b, (-1, 1))), ())
    elif nb == 1:
        k = b._data.shape[0]
        if a._data.shape[-1] != k:
            if na == 2:
                raise RuntimeError(f"size mismatch, got input ({a._data.shape[0]}), mat "
                                   f"({a._data.shape[0]}x{a._data.shape[1]}), vec ({k})")
        r = dispatch("matmul", a, _reshape(b, (k, 1)))
        r = _reshape(r, r._data.shape[:-1])
    else:
        r = dispatch("matmul", _reshape(a, (1, a._data.shape[0])), b)
        r = _reshape(r, r._data.shape[:-2] + r._data.shape[-1:])
    return _out(r, out)


def _out(r, out):
    if out is None:
        return r
    from .creation import _write_out
    return _write_out(out, r._data)


def _need_dims(t, n, msg):
    if t._data.ndim != n:
        raise RuntimeError(msg)


def mm(input, mat2, *, out=None):
    _need_dims(input, 2, "self must be a matrix")
    _need_dims(mat2, 2, "mat2 must be a matrix")
    _same_dtype(input, mat2, "mm")
    if input._data.shape[1] != mat2._data.shape[0]:
        (m, k), (k2, n) = input._data.shape, mat2._data.shape
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {k2}x{n})")
    return _out(dispatch("matmul", input, mat2), out)


def bmm(input, mat2, *, out=None):
    _need_dims(input, 3, "batch1 must be a 3D tensor")
    _need_dims(mat2, 3, "batch2 must be a 3D tensor")
    _same_dtype(input, mat2, "bmm")
    (b, _, k), s2 = input._data.shape, mat2._data.shape
    if s2[0] != b or s2[1] != k:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k}] but got: [{s2[0]}, {s2[1]}].")
    return _out(dispatch("matmul", input, mat2), out)


def mv(input, vec, *, out=None):
    if input._data.ndim != 2 or vec._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input._data.ndim}, "
                           f"{vec._data.ndim}")
    return matmul(input, vec, out=out)


def dot(input, tensor, *, out=None):
    if input._data.ndim != 1 or tensor._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input._data.ndim}D and "
                           f"{tensor._data.ndim}D tensors")
    _same_dtype(input, tensor, "dot")
    return matmul(input, tensor, out=out)


vdot = dot   # real dtypes only: conjugation is the identity


def inner(input, other, *, out=None):
    if input._data.ndim == 0 or other._data.ndim == 0:
        return _out(input * other, out)
    a, b = input._data.shape, other._data.shape
    if a[-1] != b[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(a)} and {list(b)}")
    r = matmul(_reshape(input, (-1, a[-1])), _mT(_reshape(other, (-1, b[-1]))))
    return _out(_reshape(r, a[:-1] + b[:-1]), out)


def outer(input, vec2, *, out=None):
    if input._data.ndim != 1 or vec2._data.ndim != 1:
        raise RuntimeError(f"outer: expected 1D tensors, got {input._data.ndim}D and "
                           f"{vec2._data.ndim}D")
    return _out(_reshape(input, (-1, 1)) * _reshape(vec2, (1, -1)), out)


ger = outer


def _add_scaled(input, prod, beta, alpha):
    """beta*input + alpha*prod; beta=0 ignores input's values (nan/inf do not propagate)."""
    if alpha != 1:
        prod = prod * alpha
    if beta == 0:
        np.broadcast_shapes(input._data.shape, prod._data.shape)   # input must still broadcast
        return prod
    return (input if beta == 1 else input * beta) + prod


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    return _out(_add_scaled(input, mm(mat1, mat2), beta, alpha), out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    return _out(_add_scaled(input, mv(mat, vec), beta, alpha), out)


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    return _out(_add_scaled(input, outer(vec1, vec2), beta, alpha), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_add_scaled(input, bmm(batch1, batch2), beta, alpha), out)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    return _out(_add_scaled(input, bmm(batch1, batch2).sum(0), beta, alpha), out)


def trace(input):
    if input._data.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input._data.ndim}")
    if not (STATE.enabled and input.requires_grad) and STATE.tracer is None:
        d = input._data
        acc = np.int64 if d.dtype.kind in "biu" else None
        return _wrap(np.asarray(np.trace(d, dtype=acc)).astype(acc or d.dtype))
    return dispatch_view("diagonal", input, offset=0, dim1=0, dim2=1).sum()


def kron(input, other, *, out=None):
    """kron(a, b)[i*B + j] = a[i] * b[j] per dim: interleave a's and b's dims, multiply, merge."""
    n = max(input._data.ndim, other._data.ndim)
    sa = (1,) * (n - input._data.ndim) + input._data.shape
    sb = (1,) * (n - other._data.ndim) + other._data.shape
    a = _reshape(input, [d for s in sa for d in (s, 1)])
    b = _reshape(other, [d for s in sb for d in (1, s)])
    return _out((a * b).reshape(tuple(x * y for x, y in zip(sa, sb))), out)


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da = list(range(a._data.ndim - dims, a._data.ndim))
        db = list(range(dims))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, dims.tolist(), out)
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [d % max(a._data.ndim, 1) for d in da]
    db = [d % max(b._data.ndim, 1) for d in db]
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {len(da)} and "
                           f"{len(db)}")
    for x, y in zip(da, db):
        if a._data.shape[x] != b._data.shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a._data.shape[x]} in dim {x} and second has size "
                               f"{b._data.shape[y]} in dim {y}")
    fa = [d for d in range(a._data.ndim) if d not in da]
    fb = [d for d in range(b._data.ndim) if d not in db]
    k = math.prod(a._data.shape[d] for d in da)
    am = a.permute(fa + da).reshape(-1, k)
    bm = b.permute(db + fb).reshape(k, -1)
    r = mm(am, bm) if am._data.dtype == bm._data.dtype else matmul(*_promote2(am, bm))
    return _out(r.reshape(tuple(a._data.shape[d] for d in fa) + tuple(b._data.shape[d] for d in fb)),
                out)


def _promote2(a, b):
    dt = D.promote_types(a.dtype, b.dtype)
    return a.to(dt), b.to(dt)


def chain_matmul(*matrices, out=None):
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = matrices[0]
    r = matrices[0]
    for m in matrices[1:]:
        r = mm(r, m)
    return _out(r, out)


# ---------------------------------------------------------------- einsum

def _parse_einsum(equation, shapes):
    """Labels per operand and for the output, as lists of ints: letters by ord(), the dims
    an ellipsis covers as -1, -2, ... counted from the right (so they broadcast)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    ell = 0
    labels = []
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        head, has_ell, tail = term.partition("...")
        if "." in head or "." in tail:
            raise RuntimeError(f"einsum(): found '.' for operand {i} that is not part of any ellipsis")
        for c in head + tail:
            if not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript given at index {term.index(c)} in "
                                   f"the equation string, subscripts must be in [a-zA-Z]")
        nfix = len(head) + len(tail)
        if not has_ell and nfix != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nfix}) does "
                               f"not match the number of dimensions ({len(shape)}) for operand {i} "
                               f"and no ellipsis was given")
        if has_ell and nfix > len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({nfix}) is more "
                               f"than the number of dimensions ({len(shape)}) for operand {i}")
        k = len(shape) - nfix if has_ell else 0
        ell = max(ell, k)
        labels.append([ord(c) for c in head] + list(range(-k, 0)) + [ord(c) for c in tail])
    if arrow:
        head, has_ell, tail = rhs.partition("...")
        for c in head + tail:
            if not c.isalpha():
                raise RuntimeError("einsum(): invalid subscript given in the output, subscripts "
                                   "must be in [a-zA-Z]")
        out = [ord(c) for c in head] + (list(range(-ell, 0)) if has_ell else []) + \
            [ord(c) for c in tail]
        seen = {l for ls in labels for l in ls}
        for l in out:
            if l >= 0 and l not in seen:
                raise RuntimeError(f"einsum(): output subscript {chr(l)} does not appear in the "
                                   f"equation for any input operand")
            if out.count(l) > 1:
                raise RuntimeError(f"einsum(): output subscript {chr(l)} appears more than once in "
                                   f"the output")
    else:
        counts = {}
        for ls in labels:
            for l in ls:
                counts[l] = counts.get(l, 0) + 1
        out = list(range(-ell, 0)) + sorted(l for l, c in counts.items() if c == 1 and l >= 0)
    return labels, out


def _label_sizes(labels, shapes):
    sizes = {}
    for i, (ls, shape) in enumerate(zip(labels, shapes)):
        for l, d in zip(ls, shape):
            s = sizes.get(l)
            if s is None or s == 1:
                sizes[l] = d
            elif d != 1 and d != s:
                name = chr(l) if l >= 0 else "..."
                raise RuntimeError(f"einsum(): subscript {name} has size {d} for operand {i} which "
                                   f"does not broadcast with previously seen size {s}")
    return sizes


def _take_diagonals(t, ls):
    """Collapse repeated labels within one operand onto their diagonal."""
    while len(set(ls)) != len(ls):
        for i, l in enumerate(ls):
            j = ls.index(l, i + 1) if ls.count(l) > 1 else -1
            if j >= 0:
                break
        t = dispatch_view("diagonal", t, offset=0, dim1=i, dim2=j)   # diagonal goes last
        ls = [x for k, x in enumerate(ls) if k not in (i, j)] + [l]
    return t, ls


def _sum_labels(t, ls, drop):
    dims = tuple(i for i, l in enumerate(ls) if l in drop)
    if not dims:
        return t, ls
    return t.sum(dims), [l for l in ls if l not in drop]


def _contract(a, la, b, lb, keep, sizes):
    """Pairwise contraction through one batched matmul: [batch, a-only, shared] @
    [batch, shared, b-only]; size-1 (broadcast) dims are expanded to the common size."""
    a = _expand_to(a, la, sizes)
    b = _expand_to(b, lb, sizes)
    sb = set(lb)
    batch = [l for l in la if l in sb and l in keep]
    summed = [l for l in la if l in sb and l not in keep]
    aonly = [l for l in la if l not in sb]
    bonly = [l for l in lb if l not in set(la)]
    m = math.prod(sizes[l] for l in aonly)
    n = math.prod(sizes[l] for l in bonly)
    k = math.prod(sizes[l] for l in summed)
    bs = [sizes[l] for l in batch]
    pa = a.permute([la.index(l) for l in batch + aonly + summed]).reshape(bs + [m, k])
    pb = b.permute([lb.index(l) for l in batch + summed + bonly]).reshape(bs + [k, n])
    r = dispatch("matmul", pa, pb)
    return r.reshape(bs + [sizes[l] for l in aonly + bonly]), batch + aonly + bonly


def _expand_to(t, ls, sizes):
    target = [sizes[l] for l in ls]
    if list(t._data.shape) == target:
        return t
    return t.expand(*target)


def _einsum_numpy(equation, operands):
    arrs = [o._data for o in operands]
    dt = arrs[0].dtype
    low = dt.kind == "f" and dt.itemsize < 4 or dt.name == "bfloat16"
    if low:
        arrs = [a.astype(np.float32) for a in arrs]
    r = np.einsum(equation, *arrs, optimize=len(arrs) > 2)
    return _wrap(np.array(r, dtype=dt, copy=True) if low or not isinstance(r, np.ndarray)
                 or not r.flags.owndata else r)


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    shapes = [o._data.shape for o in operands]
    labels, out = _parse_einsum(equation, shapes)
    dt = operands[0]._data.dtype
    for o in operands[1:]:
        if o._data.dtype != dt:
            raise RuntimeError(f"expected scalar type {_cname(operands[0])} but found {_cname(o)}")
    sizes = _label_sizes(labels, shapes)
    if not (STATE.enabled and any(o.requires_grad for o in operands)) and dt != np.bool_ \
            and STATE.tracer is None:
        return _einsum_numpy(_canonical(labels, out), operands)
    return _einsum_composite(list(operands), labels, out, sizes)


def _canonical(labels, out):
    """Rewrite with letters only (ellipsis dims get their own letters) for np.einsum."""
    used = {l for ls in labels for l in ls if l >= 0}
    free = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if ord(c) not in used)
    names = {}
    def name(l):
        if l >= 0:
            return chr(l)
        if l not in names:
            names[l] = next(free)
        return names[l]
    lhs = ",".join("".join(name(l) for l in ls) for ls in labels)
    return lhs + "->" + "".join(name(l) for l in out)


def _einsum_composite(ops, labels, out, sizes):
    ts, ls_all = [], []
    for t, ls in zip(ops, labels):
        t, ls = _take_diagonals(t, list(ls))
        ts.append(t)
        ls_all.append(ls)
    outset = set(out)
    # sum away labels that only one operand has and the output does not keep
    for i in range(len(ts)):
        others = {l for j, ls in enumerate(ls_all) if j != i for l in ls}
        drop = {l for l in ls_all[i] if l not in outset and l not in others}
        ts[i], ls_all[i] = _sum_labels(ts[i], ls_all[i], drop)
    t, ls = ts[0], ls_all[0]
    for i in range(1, len(ts)):
        keep = outset | {l for ls2 in ls_all[i + 1:] for l in ls2}
        t, ls = _contract(t, ls, ts[i], ls_all[i], keep, sizes)
    t, ls = _sum_labels(t, ls, {l for l in ls if l not in outset})
    t = _expand_to(t, ls, sizes) if len(ts) > 1 else t
    perm = [ls.index(l) for l in out]
    return t.permute(perm) if perm != list(range(len(perm))) else t


def _rmatmul(self, other):
    if not isinstance(other, Tensor):
        return NotImplemented   # Python then raises "unsupported operand type(s) for @"
    return matmul(other, self)


METHODS = {
    "matmul": matmul, "__matmul__": matmul, "__rmatmul__": _rmatmul, "mm": mm, "bmm": bmm,
    "mv": mv, "dot": dot, "vdot": vdot, "inner": inner, "outer": outer, "ger": ger,
    "addmm": addmm, "addmv": addmv, "addr": addr, "baddbmm": baddbmm, "addbmm": addbmm,
    "trace": trace, "kron": kron,
}
install_methods(METHODS)
