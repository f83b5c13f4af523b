"""The autograd engine: the tape's node type and the reverse walk over it.

The engine knows nothing of what a node computes: each `Node` carries an `apply`
function (supplied by the frontend's VJP rules) that maps output gradients to input
gradients. Tensors are duck-typed here (`_version`, `_accumulate_grad`, `_hooks`) so
the runtime never imports the frontend.
"""
from __future__ import annotations

import threading

__all__ = ["Node", "STATE", "run_backward", "InferenceVersion", "INFERENCE_VERSION"]


class _GradState(threading.local):
    def __init__(self):
        self.enabled = True        # ops are recorded: grad mode on and not in inference mode
        self.inference = False     # inference_mode
        # grad mode as the user set it inside inference mode (enable_grad there changes what
        # is_grad_enabled() says but records nothing, as in PyTorch)
        self.inference_grad = False
        self.anomaly = False       # detect_anomaly: record creation stacks, check for NaN
        self.anomaly_check_nan = True
        # frontend-provided under anomaly mode: (node, grad_outputs) -> grad_inputs; runs the
        # node, checks for NaN and reports the forward call behind a failure
        self.anomaly_checker = None
        # the frontend's Tracer while ember.jit.trace / graph autodiff records this thread's
        # ops into an IR graph; None otherwise (eager pays one attribute check per op)
        self.tracer = None


STATE = _GradState()

# PyTorch's messages, word for word (including the missing spaces after the periods)
INPLACE_INFERENCE_ERROR = (
    "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a "
    "clone to get a normal tensor before doing inplace update.See "
    "https://github.com/pytorch/rfcs/pull/17 for more details.")
_SAVE_INFERENCE = ("Inference tensors cannot be saved for backward. Please do not use Tensors "
                   "created in inference mode in computation tracked by autograd. To work around "
                   "this, you can make a clone to get a normal tensor and use it in autograd, or "
                   "use `torch.no_grad()` instead of `torch.inference_mode()`.")


class InferenceVersion:
    """The version counter of inference tensors (those made in inference mode), shared by all
    of them. PyTorch's inference tensors track no version, so this one always reads 0; every
    in-place write bumps its tensor's version, so refusing the bump outside inference mode is
    what forbids writing into an inference tensor there."""
    __slots__ = ()

    def __getitem__(self, i):
        return 0

    def __setitem__(self, i, value):
        if not STATE.inference:
            raise RuntimeError(INPLACE_INFERENCE_ERROR)

    def __repr__(self):
        return "<inference tensor version>"


INFERENCE_VERSION = InferenceVersion()


# PyTorch's grad_fn class names for primitives whose name is not just CamelCase + "Backward0"
_TORCH_NAMES = {
    "log1p": "Log1PBackward0", "fmod": "FmodBackward1", "remainder": "RemainderBackward1",
    "floor_divide": "NotImplemented", "pow": "PowBackward1", "convert": "ToCopyBackward0",
    "reshape": "ViewBackward0", "pad": "ConstantPadNdBackward0", "copy": "CloneBackward0",
    "matmul": "MmBackward0", "CopySlices": "CopySlices",
}
_NAMES = {}


def _matmul_name(ctx):
    ranks = tuple(len(s) for s in ctx.shapes)
    return {(2, 2): "MmBackward0", (2, 1): "MvBackward0", (1, 1): "DotBackward0",
            (1, 2): "SqueezeBackward4", (3, 3): "BmmBackward0"}.get(ranks, "UnsafeViewBackward0")


def _scalar_second(tensor_name, scalar_name):
    return lambda ctx: scalar_name if ctx.shapes[1] == () and ctx.dtypes[1] is None else tensor_name


# names that depend on how the primitive was called (PyTorch has one overload per case)
_REFINE = {
    "sum": lambda ctx: "SumBackward1" if ctx.attrs.get("dims") is not None else "SumBackward0",
    "matmul": _matmul_name,
    "pow": _scalar_second("PowBackward1", "PowBackward0"),
    "fmod": _scalar_second("FmodBackward1", "FmodBackward0"),
    "remainder": _scalar_second("RemainderBackward1", "RemainderBackward0"),
}
_REFINED = {}


# what PyTorch's name() answers for its nodes that are not generated Backward classes
_QUALIFIED = {"CopySlices": "torch::autograd::CopySlices"}


class OpName(str):
    """A node's name: the primitive ("mul", the key of the VJP table) that, called as
    PyTorch's `grad_fn.name()`, answers PyTorch's class name ("MulBackward0")."""

    def __call__(self):
        return _QUALIFIED.get(self.torch, self.torch)


def op_name(op, torch_name=None):
    n = _NAMES.get(op)
    if n is None or (torch_name is not None and n.torch != torch_name):
        n = OpName(op)
        n.torch = torch_name or _TORCH_NAMES.get(op) or (
            "".join(w[:1].upper() + w[1:] for w in op.split("_")) + "Backward0")
        if torch_name is None:
            _NAMES[op] = n
    return n


def _refined(op, refine, ctx):
    try:
        torch = refine(ctx)
    except (AttributeError, IndexError, TypeError):
        return op_name(op)
    n = _REFINED.get((op, torch))
    if n is None:
        n = _REFINED[(op, torch)] = op_name(op, torch)
    return n


_LEGACY = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
           "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
           "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
           "bool": "BoolTensor"}


class Node:
    """One recorded op: gradients flow from its outputs to the edges in `next`.

    An edge is `(target, index)`: target is another Node (index = which of its outputs),
    a leaf tensor (index 0), or None when that input needs no gradient.
    """
    __slots__ = ("name", "apply", "next", "saved", "versions", "ctx", "nout",
                 "tensor_hooks", "retained", "hooks", "pre_hooks", "trace", "_metadata",
                 "__weakref__")

    def __init__(self, name, apply, next_edges, saved=(), ctx=None, nout=1):
        if type(name) is not OpName:
            refine = _REFINE.get(name)
            name = _NAMES.get(name) or op_name(name) if refine is None else _refined(name, refine, ctx)
        self.name = name
        self.apply = apply
        self.next = next_edges
        self.saved = saved
        # saved entries may be scalars (an operand that was a Python number): no version
        self.versions = tuple(_version_of(t) for t in saved) if saved else ()
        self.ctx = ctx
        self.nout = nout
        self.tensor_hooks = None   # {out_index: [fn]} hooks of non-leaf tensors
        self.retained = None       # {out_index: weakref(tensor)} from retain_grad()
        self.hooks = None          # node post-hooks: fn(grad_inputs, grad_outputs)
        self.pre_hooks = None      # node pre-hooks: fn(grad_outputs)
        self.trace = None          # creation stack under anomaly mode
        self._metadata = None

    def unpack_saved(self):
        """The saved tensors, after checking that none was modified in place since."""
        saved = self.saved
        if saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or if "
                "you need to access saved tensors after calling backward.")
        for i, (t, v) in enumerate(zip(saved, self.versions)):
            if v is not None and t._version[0] != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [ember.{_LEGACY.get(t._data.dtype.name, 'Tensor')} "
                    f"{list(t._data.shape)}], which is saved tensor {i} of {self.name.torch}, is at "
                    f"version {t._version[0]}; expected version {v} instead. Hint: enable anomaly "
                    f"detection to find the operation that failed to compute its gradient, with "
                    f"ember.autograd.set_detect_anomaly(True).")
        return saved

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) -> new grad_inputs or None, after the node runs."""
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(fn)
        return _Handle(self.hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) -> new grad_outputs or None, before the node runs."""
        if self.pre_hooks is None:
            self.pre_hooks = []
        self.pre_hooks.append(fn)
        return _Handle(self.pre_hooks, fn)

    @property
    def next_functions(self):
        return tuple((t if t is None or type(t) is Node else accumulate_node(t), i)
                     for t, i in self.next)

    @property
    def metadata(self):
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def __call__(self, *grads):
        r = self.apply(self, list(grads))
        return r[0] if len(r) == 1 else tuple(r)

    def __repr__(self):
        where = "ember.autograd.function." if self.name == "Function" else ""
        return f"<{where}{self.name.torch} object at {hex(id(self))}>"


def _version_of(t):
    v = getattr(t, "_version", None)
    if type(v) is list:
        return v[0]
    if type(v) is InferenceVersion:
        raise RuntimeError(_SAVE_INFERENCE)
    return None


class AccumulateGrad:
    """What `next_functions` shows for a leaf edge, as PyTorch does (one per leaf)."""
    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable):
        self.variable = variable

    @staticmethod
    def name():
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self):
        return ()

    def register_hook(self, fn):
        return self.variable.register_hook(fn)

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


_AccumulateGrad = AccumulateGrad


def accumulate_node(t):
    d = t.__dict__
    n = d.get("_accumulate_node")
    if n is None:
        n = d["_accumulate_node"] = AccumulateGrad(t)
    return n


class _Handle:
    __slots__ = ("lst", "fn")

    def __init__(self, lst, fn):
        self.lst, self.fn = lst, fn

    def remove(self):
        try:
            self.lst.remove(self.fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _add(a, b):
    return b if a is None else a if b is None else a + b


def _graph(roots, capture_nodes, capture_leaves):
    """Dependency counts (edges into each node) of every node reachable from `roots`; with
    captures (autograd.grad / backward(inputs=)), also the set of nodes that must run:
    those with a path to a captured node or leaf."""
    deps = {}
    order = []
    stack = [n for n in roots if type(n) is Node]
    seen = set(stack)
    while stack:
        n = stack.pop()
        order.append(n)
        for t, _ in n.next:
            if type(t) is Node:
                if t in deps:
                    deps[t] += 1
                else:
                    deps[t] = 1
                if t not in seen:
                    seen.add(t)
                    stack.append(t)
    if capture_nodes is None:
        return deps, None
    indeg = dict(deps)
    topo = [n for n in order if n not in indeg]
    for n in topo:
        for t, _ in n.next:
            if type(t) is Node:
                indeg[t] -= 1
                if indeg[t] == 0:
                    topo.append(t)
    needed = set()
    for n in reversed(topo):  # children are decided before parents
        for t, _ in n.next:
            if (t in needed or t in capture_nodes) if type(t) is Node else \
                    (t is not None and id(t) in capture_leaves):
                needed.add(n)
                break
    return deps, needed


def run_backward(roots, grads, *, retain_graph=False, create_graph=False, capture=None,
                 accumulate=True, allow_unused=True):
    """Propagate `grads` from `roots` (tensors) back through the tape.

    capture: optional list of tensors whose gradients are returned instead of accumulated
    (autograd.grad). Returns the captured gradients (None where unreachable).
    """
    state = STATE
    prev = state.enabled
    state.enabled = create_graph
    try:
        return _run(roots, grads, retain_graph, create_graph, capture, accumulate)
    finally:
        state.enabled = prev


def _run_tensor_hooks(hooks, g):
    for h in hooks:
        r = h(g)
        if r is not None:
            g = r
    return g


def _run(roots, grads, retain_graph, create_graph, capture, accumulate):
    # capture targets: non-leaf tensors by (node, index), leaves by id
    results = cap_edges = cap_leaves = capture_nodes = None
    if capture is not None:
        cap_edges, cap_leaves = {}, {}
        for i, t in enumerate(capture):
            fn = _grad_fn(t)
            if fn is not None:
                cap_edges.setdefault((fn, t._out_idx), []).append(i)
            else:
                cap_leaves.setdefault(id(t), []).append((i, t))
        results = [None] * len(capture)
        capture_nodes = {n for n, _ in cap_edges}

    buffers = {}
    root_nodes = []
    for t, g in zip(roots, grads):
        fn = _grad_fn(t)
        if fn is None:  # a leaf as root
            _to_leaf(t, g, cap_leaves, results, accumulate, create_graph)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * fn.nout
            root_nodes.append(fn)
        buf[t._out_idx] = _add(buf[t._out_idx], g)

    deps, needed = _graph(root_nodes, capture_nodes, cap_leaves)
    # nodes whose incoming gradients are worth summing: those that run, and captured ones
    want = None if needed is None else needed | capture_nodes
    ready = [n for n in root_nodes if n not in deps]
    checker = STATE.anomaly_checker if STATE.anomaly else None
    while ready:
        node = ready.pop()
        gouts = buffers.pop(node)
        if node.tensor_hooks:
            for idx, hooks in node.tensor_hooks.items():
                if gouts[idx] is not None:
                    gouts[idx] = _run_tensor_hooks(hooks, gouts[idx])
        if node.retained:
            for idx, ref in node.retained.items():
                t = ref()
                if t is not None and gouts[idx] is not None:
                    t._set_retained_grad(gouts[idx], create_graph)
        if capture is not None:
            for idx in range(node.nout):
                for i in cap_edges.get((node, idx), ()):
                    results[i] = _add(results[i], gouts[idx])
            if node not in needed:
                # only captured: nothing below it is wanted
                _release(node, retain_graph)
                continue
        if node.pre_hooks:
            for h in node.pre_hooks:
                r = h(tuple(gouts))
                if r is not None:
                    gouts = list(r)
        gins = node.apply(node, gouts) if checker is None else checker(node, gouts)
        if node.hooks:
            for h in node.hooks:
                r = h(tuple(gins), tuple(gouts))
                if r is not None:
                    gins = tuple(r)
        if not retain_graph:
            node.saved = None
        for (target, idx), g in zip(node.next, gins):
            if target is None:
                continue
            if type(target) is Node:
                if g is not None and (want is None or target in want):
                    buf = buffers.get(target)
                    if buf is None:
                        buf = buffers[target] = [None] * target.nout
                        buf[idx] = g
                    else:
                        buf[idx] = _add(buf[idx], g)
                d = deps[target] - 1
                deps[target] = d
                if d == 0:
                    if target in buffers:
                        ready.append(target)
                    else:
                        # nothing flowed into it (all grads None): its inputs get nothing either
                        _propagate_nothing(target, deps, buffers, ready, retain_graph)
            elif g is not None:
                _to_leaf(target, g, cap_leaves, results, accumulate, create_graph)
    return results


def _grad_fn(t):
    """t's node; for a view, through the `grad_fn` property, which first brings the view's
    history up to date if its base was written in place since it was recorded."""
    return t._grad_fn if getattr(t, "_base", None) is None else t.grad_fn


def _to_leaf(t, g, cap_leaves, results, accumulate, create_graph):
    if cap_leaves is not None:
        hit = cap_leaves.get(id(t))
        if hit:
            if t._hooks:
                g = _run_tensor_hooks(t._hooks, g)
            for i, _ in hit:
                results[i] = _add(results[i], g)
    elif accumulate:
        _accumulate_leaf(t, g, create_graph)


def _propagate_nothing(node, deps, buffers, ready, retain_graph):
    stack = [node]
    while stack:
        n = stack.pop()
        _release(n, retain_graph)
        for t, _ in n.next:
            if type(t) is Node:
                d = deps[t] - 1
                deps[t] = d
                if d == 0:
                    if t in buffers:
                        ready.append(t)
                    else:
                        stack.append(t)


def _release(node, retain_graph):
    if not retain_graph:
        node.saved = None


def _accumulate_leaf(t, g, create_graph):
    hooks = t._hooks
    if hooks:
        g = _run_tensor_hooks(hooks, g)
    t._accumulate_grad(g, create_graph)
