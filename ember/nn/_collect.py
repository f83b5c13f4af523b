"""Builds a package namespace from its submodules' `__all__`, so adding a file of layers or
functions needs no edit to a shared index (ember.nn.modules, ember.nn.functional)."""
from __future__ import annotations

import importlib
import pkgutil


def collect(package_name, package_path, namespace):
    names = []
    for info in sorted(pkgutil.iter_modules(package_path), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{package_name}.{info.name}")
        for n in getattr(mod, "__all__", ()):
            namespace[n] = getattr(mod, n)
            names.append(n)
    return names
