"""Fusion planning: partition a graph's nodes into groups, each of which a backend compiles
into one kernel. The plan is backend-neutral data (`FusionPlan`), printable, with a
legality check (`FusionPlan.check`) and a reference executor (`run_plan`).

Group kinds
- `elementwise`: pointwise ops (elementwise, casts, `full`/`iota`) over one iteration
  domain, a shape D: every value of the group is indexed by (a subset of) D's dims.
- `reduction`: reductions over the same dims R of the same domain D, with their
  elementwise producers (prologue: values over D) and consumers (epilogue: values over
  the rows, i.e. D without R, or over D again, like softmax's `e / sum(e)`). One program
  of the kernel owns one row and may pass over it several times (softmax: max, then the
  sum of exponentials, then the quotients), so softmax and layer_norm are one group and
  cross-entropy two (its mean over the rows reduces another domain).
- `matmul_epilogue`: one matmul or conv with the elementwise ops applied to its result
  (bias add, activation, residual add) over the product's shape. Its operands come from
  outside the group (possibly through views, i.e. strided loads).
- `opaque`: one node of any other op (scans, sorts, linear-algebra solvers, indexing
  writes, random draws): a library call or a hand-written kernel.
- `view`: one view op (reshape, permute, expand, slice, diagonal, as_strided, unfold)
  that is not absorbed (below): no kernel, the runtime makes a strided alias of its base
  (a copy only where strides cannot express it). Not counted as a kernel.

Views and other movement: index arithmetic, not kernels
- A movement or gather op (views, flip, pad, cat, copy, gather, index_select, index) is
  absorbed into the group of its consumers when they are all in one group and its tensor
  operands come from outside that group: the kernel reads its operands through the index
  map (a strided or gathered load). This is where most views end up.
- reshape/permute/expand may also apply to a value computed inside a group when the map
  stays a relabelling of the domain (permuting dims, adding or removing size-1 dims,
  broadcasting a row value back over the row): e.g. layer_norm's backward expands row
  sums back over the row inside its reduction group. Reshapes that merge or split dims of
  an in-group value (and slices of one) are group boundaries. A gather may also use
  in-group indices (cross-entropy picking each row's target) when its data comes from
  outside the group.
- A view used by several groups, by an opaque op, or as a graph output becomes a `view`
  group; any other unabsorbed movement op becomes its own `elementwise` group (a copy or
  gather kernel).

Legality (checked for every merge and again by `FusionPlan.check`)
- Each in-group value gets a *dim map*: which domain dim each of its dims walks. Pointwise
  ops broadcast their operands' maps; reductions must reduce exactly R of a value that
  walks all of D; maps must be consistent (a row value is never read by column index).
- Fusing never creates a cycle between groups: a merge is refused when a path leaves the
  merged set and comes back to it.
- A group's outputs are exactly its values read outside it (or graph outputs); its inputs
  are the values it reads from outside (for absorbed views: the viewed base).

Node ids are positions in `graph.nodes`.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from ...ir.graph import Graph, Value, _node_line
from ...ir.ops import PRIMITIVES
from ...runtime.registry import KERNELS

__all__ = ["plan_fusion", "FusionPlan", "FusionGroup", "FusionError", "run_plan", "VIEW_OPS",
           "LOAD_OPS", "role"]

VIEW_OPS = frozenset({"reshape", "permute", "expand", "slice", "diagonal", "as_strided",
                      "unfold"})
# index-remapping loads a kernel can absorb at its input edge
LOAD_OPS = VIEW_OPS | {"flip", "pad", "cat", "copy", "gather", "index_select", "index"}
# views that may also relabel a value computed inside a group
_INTERNAL_VIEWS = frozenset({"reshape", "permute", "expand"})
_POINTWISE_KINDS = frozenset({"elementwise", "cast", "creation"})
_ANCHORS = frozenset({"matmul", "conv"})


class FusionError(RuntimeError):
    """A fusion plan that breaks a legality rule (a bug in the planner or in an edit)."""


def _dynamic(n):
    return any(None in tuple(v.shape) for v in list(n.outputs) + n.value_inputs())


def role(n) -> str:
    """'load' | 'pointwise' | 'reduce' | 'matmul' | 'opaque' for fusion purposes."""
    if len(n.outputs) != 1 or _dynamic(n):
        return "opaque"
    if n.op in LOAD_OPS:
        return "load"
    kind = PRIMITIVES[n.op].kind
    if kind in _POINTWISE_KINDS:
        return "pointwise"
    if kind == "reduce":
        return "reduce"
    if n.op in _ANCHORS:
        return "matmul"
    return "opaque"


# ---------------------------------------------------------------- dim maps

def _nontrivial(shape):
    return [d != 1 for d in shape]


def _shape_candidates(out, D, R):
    """Maps a value of shape `out` can take when no in-group operand fixes them: aligned
    to the right of D (full and keepdim values) or onto D's non-reduced dims in order
    (rows of a reduction without keepdim)."""
    cands = []
    off = len(D) - len(out)
    if off >= 0 and all(o == 1 or o == D[j + off] for j, o in enumerate(out)):
        cands.append(tuple(None if o == 1 else j + off for j, o in enumerate(out)))
    if R:
        kept = [j for j in range(len(D)) if j not in R]
        if len(kept) == len(out) and all(o == 1 or o == D[k] for o, k in zip(out, kept)):
            cands.append(tuple(None if o == 1 else k for o, k in zip(out, kept)))
    return cands


def _broadcast_map(out, operands, D, R):
    """The dim map of a pointwise result of shape `out` whose in-group operands are
    (shape, map) pairs; None when they disagree or the result fits no map."""
    prop = [None] * len(out)
    for shape, m in operands:
        off = len(out) - len(shape)
        if off < 0:
            return None
        for k, dom in enumerate(m):
            if dom is None:
                continue
            j = k + off
            if out[j] == 1 or (prop[j] is not None and prop[j] != dom):
                return None
            prop[j] = dom
    if all(p is not None or o == 1 for p, o in zip(prop, out)):
        return tuple(prop)
    for cand in _shape_candidates(out, D, R):
        if all(p is None or p == c for p, c in zip(prop, cand)):
            return cand
    return None


def _view_map(n, m_in, D, R):
    x = n.inputs[0]
    out = n.outputs[0].shape
    if n.op == "permute":
        return tuple(m_in[d] for d in n.attrs["dims"])
    if n.op == "expand":
        return _broadcast_map(out, [(x.shape, m_in)], D, R)
    # reshape: only adding or removing size-1 dims keeps the map
    src = [(d, m) for d, m in zip(x.shape, m_in) if d != 1]
    if [d for d, _ in src] != [d for d in out if d != 1]:
        return None
    it = iter(m for _, m in src)
    return tuple(None if d == 1 else next(it) for d in out)


def _valid_map(m, shape, D):
    doms = [d for d in m if d is not None]
    return (len(doms) == len(set(doms))
            and all(dom is None or shape[k] == D[dom] for k, dom in enumerate(m)))


@dataclass
class _Analysis:
    kind: str
    shape: tuple
    reduce_dims: tuple
    dim_maps: dict = field(default_factory=dict)


def analyze(members):
    """Check that `members` (nodes in graph order) form one legal group; returns its
    kind, domain and reduced dims, or None if they cannot be one kernel."""
    roles = [role(n) for n in members]
    compute = [(n, r) for n, r in zip(members, roles) if r != "load"]
    if any(r == "opaque" for _, r in compute):
        return _Analysis("opaque", tuple(members[0].outputs[0].shape), ()) \
            if len(members) == 1 else None
    if not compute:
        if len(members) != 1:
            return None
        n = members[0]
        return _Analysis("view" if n.op in VIEW_OPS else "elementwise",
                         tuple(n.outputs[0].shape), ())
    anchors = [n for n, r in compute if r == "matmul"]
    reduces = [n for n, r in compute if r == "reduce"]
    if len(anchors) > 1 or (anchors and reduces):
        return None
    if anchors:
        kind, D, R = "matmul_epilogue", tuple(anchors[0].outputs[0].shape), frozenset()
    elif reduces:
        x = reduces[0].inputs[0]
        dims = reduces[0].attrs.get("dims")
        kind, D = "reduction", tuple(x.shape)
        R = frozenset(range(len(D)) if dims is None else dims)
    else:
        best = max((n for n, _ in compute), key=lambda n: sum(_nontrivial(n.outputs[0].shape)))
        kind, D, R = "elementwise", tuple(best.outputs[0].shape), frozenset()
    full = frozenset(j for j, d in enumerate(D) if d != 1)
    R_nt = frozenset(j for j in R if D[j] != 1)
    maps = {}
    for n, r in zip(members, roles):
        vins = n.value_inputs()
        inner = [v for v in vins if v in maps]
        out = n.outputs[0]
        if r == "load":
            if not inner:
                continue          # reads from outside: a (strided/gathered) load
            if n.op == "gather" and n.inputs[0] not in maps:
                m = maps[n.inputs[1]]     # a gathered load at in-group indices
            elif n.op in _INTERNAL_VIEWS:
                m = _view_map(n, maps[vins[0]], D, R)
            else:
                return None
        elif r == "matmul":
            if inner or tuple(out.shape) != D:
                return None
            m = tuple(None if d == 1 else j for j, d in enumerate(D))
        elif r == "reduce":
            x = n.inputs[0]
            m_in = maps.get(x)
            if m_in is None:
                if tuple(x.shape) != D:
                    return None
                m_in = tuple(None if d == 1 else j for j, d in enumerate(D))
            if frozenset(d for d in m_in if d is not None) != full:
                return None
            dims = n.attrs.get("dims")
            dims = range(len(x.shape)) if dims is None else dims
            if frozenset(m_in[d] for d in dims if m_in[d] is not None) != R_nt:
                return None
            if n.attrs.get("keepdim"):
                m = tuple(None if k in dims else dom for k, dom in enumerate(m_in))
            else:
                m = tuple(dom for k, dom in enumerate(m_in) if k not in dims)
        else:  # pointwise
            m = _broadcast_map(tuple(out.shape), [(tuple(v.shape), maps[v]) for v in inner],
                               D, R)
        if m is None or not _valid_map(m, tuple(out.shape), D):
            return None
        maps[out] = m
    return _Analysis(kind, D, tuple(sorted(R)), maps)


# ---------------------------------------------------------------- the plan

@dataclass
class FusionGroup:
    id: int
    kind: str                  # elementwise | reduction | matmul_epilogue | opaque | view
    nodes: list                # node ids (positions in graph.nodes), in graph order
    inputs: list = field(default_factory=list)    # Values read from outside the group
    outputs: list = field(default_factory=list)   # Values used outside (or graph outputs)
    shape: tuple = ()          # the iteration domain
    reduce_dims: tuple = ()    # reduction groups: the domain dims reduced
    # for each value computed in the group (not the loads at its edge): the domain dim each
    # of its dims walks, None for size-1 dims; e.g. a softmax row sum of shape (4, 1) over
    # the domain (4, 8) walks (0, None)
    dim_maps: dict = field(default_factory=dict, repr=False)

    @property
    def is_kernel(self) -> bool:
        return self.kind != "view"


class FusionPlan:
    """Groups of `graph`'s nodes, in an order a backend can run them."""

    def __init__(self, graph: Graph, groups: list):
        self.graph = graph
        self.groups = groups

    @property
    def num_kernels(self) -> int:
        return sum(g.is_kernel for g in self.groups)

    def members(self, group):
        return [self.graph.nodes[i] for i in group.nodes]

    def group_of(self):
        """node id -> group id."""
        return {i: g.id for g in self.groups for i in g.nodes}

    def __str__(self):
        g = self.graph
        kinds = {}
        for grp in self.groups:
            kinds[grp.kind] = kinds.get(grp.kind, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in kinds.items())
        lines = [f"FusionPlan '{g.name}': {len(g.nodes)} nodes -> {self.num_kernels} "
                 f"kernel(s) ({summary})"]
        for grp in self.groups:
            dom = ",".join(map(str, grp.shape))
            red = f" reduce {grp.reduce_dims}" if grp.reduce_dims else ""
            ins = ", ".join(map(repr, grp.inputs))
            outs = ", ".join(map(repr, grp.outputs))
            lines.append(f"  group {grp.id} {grp.kind} [{dom}]{red}: ({ins}) -> ({outs})")
            for i in grp.nodes:
                lines.append(f"    {_node_line(g.nodes[i])}")
        return "\n".join(lines)

    __repr__ = __str__

    # -------------------------------------------------------------- legality
    def check(self):
        """Raise FusionError unless: every node is in exactly one group; each group is a
        legal kernel of its kind; groups are listed in an order where every group runs
        after the groups it reads (so the group graph has no cycle); each group's inputs
        and outputs are exactly the values crossing its boundary."""
        g = self.graph
        owner = {}
        for grp in self.groups:
            for i in grp.nodes:
                if i in owner:
                    raise FusionError(f"node {i} ({g.nodes[i].op}) is in groups {owner[i]} "
                                      f"and {grp.id}")
                owner[i] = grp.id
        if len(owner) != len(g.nodes):
            missing = sorted(set(range(len(g.nodes))) - set(owner))
            raise FusionError(f"nodes {missing[:10]} are in no group")
        producer = {o: owner[i] for i, n in enumerate(g.nodes) for o in n.outputs}
        position = {grp.id: k for k, grp in enumerate(self.groups)}
        graph_outputs = set(g.outputs)
        readers = {}
        for i, n in enumerate(g.nodes):
            for v in n.value_inputs():
                readers.setdefault(v, set()).add(owner[i])
        for grp in self.groups:
            members = self.members(grp)
            if sorted(grp.nodes) != list(grp.nodes):
                raise FusionError(f"group {grp.id}: nodes are not in graph order")
            a = analyze(members)
            if a is None or a.kind != grp.kind:
                raise FusionError(f"group {grp.id} ({grp.kind}) is not a legal kernel: "
                                  + "; ".join(_node_line(n) for n in members[:6]))
            defined = {o for n in members for o in n.outputs}
            reads = []
            for n in members:
                for v in n.value_inputs():
                    if v not in defined and v not in reads:
                        reads.append(v)
            for v in reads:
                if v in producer and position[producer[v]] >= position[grp.id]:
                    raise FusionError(f"group {grp.id} reads {v} from group {producer[v]}, "
                                      f"which does not run before it (a cycle)")
            if set(reads) != set(grp.inputs):
                raise FusionError(f"group {grp.id}: inputs {grp.inputs} should be {reads}")
            outs = [o for n in members for o in n.outputs
                    if o in graph_outputs or readers.get(o, set()) - {grp.id}]
            if set(outs) != set(grp.outputs):
                raise FusionError(f"group {grp.id}: outputs {grp.outputs} should be {outs}")
        return self


# ---------------------------------------------------------------- planning

class _Planner:
    def __init__(self, graph):
        self.g = graph
        self.nodes = graph.nodes
        self.pos = {id(n): i for i, n in enumerate(self.nodes)}
        self.users = [[] for _ in self.nodes]       # node id -> user node ids
        self.producer = {}
        for i, n in enumerate(self.nodes):
            for o in n.outputs:
                self.producer[o] = i
        for i, n in enumerate(self.nodes):
            for v in n.value_inputs():
                p = self.producer.get(v)
                if p is not None and i not in self.users[p]:
                    self.users[p].append(i)
        self.outputs = set(graph.outputs)
        self.roles = [role(n) for n in self.nodes]
        self.group = {}          # node id -> group key
        self.members = {}        # group key -> sorted node ids
        self.kind = {}           # group key -> analysis kind
        self._next = 0

    # -------------------------------------------------------------- groups
    def new_group(self, ids, kind):
        k = self._next
        self._next += 1
        self.members[k] = sorted(ids)
        self.kind[k] = kind
        for i in ids:
            self.group[i] = k
        return k

    def try_merge(self, keys, extra, check_cycles=True):
        """Merge groups `keys` and the unassigned nodes `extra` into one group if legal."""
        ids = sorted(set(extra).union(*(self.members[k] for k in keys)))
        a = analyze([self.nodes[i] for i in ids])
        if a is None or a.kind in ("opaque", "view"):
            return False
        if check_cycles and self.makes_cycle(set(ids)):
            return False
        for k in keys:
            del self.members[k], self.kind[k]
        self.new_group(ids, a.kind)
        return True

    def _key(self, i):
        """The group of node i; an unassigned node is a group of its own (key -1 - i)."""
        return self.group.get(i, -1 - i)

    def _group_nodes(self, k):
        return self.members[k] if k >= 0 else (-1 - k,)

    def makes_cycle(self, ids):
        """Whether merging the node set `ids` (whole groups plus unassigned nodes) would
        close a cycle between groups: some path through other groups leaves it and comes
        back. Phase 1 merges the node being placed, the largest id assigned so far, so
        paths through later nodes cannot come back and are not followed."""
        last = max(ids)
        stack = [self._key(u) for i in ids for u in self.users[i] if u not in ids and u <= last]
        seen = set()
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            for j in self._group_nodes(k):
                for u in self.users[j]:
                    if u in ids:
                        return True
                    if u <= last:
                        stack.append(self._key(u))
        return False

    # -------------------------------------------------------------- phase 1: compute nodes
    def _producers(self, i):
        return [p for p in map(self.producer.get, self.nodes[i].value_inputs()) if p is not None]

    def load_cone(self, i):
        """Unassigned loads that feed node i and nothing else (directly or through each
        other): they belong wherever i goes, so the cycle check must see them inside."""
        reach, stack = set(), self._producers(i)
        while stack:
            p = stack.pop()
            if p in reach or p in self.group or self.roles[p] != "load":
                continue
            reach.add(p)
            stack.extend(self._producers(p))
        cone = set()
        for p in sorted(reach, reverse=True):      # users (later ids) are decided first
            if (all(u == i or u in cone for u in self.users[p])
                    and not set(self.nodes[p].outputs) & self.outputs):
                cone.add(p)
        return cone

    def candidates(self, i, cone):
        """group key -> the in-group-able views on the way, for each group node i (with
        the loads of its cone) could join."""
        out = {}
        for start in [i, *cone]:
            for p in self._producers(start):
                chain = []
                while (p is not None and p not in self.group and p not in cone
                       and self.roles[p] == "load" and self.nodes[p].op in _INTERNAL_VIEWS):
                    chain.append(p)
                    p = self.producer.get(self.nodes[p].inputs[0])
                if p is None or p not in self.group:
                    continue
                k = self.group[p]
                if self.kind[k] not in ("opaque", "view"):
                    out.setdefault(k, set()).update(chain)
        return out

    def place_compute(self, i):
        r = self.roles[i]
        if r in ("matmul", "opaque"):
            cone, cands = set(), {}
        else:
            cone = self.load_cone(i)
            cands = self.candidates(i, cone)
        attempts = []
        if len(cands) > 1:
            attempts.append((list(cands), {i} | cone | set().union(*cands.values())))
        attempts += [([k], {i} | cone | chain) for k, chain in cands.items()]
        attempts += [([k], {i} | chain) for k, chain in cands.items() if cone]
        for keys, extra in attempts:
            if self.try_merge(keys, extra):
                return
        a = analyze([self.nodes[i]])
        self.new_group([i], a.kind if a is not None else "opaque")

    # -------------------------------------------------------------- phase 2: loads
    def place_load(self, i):
        user_groups = {self.group[u] for u in self.users[i]}
        if (len(user_groups) == 1 and not (set(self.nodes[i].outputs) & self.outputs)):
            (k,) = user_groups
            # no cycle check: every path from the load's operands into k already ran
            # through the load, so it cannot close a cycle
            if self.kind[k] not in ("opaque", "view") and self.try_merge([k], {i}, False):
                return
        a = analyze([self.nodes[i]])
        self.new_group([i], a.kind)

    def plan(self):
        for i, r in enumerate(self.roles):
            if r != "load":
                self.place_compute(i)
        for i in reversed(range(len(self.nodes))):
            if self.roles[i] == "load" and i not in self.group:
                self.place_load(i)
        return self.finish()

    # -------------------------------------------------------------- the result
    def finish(self):
        keys = list(self.members)
        # groups in dependency order (Kahn), the group with the earliest node first
        succ = {k: set() for k in keys}
        for k in keys:
            for i in self.members[k]:
                succ[k].update(self.group[u] for u in self.users[i])
            succ[k].discard(k)
        indeg = {k: 0 for k in keys}
        for k in keys:
            for ku in succ[k]:
                indeg[ku] += 1
        ready = [(self.members[k][0], k) for k in keys if not indeg[k]]
        heapq.heapify(ready)
        order = []
        while ready:
            _, k = heapq.heappop(ready)
            order.append(k)
            for ku in succ[k]:
                indeg[ku] -= 1
                if not indeg[ku]:
                    heapq.heappush(ready, (self.members[ku][0], ku))
        if len(order) != len(keys):
            raise FusionError("fusion produced a cycle between groups (planner bug)")
        groups = []
        for gid, k in enumerate(order):
            ids = self.members[k]
            members = [self.nodes[i] for i in ids]
            a = analyze(members)
            groups.append(FusionGroup(gid, a.kind, ids, shape=a.shape, reduce_dims=a.reduce_dims,
                                      dim_maps=a.dim_maps))
        plan = FusionPlan(self.g, groups)
        _fill_boundaries(plan)
        return plan


def _fill_boundaries(plan):
    g = plan.graph
    owner = plan.group_of()
    readers = {}
    for i, n in enumerate(g.nodes):
        for v in n.value_inputs():
            readers.setdefault(v, set()).add(owner[i])
    outs = set(g.outputs)
    for grp in plan.groups:
        members = plan.members(grp)
        defined = {o for n in members for o in n.outputs}
        grp.inputs = []
        for n in members:
            for v in n.value_inputs():
                if v not in defined and v not in grp.inputs:
                    grp.inputs.append(v)
        grp.outputs = [o for n in members for o in n.outputs
                       if o in outs or readers.get(o, set()) - {grp.id}]


def plan_fusion(graph: Graph) -> FusionPlan:
    """Group `graph`'s nodes into kernels (see the module docstring); the plan is checked
    before it is returned."""
    return _Planner(graph).plan().check()


# ---------------------------------------------------------------- reference execution

def run_plan(plan: FusionPlan, arrays, device="cpu"):
    """Run the graph group by group, each group seeing only its declared inputs and
    handing on only its declared outputs: what a backend's kernels do, with the reference
    kernels. Equal to `run_graph` exactly when the plan's boundaries are right."""
    from ...runtime.interpreter import bind_inputs
    g = plan.graph
    bind_inputs(g, arrays)
    kernels = KERNELS[device]
    env = dict(zip(g.inputs, arrays))
    env.update(g.constants)
    for grp in plan.groups:
        local = {v: env[v] for v in grp.inputs}
        for n in plan.members(grp):
            args = [local[v] if isinstance(v, Value) else v for v in n.inputs]
            out = kernels[n.op](*args, **n.attrs)
            for v, o in zip(n.outputs, out if type(out) is tuple else (out,)):
                local[v] = o
        for v in grp.outputs:
            env[v] = local[v]
    return [env[v] for v in g.outputs]

