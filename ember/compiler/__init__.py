"""The compiler: graph passes and codegen (LLVM for CPU, Triton for CUDA).

Its parts arrive with the graph IR and tracer issue; this package exists now so the
layering of DESIGN.md section 2 is in place from the start.
"""
