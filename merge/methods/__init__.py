"""The registry of merge methods: every module here defining a `MergeMethod` subclass with a `name` adds one.

Adding a method is one file in this folder (its class: name, defaults, validation, preparation, trim and
combine) plus its test; nothing else changes. Shared arithmetic lives in `kernels`, the two trims in
`random_trim` and `magnitude_trim`.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import ChunkContext, MergeMethod


def _discover() -> dict[str, MergeMethod]:
    found: dict[str, MergeMethod] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, MergeMethod) and obj.__module__ == module.__name__
                    and "name" in vars(obj)):
                if obj.name in found:
                    raise RuntimeError(f"merge method {obj.name!r} defined twice ({module.__name__})")
                found[obj.name] = obj()
    return found


METHODS: dict[str, MergeMethod] = _discover()

__all__ = ["METHODS", "ChunkContext", "MergeMethod"]
