"""Backend-independent optimization passes over `ember.ir.graph.Graph`.

Each pass is a plain function `Graph -> Graph` that returns a new graph and leaves its
input untouched (module per pass):

- `dce` (dce.py): dead-code elimination;
- `cse` (cse.py): common-subexpression elimination;
- `fold_constants` (fold.py): evaluate nodes with known operands;
- `simplify` (simplify.py): algebraic identities, view and cast chains;
- `decompose` (decompose.py): ops a backend lacks, in simpler primitives;
- `optimize` (pipeline.py): the four cleanup passes to a fixed point.

Planning for the backends (data, not rewrites):

- `plan_fusion` (fusion.py): groups of nodes that become one kernel each (`FusionPlan`);
- `plan_memory` (memory.py): liveness and buffer offsets in one arena (`MemoryPlan`);
- `fusion_report` (report.py): kernel counts and bytes before and after.
"""
from .cse import cse
from .dce import dce
from .decompose import DECOMPOSITIONS, Decomposition, DecompositionError, decompose
from .fold import fold_constants
from .fusion import FusionError, FusionGroup, FusionPlan, plan_fusion, run_plan
from .memory import MemoryPlan, MemoryPlanError, plan_memory, run_planned
from .pipeline import optimize
from .report import FusionReport, fusion_report
from .simplify import simplify

__all__ = ["dce", "cse", "fold_constants", "simplify", "decompose", "optimize",
           "Decomposition", "DECOMPOSITIONS", "DecompositionError",
           "plan_fusion", "FusionPlan", "FusionGroup", "FusionError", "run_plan",
           "plan_memory", "MemoryPlan", "MemoryPlanError", "run_planned",
           "fusion_report", "FusionReport"]
