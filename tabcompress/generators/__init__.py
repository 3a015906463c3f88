"""Synthetic-row generators, chosen by name with ``--generator``."""

from __future__ import annotations

import inspect

from tabcompress.errors import InputError
from tabcompress.generators.base import Generator, ProgressCallback
from tabcompress.generators.copula import CopulaGenerator
from tabcompress.generators.ctgan import CTGANGenerator
from tabcompress.generators.forest import TeacherTreesGenerator
from tabcompress.generators.mixture import MixtureGenerator
from tabcompress.generators.munge import MUNGEGenerator
from tabcompress.generators.tvae import TVAEGenerator

# "none" means: no generator, the student learns from the real rows only.
GENERATOR_NAMES = ("ctgan", "tvae", "copula", "munge", "forest", "none")
_CLASSES: dict[str, type[Generator]] = {
    "ctgan": CTGANGenerator, "tvae": TVAEGenerator, "copula": CopulaGenerator, "munge": MUNGEGenerator,
    "forest": TeacherTreesGenerator,  # needs teacher=: rows from the teacher's trees
}


def check_generator_name(name: str) -> list[str]:
    """The parts of a generator name (``munge+ctgan`` → two parts); InputError naming --generator when
    a part is unknown, repeated, or ``none`` inside a mix."""
    parts = [p.strip() for p in str(name).split("+")]
    known = [n for n in GENERATOR_NAMES if n != "none"]
    for part in parts:
        if part not in GENERATOR_NAMES or (part == "none" and len(parts) > 1):
            raise InputError(f"--generator: unknown generator {part!r}; choose one of {', '.join(GENERATOR_NAMES)}, "
                             f"or join several with + (e.g. munge+ctgan)")
    if len(set(parts)) != len(parts):
        raise InputError(f"--generator: {name!r} names a generator twice; choose from {', '.join(known)}")
    return parts


def make_generator(name: str, **options) -> Generator | None:
    """The generator called ``name``, built with the options it understands; None for ``none``.

    Options a generator does not take (``epochs`` for MUNGE, say) are left out, so callers can pass
    every generator setting of a run. ``a+b`` builds a :class:`MixtureGenerator` with equal shares.
    """
    parts = check_generator_name(name)
    if parts == ["none"]:
        return None
    built = []
    for part in parts:
        cls = _CLASSES[part]
        accepted = inspect.signature(cls.__init__).parameters
        built.append(cls(**{k: v for k, v in options.items() if k in accepted}))
    return built[0] if len(built) == 1 else MixtureGenerator(built)


__all__ = ["GENERATOR_NAMES", "CTGANGenerator", "CopulaGenerator", "Generator", "MUNGEGenerator",
           "MixtureGenerator", "ProgressCallback", "TVAEGenerator", "TeacherTreesGenerator", "check_generator_name",
           "make_generator"]
