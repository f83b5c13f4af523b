"""The Tensor: a NumPy array (CPU storage) plus autograd metadata.

Views share the array's memory *and* a version counter (`_version`, a one-element list),
so an in-place write through any alias is seen by autograd's saved-tensor checks.
Most methods are installed by the op modules in `ember.frontend.ops` from their
`METHODS` tables, so this file owns only identity, metadata and autograd plumbing.

A view also remembers its root base (`_base`), the view ops that lead there from the
base (`_view_chain`), the version at which its history was recorded (`_view_version`)
and how it was made (`_view_meta`: None, or "no_grad"/"inference" for a view of a
tensor requiring grad made while autograd was off). When the base or another view of it
is written in place, the view's recorded history is stale: it is re-derived from the
base's current history the next time it is asked for (PyTorch's lazy regeneration, see
`dispatch.refresh_view`); the check is one integer comparison.

Tensors made in inference mode are inference tensors: they share one version counter
(`INFERENCE_VERSION`) that tracks nothing and refuses in-place writes outside inference
mode, and autograd refuses to save them.
"""
from __future__ import annotations

import threading
import weakref

import numpy as np

from ..ir import dtypes as D
from ..runtime.autograd import (INFERENCE_VERSION, INPLACE_INFERENCE_ERROR, STATE,
                                InferenceVersion, run_backward)
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
                 "_base", "_hooks", "_retains_grad", "_view_chain", "_view_version",
                 "__weakref__", "__dict__")
    _view_meta = None   # set (in __dict__) only on views made without autograd
    _multi_view = None  # (op, index) on outputs of split/unbind, which forbid in-place writes

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
        return self.grad_fn is None

    @property
    def grad_fn(self):
        if self._base is not None and self._view_version != self._version[0]:
            _refresh_view(self)
        return self._grad_fn

    @property
    def requires_grad(self):
        b = self._base
        # a view requires grad when its base does, whatever it was made from (PyTorch's rule)
        return self._requires_grad or b is not None and b._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and type(self._version) is InferenceVersion and not STATE.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside "
                               "InferenceMode is not allowed.")
        if self.grad_fn is not None:
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
        if type(self._version) is InferenceVersion:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._version[0]

    def is_inference(self):
        return type(self._version) is InferenceVersion

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
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        fn = self.grad_fn
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
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        fn = self.grad_fn
        if fn is None:
            return
        if fn.retained is None:
            fn.retained = {}
        fn.retained[self._out_idx] = weakref.ref(self)
        self._retains_grad = True

    @property
    def retains_grad(self):
        return self.grad_fn is not None and getattr(self, "_retains_grad", False)

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

# Number of inference_mode(True) blocks open on any thread: while nonzero, `_wrap` asks
# whether this thread is in inference mode (its new tensors are inference tensors).
_inference = 0
_inference_lock = threading.Lock()


def inference_blocks(delta):
    """inference_mode(True) entered (+1) or left (-1) on some thread."""
    global _inference
    with _inference_lock:
        _inference += delta


def _fresh_version():
    return INFERENCE_VERSION if STATE.inference else [0]


def _wrap(arr, version=None, cls=Tensor):
    t = _new(cls)
    t._data = arr
    t._requires_grad = False
    t._grad = None
    t._grad_fn = None
    t._out_idx = 0
    if version is None:
        version = [0] if not _inference else _fresh_version()
    t._version = version
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
    the chain from the base, which in-place writes under autograd replay (CopySlices) and
    a stale view's history is re-derived from."""
    version = x._version
    res = _new(Tensor)   # _wrap's fields, set here directly: views are made constantly
    res._data = arr
    res._requires_grad = False
    res._grad = None
    res._grad_fn = None
    res._out_idx = 0
    res._version = version
    res._hooks = None
    res._view_version = version[0]
    b = x._base
    if b is None:
        res._base = b = x
        res._view_chain = chain
    else:
        res._base = b
        prev = x._view_chain  # None: relation to the base unknown
        res._view_chain = None if prev is None else prev + chain
    if b._requires_grad and (not x._requires_grad or not STATE.enabled
                             or x is not b and x._view_meta is not None):
        _view_of_grad_base(x, res)
    if x._multi_view is not None:   # views of split/unbind outputs refuse writes too
        res._multi_view = (None, 0)
    if _tracing:
        _mark_traced(res)
        if STATE.tracer is not None:
            STATE.tracer.view(x, res, chain)
    return res


def _view_of_grad_base(x, res):
    """res, a view of x whose base requires grad, made without autograd (or of a view
    made so, or of a view that predates its base requiring grad)."""
    meta = x._view_meta
    if meta is None and not STATE.enabled:
        meta = "inference" if STATE.inference else "no_grad"
    if meta is not None:
        # made without autograd: it requires grad through its base but passes no gradient
        # on, and writing into it (or its base) later under autograd is an error (PyTorch)
        res._view_meta = meta
        res._requires_grad = True
    elif not x._requires_grad:
        # x predates its base requiring grad (the base was written with values that need
        # gradients): res's history is derived from the base when first asked for
        res._view_version = -1


# PyTorch's errors for writes that would leave a view made without autograd out of date
_VIEW_META_TEXT = {
    "no_grad": (" no_grad mode and {} modified inplace with grad mode enabled.",
                " Given that this use case is ambiguous and error-prone, it is forbidden. You "
                "can clarify your code by moving both the view and the inplace either both "
                "inside the no_grad block (if you don't want the inplace to be tracked) or both "
                "outside (if you want the inplace to be tracked)."),
    "inference": (" inference mode and {} modified inplace in normal mode.",
                  " Given that this use case is ambiguous and error-prone, it is forbidden. You "
                  "can clarify your code by moving both the view and the inplace either both "
                  "inside the inference_mode block (if you don't want the inplace to be tracked) "
                  "or both outside (if you want the inplace to be tracked)."),
}


def view_meta_error(v, indirect):
    """The RuntimeError for view v (made without autograd) going stale: written through
    itself (`indirect` False) or through its base or another view of it."""
    import re
    what, advice = _VIEW_META_TEXT[v._view_meta]
    fn = v._grad_fn
    if fn is None:
        prefix = "A view was created in"
    else:   # a view of such a view, made with autograd on: named by its own view op
        op = re.sub(r"Backward\d*$", "", fn.name.torch)
        prefix = f"Output {v._out_idx} of {op} is a view of a view which was created in"
    modified = "its base or another view of its base has been" if indirect else "is being"
    return RuntimeError(prefix + what.format(modified) + advice)


def check_alias_write(t):
    """PyTorch's checks before an in-place write into t, for the writes autograd cannot
    follow: into an inference tensor outside inference mode, and, with grad mode on, into
    a view of a tensor requiring grad that was made without autograd."""
    if type(t._version) is InferenceVersion and not STATE.inference:
        raise RuntimeError(INPLACE_INFERENCE_ERROR)
    if t._base is not None and t._view_meta is not None and STATE.enabled \
            and t._base._requires_grad:
        raise view_meta_error(t, False)
    check_multi_view(t)


def check_multi_view(t):
    """An output of split/unbind (recorded with autograd) refuses in-place writes."""
    if t._multi_view is not None and STATE.enabled and t.requires_grad:
        op, i = t._multi_view
        if op is None:   # a view of such an output: named by its own view op, as PyTorch
            import re
            op, i = re.sub(r"Backward\d*$", "", t.grad_fn.name.torch), t._out_idx
        raise RuntimeError(
            f"Output {i} of {op} is a view and is being modified inplace. This view is the "
            f"output of a function that returns multiple views. Such functions do not allow the "
            f"output views to be modified inplace. You should replace the inplace operation by "
            f"an out-of-place one.")


def _refresh_view(v):
    from .dispatch import refresh_view
    refresh_view(v)


def install_methods(table: dict):
    """Attach op functions as Tensor methods (called by each ops module)."""
    for name, fn in table.items():
        setattr(Tensor, name, fn)
