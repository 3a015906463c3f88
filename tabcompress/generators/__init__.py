"""Synthetic-row generators, chosen by name with ``--generator``."""

from __future__ import annotations

import inspect

from tabcompress.errors import InputError
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.generators.ctgan import CTGANGenerator
from tabcompress.generators.munge import MUNGEGenerator

# "none" means: no generator, the student learns from the real rows only.
GENERATOR_NAMES = ("ctgan", "munge", "none")
_CLASSES: dict[str, type[Generator]] = {"ctgan": CTGANGenerator, "munge": MUNGEGenerator}


def make_generator(name: str, **options) -> Generator | None:
    """The generator called ``name``, built with the options it understands; None for ``none``.

    Options a generator does not take (``epochs`` for MUNGE, say) are left out, so callers can pass
    every generator setting of a run.
    """
    if name == "none":
        return None
    if name in _CLASSES:
        cls = _CLASSES[name]
        accepted = inspect.signature(cls.__init__).parameters
        return cls(**{k: v for k, v in options.items() if k in accepted})
    raise InputError(f"--generator: unknown generator {name!r}; choose one of {', '.join(GENERATOR_NAMES)}")


__all__ = ["GENERATOR_NAMES", "CTGANGenerator", "Generator", "MUNGEGenerator", "ProgressCallback", "make_generator"]
