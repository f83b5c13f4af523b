"""TracedModule: an nn.Module whose forward runs a traced graph.

A module traced with `ember.jit.trace` shares the original's parameters, buffers and
submodules (the same objects), so optimizers, state_dict() and load_state_dict() see one
set of weights, and weight updates are picked up by the next call. train()/eval() pick
the graph of the current training-mode configuration (tracing it on the stored example
inputs the first time; see ember.jit._trace). A module loaded with `ember.jit.load` has
no original: its parameters live in a tree of plain submodules with the original names.
"""
from __future__ import annotations

import ember.nn as nn

from ._code import python_code

__all__ = ["TracedModule"]


class TracedModule(nn.Module):
    """The result of ember.jit.trace(module, ...) or ember.jit.load(...)."""

    @classmethod
    def _of(cls, module, program):
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_non_persistent_buffers_set", "_modules"):
            d[table] = module.__dict__[table]     # shared, not copied
        d["training"] = module.training
        d["_program"] = program
        d["_orig"] = module
        d["original_name"] = type(module).__name__
        return self

    @classmethod
    def _loaded(cls, program, name, module_paths, training, parameters, buffers,
                non_persistent):
        self = cls.__new__(cls)
        nn.Module.__init__(self)
        d = self.__dict__
        d["_program"] = program
        d["_orig"] = None
        d["original_name"] = name
        mods = {"": self}
        for path in module_paths[1:]:
            parent, _, leaf = path.rpartition(".")
            mods[path] = mods[parent]._modules[leaf] = _Submodule()
        for table, items in (("_parameters", parameters), ("_buffers", buffers)):
            for key, t in items.items():
                owner, _, leaf = key.rpartition(".")
                mods[owner].__dict__[table][leaf] = t
        for key in non_persistent:
            owner, _, leaf = key.rpartition(".")
            mods[owner]._non_persistent_buffers_set.add(leaf)
        for path, flag in zip(module_paths, training):
            mods[path].__dict__["training"] = flag
        program.module = self
        return self

    def _root(self):
        return self._orig if self._orig is not None else self

    def _mode_key(self):
        """Every submodule's training flag: one graph per configuration."""
        return tuple(m.training for m in self._root().modules())

    def train(self, mode=True):
        super().train(mode)
        if self._orig is not None:
            self._orig.training = mode
        return self

    def forward(self, *args, **kwargs):
        return self._program.call(self._mode_key(), args, kwargs)

    @property
    def graph(self):
        return self._program.trace_for(self._mode_key(), restore=True).graph

    @property
    def code(self):
        return python_code(self.graph)

    def _get_name(self):
        return f"TracedModule[{self.original_name}]"


class _Submodule(nn.Module):
    """A submodule of a loaded traced module: holds weights; its code is in the graph."""

    def forward(self, *args, **kwargs):
        raise RuntimeError("this submodule of a loaded traced module has no code of its own; "
                           "call the top-level module")
