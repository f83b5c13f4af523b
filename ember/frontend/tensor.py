"""The Tensor: a NumPy array (CPU storage) plus autograd metadata.

Views share the array's memory *and* a version counter (`_version`, a one-element list),
so an in-place write through any alias is seen by autograd's saved-tensor checks.
Most methods are installed by the op modules in `ember.frontend.ops` from their
`METHODS` tables, so this file owns only identity, metadata and autograd plumbing.
"""
from __future__ import annotations

import weakref

import numpy as np

from ..ir import dtypes as D
from ..runtime.autograd import STATE, run_backward
from ..runtime.device import CPU

_new = object.__new__
_NP2DT = {d.np: d for d in D.ALL_DTYPES}


class Size(tuple):
    """torch.Size: a tuple of ints with numel()."""
    __slots__ = ()

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"ember.Size([{', '.join(map(str, self))}])"

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r


class Tensor:
    __slots__ = ("_data", "_requires_grad", "_grad", "_grad_fn", "_out_idx", "_version",
                 "_base", "_hooks", "_retains_grad", "__weakref__", "__dict__")

    # NumPy defers to our reflected operators (ndarray + Tensor -> Tensor.__radd__)
    __array_priority__ = 1000
    __array_ufunc__ = None

    def __new__(cls, *args, **kwargs):
        # ember.Tensor(2, 3) / ember.Tensor([1, 2]) as in PyTorch (float32 storage)
        from .ops.creation import _legacy_tensor_new
        return _legacy_tensor_new(cls, *args, **kwargs)

    # ------------------------------------------------------------ metadata
    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        from ..ir.ops import normalize_dim
        return self._data.shape[normalize_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self):
        return _NP2DT[self._data.dtype]

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self):
        return False

    @property
    def is_cpu(self):
        return True

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return self._data.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def stride(self, dim=None):
        isz = self._data.itemsize
        st = tuple(s // isz for s in self._data.strides)
        if self._data.size <= 1 or 0 in self._data.shape:
            st = _contiguous_strides(self._data.shape)
        return st if dim is None else st[dim]

    def storage_offset(self):
        base = self._data
        while isinstance(base.base, np.ndarray):
            base = base.base
        off = self._data.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        return off // self._data.itemsize

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def is_floating_point(self):
        return self._data.dtype.kind == "f" or self.dtype.is_floating_point

    def is_complex(self):
        return False

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if self._grad_fn is not None:
            if not flag:
                raise RuntimeError("you can only change requires_grad flags of leaf variables. If "
                                   "you want to use a computed variable in a subgraph that doesn't "
                                   "require differentiation use var_no_grad = var.detach().")
            return
        if flag and not self.dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got "
                               f"{self.dtype}")
        self._requires_grad = bool(flag)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, g):
        if g is not None:
            if not isinstance(g, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(g).__name__}")
            if g.shape != self.shape:
                raise RuntimeError(f"assigned grad has data of a different size: {tuple(g.shape)} vs "
                                   f"{tuple(self.shape)}")
            if g.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: {g.dtype} vs "
                                   f"{self.dtype}")
        self._grad = g

    @property
    def data(self):
        if STATE.tracer is not None:
            return STATE.tracer.detach(self)
        return _wrap(self._data, self._version)

    @data.setter
    def data(self, other):
        self._data = other._data

    @property
    def _version_count(self):
        return self._version[0]

    def is_inference(self):
        return False

    # ------------------------------------------------------------ conversion
    # Each conversion to Python/NumPy data asks the tracer first (when one is recording):
    # a value computed from the traced inputs would otherwise be baked into the graph.
    def item(self):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "item()")
        return self._item()

    def _item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to "
                               f"Scalar")
        return self._data.reshape(()).item() if self.dtype is not D.bfloat16 else \
            float(self._data.reshape(()))

    def tolist(self):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "tolist()")
        if self.dtype is D.bfloat16:
            return self._data.astype(np.float32).tolist()
        return self._data.tolist()

    def numpy(self, *, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "numpy()")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "conversion to a NumPy array")
        a = self._data
        if dtype is not None and np.dtype(dtype) != a.dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        from .interop import dlpack_capsule
        return dlpack_capsule(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "bool()")
        return bool(self._data.reshape(())) if self._data.size else False

    def __float__(self):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "float()")
        return float(self._item())

    def __int__(self):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "int()")
        return int(self._item())

    def __index__(self):
        if self._data.dtype.kind not in "biu" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "use as an index (__index__)")
        return int(self._data.reshape(()))

    def __complex__(self):
        if STATE.tracer is not None:
            STATE.tracer.concretize(self, "complex()")
        return complex(self._item())

    __hash__ = object.__hash__

    def __repr__(self):
        from .printing import tensor_repr
        if STATE.tracer is not None:  # printing is not part of the traced computation
            with STATE.tracer.paused():
                return tensor_repr(self)
        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            if STATE.tracer is not None:
                STATE.tracer.concretize(self, "format()")
            return self._item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __reduce_ex__(self, protocol):
        # plain pickling (used by DataLoader workers and copy): data + requires_grad only
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if self._grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.")
        t = _wrap(self._data.copy())
        if STATE.tracer is not None:
            STATE.tracer.alias(t, self)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------ autograd
    def detach(self):
        if _tracing and STATE.tracer is not None:  # the graph must cut gradients here too
            return STATE.tracer.detach(self)
        return _wrap(self._data, self._version)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .autograd.api import backward
        backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        fn = self._grad_fn
        if fn is None:
            if self._hooks is None:
                self._hooks = []
            lst = self._hooks
        else:
            if fn.tensor_hooks is None:
                fn.tensor_hooks = {}
            lst = fn.tensor_hooks.setdefault(self._out_idx, [])
        lst.append(hook)
        from ..runtime.autograd import _Handle
        return _Handle(lst, hook)

    def retain_grad(self):
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self._grad_fn
        if fn is None:
            return
        if fn.retained is None:
            fn.retained = {}
        fn.retained[self._out_idx] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self):
        return self._grad_fn is not None and getattr(self, "_retains_grad", False)

    def _set_retained_grad(self, g, create_graph):
        g = g if create_graph else g.detach()
        self._grad = g if self._grad is None else self._grad + g

    def _accumulate_grad(self, g, create_graph):
        if not create_graph:
            g = g.detach()
        if g._data.shape != self._data.shape:
            # gradients of expanded leaves arrive in the expanded shape
            g = g.sum_to_size(self._data.shape)
        if g._data.dtype != self._data.dtype:
            g = g.to(self.dtype)
        cur = self._grad
        if cur is None:
            # copy so later in-place accumulation never writes into another tensor's memory
            # the gradient takes the parameter's layout (as PyTorch's), whatever produced it:
            # optimizers then update in one pass over matching memory orders
            order = "C" if self._data.flags.c_contiguous else "K"
            self._grad = g if create_graph else _wrap(np.array(g._data, copy=True, order=order))
            if STATE.tracer is not None and not create_graph:   # (a traced training step)
                STATE.tracer.alias(self._grad, g)
        elif create_graph or cur._requires_grad:
            self._grad = cur + g
        else:
            np.add(cur._data, g._data, out=cur._data, casting="unsafe")
            cur._version[0] += 1
            if STATE.tracer is not None:
                STATE.tracer.accumulate(cur, g)


def _contiguous_strides(shape):
    st = []
    acc = 1
    for d in reversed(shape):
        st.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(st))


def _rebuild(data, requires_grad):
    t = _wrap(data)
    t._requires_grad = requires_grad
    return t


# Number of tracers recording on any thread: while nonzero, `_wrap` marks each new tensor
# as computed during a trace, so one that reaches an op without having been recorded is an
# error rather than a silent constant (see ember.frontend.tracer).
_tracing = 0


def _wrap(arr, version=None, cls=Tensor):
    t = _new(cls)
    t._data = arr
    t._requires_grad = False
    t._grad = None
    t._grad_fn = None
    t._out_idx = 0
    t._version = [0] if version is None else version
    t._base = None
    t._hooks = None
    if _tracing:
        _mark_traced(t)
    return t


def _mark_traced(t):
    tr = STATE.tracer
    if tr is not None:
        t.__dict__["_traced_in"] = tr.serial


def opaque(op, inputs, outputs, random=False):
    """`outputs` were computed from `inputs` with NumPy, outside dispatch (an op with no
    graph form). While tracing, that is fine for constant inputs (the results are constants
    too) and a TracingError for values computed from the traced inputs, or for any call
    when the op draws random numbers (the graph could not draw fresh ones)."""
    if _tracing and STATE.tracer is not None:
        STATE.tracer.opaque(op, inputs, outputs, random)
    return outputs


def constant(t):
    """Declare t, just made from Python or NumPy data (not computed from other tensors),
    a constant for the tracer: creation ops (tensor, zeros, from_numpy...) call this."""
    if _tracing:
        t.__dict__.pop("_traced_in", None)
    return t


def wrap_view(x, arr, chain):
    """A tensor over `arr`, a view of x's memory reached from x by the view ops in `chain`
    ((primitive, attrs) pairs): it shares x's version counter and records its base and
    the chain from the base, which in-place writes under autograd replay (CopySlices)."""
    res = _wrap(arr, x._version)
    b = x._base
    if b is None:
        res._base = x
        res._view_chain = chain
    else:
        res._base = b
        prev = getattr(x, "_view_chain", None)  # None: relation to the base unknown
        res._view_chain = None if prev is None else prev + chain
    if _tracing and STATE.tracer is not None:
        STATE.tracer.view(x, res, chain)
    return res


def install_methods(table: dict):
    """Attach op functions as Tensor methods (called by each ops module)."""
    for name, fn in table.items():
        setattr(Tensor, name, fn)
