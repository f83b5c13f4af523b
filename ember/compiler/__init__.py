"""The compiler: graph passes and codegen (LLVM for CPU, Triton for CUDA).

- `autodiff`: joint forward/backward graphs from the eager VJP rules (`grad_graph`) and
  their min-cut partition into a forward that saves and a backward that reads
  (`partition`, `saved_bytes`).
"""
from .autodiff import grad_graph, partition, saved_bytes  # noqa: F401
