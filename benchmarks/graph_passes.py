"""Graph passes on a traced Transformer encoder layer: what fusion and memory planning do to
the forward and the forward+backward graph, and what the min-cut partition saves.

Prints, per graph: nodes, kernel groups before and after fusion, the unplanned buffer bytes
(unfused and fused) and the planned peak; then the bytes the forward hands to the backward
when it saves every value the backward reads vs the min-cut choice (recomputing cheap
elementwise values instead).

    python benchmarks/graph_passes.py [--d-model 64 --heads 4 --ff 256 --batch 8 --seq 32]
"""
import argparse

import ember
import ember.nn as nn
from ember.compiler.autodiff import grad_graph, saved_bytes
from ember.compiler.passes import fusion_report, optimize
from ember.ir import dtypes as D


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=32)
    a = p.parse_args()
    ember.manual_seed(0)
    layer = nn.TransformerEncoderLayer(a.d_model, a.heads, dim_feedforward=a.ff, dropout=0.0,
                                       batch_first=True)
    x = ember.randn(a.batch, a.seq, a.d_model)
    fwd = ember.jit.trace(layer, (x,)).graph
    wrt = [i for i, v in enumerate(fwd.inputs) if v.dtype.category == D.FLOAT]
    joint = grad_graph(fwd, wrt, example=[x._data] + [t._data for t in layer.parameters()])
    print(f"TransformerEncoderLayer(d_model={a.d_model}, nhead={a.heads}, "
          f"dim_feedforward={a.ff}), input {a.batch}x{a.seq}x{a.d_model}, float32")
    for name, graph in (("forward", fwd), ("forward+backward", joint)):
        print(f"  {name:17s} {fusion_report(optimize(graph))}")
    s = saved_bytes(joint)
    print(f"  saved for backward: every value {s['save_all']:,} bytes ({s['save_all_values']} "
          f"values) -> min cut {s['min_cut']:,} bytes ({s['min_cut_values']} values)")


if __name__ == "__main__":
    main()
