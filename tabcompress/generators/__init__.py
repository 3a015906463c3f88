"""Synthetic-row generators, chosen by name with ``--generator``."""

from __future__ import annotations

from tabcompress.errors import InputError
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.generators.ctgan import CTGANGenerator

# "none" means: no generator, the student learns from the real rows only.
GENERATOR_NAMES = ("ctgan", "none")


def make_generator(name: str, **options) -> Generator | None:
    """The generator called ``name``, built with the options it understands; None for ``none``."""
    if name == "none":
        return None
    if name == "ctgan":
        return CTGANGenerator(**options)
    raise InputError(f"--generator: unknown generator {name!r}; choose one of {', '.join(GENERATOR_NAMES)}")


__all__ = ["GENERATOR_NAMES", "CTGANGenerator", "Generator", "ProgressCallback", "make_generator"]
