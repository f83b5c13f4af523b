"""`fusion_report(graph)`: what fusion and memory planning do to one graph, in numbers:
kernels before (one per node that is not a view) and after fusion, and the bytes the
fused schedule allocates with the memory plan vs. one allocation per buffer."""
from __future__ import annotations

from dataclasses import dataclass

from ...ir.graph import Graph
from .fusion import VIEW_OPS, plan_fusion
from .memory import plan_memory

__all__ = ["fusion_report", "FusionReport"]


@dataclass
class FusionReport:
    name: str
    nodes: int
    kernels_before: int          # one kernel per node that is not a view
    kernels_after: int           # fusion groups that are kernels
    unfused_unplanned_bytes: int  # every non-view node result in its own allocation
    unplanned_bytes: int         # every fused-group output in its own allocation
    planned_peak_bytes: int      # arena + output buffers with the memory plan
    live_peak_bytes: int         # the most bytes live at once in the fused schedule

    def __str__(self):
        b = format_bytes
        return (f"{self.name}: {self.nodes} nodes; kernels {self.kernels_before} -> "
                f"{self.kernels_after} after fusion; memory: unplanned "
                f"{b(self.unfused_unplanned_bytes)} unfused, {b(self.unplanned_bytes)} "
                f"fused -> planned peak {b(self.planned_peak_bytes)} (live peak "
                f"{b(self.live_peak_bytes)})")


def format_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


def fusion_report(graph: Graph, bindings=None) -> FusionReport:
    """Fuse and plan `graph` (give example sizes of symbolic dims in `bindings`)."""
    plan = plan_fusion(graph)
    fused = plan_memory(plan, bindings)
    unfused = plan_memory(graph, bindings)
    return FusionReport(
        name=graph.name, nodes=len(graph.nodes),
        kernels_before=sum(n.op not in VIEW_OPS for n in graph.nodes),
        kernels_after=plan.num_kernels,
        unfused_unplanned_bytes=unfused.unplanned_bytes,
        unplanned_bytes=fused.unplanned_bytes,
        planned_peak_bytes=fused.peak_bytes,
        live_peak_bytes=fused.live_peak_bytes)
