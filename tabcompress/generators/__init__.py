"""Synthetic-row generators, chosen by name with ``--generator`` (:mod:`tabcompress.generators.registry`).
Importing this package imports no generator class."""

from __future__ import annotations

from typing import Any

from tabcompress.generators.registry import (
    build_generator,
    generator_names,
    generator_parts,
    make_generator,
    resolve_generator,
)

_CLASSES = {
    "Generator": "tabcompress.generators.base", "ProgressCallback": "tabcompress.generators.base",
    "CTGANGenerator": "tabcompress.generators.ctgan", "TVAEGenerator": "tabcompress.generators.tvae",
    "CopulaGenerator": "tabcompress.generators.copula", "MUNGEGenerator": "tabcompress.generators.munge",
    "TeacherTreesGenerator": "tabcompress.generators.forest", "ForestSampler": "tabcompress.generators.forest",
    "MixtureGenerator": "tabcompress.generators.mixture",
}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        from importlib import import_module

        return getattr(import_module(_CLASSES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [*_CLASSES, "build_generator", "generator_names", "generator_parts", "make_generator",
           "resolve_generator"]
