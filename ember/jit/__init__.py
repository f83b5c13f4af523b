"""ember.jit: trace a function or module into an IR graph, run it, save and load it.

- `trace(fn_or_module, example_inputs)` runs the code once on the examples, recording every
  primitive into a graph (see `ember.frontend.tracer`), and returns a `TracedFunction` or
  `TracedModule` with `.graph` and `.code`. Calling it runs the graph; calling it on
  tensors that require grad supports `backward()` as the eager code does (graph autodiff,
  `ember.compiler.autodiff`).
- `save(traced, f)` / `load(f)`: the graphs and the weights in one safetensors-based file
  (`ember.save`), runnable without the original Python source; loading runs no code from
  the file.
- `is_tracing()`, and the `TracingError` / `TracerWarning` raised or emitted for
  data-dependent Python control flow.
"""
from ..frontend.tracer import TracerWarning, TracingError, is_tracing
from ._trace import TracedFunction, trace
from ._serialize import load, save

__all__ = ["trace", "save", "load", "is_tracing", "TracingError", "TracerWarning",
           "TracedFunction", "TracedModule"]


def __getattr__(name):
    # TracedModule subclasses nn.Module; nn imports this package, so it is made on demand
    if name == "TracedModule":
        from ._module import TracedModule
        return TracedModule
    raise AttributeError(f"module 'ember.jit' has no attribute '{name}'")
