"""Generators by name (``--generator``: the registry's generators, :data:`tabcompress.registry.GENERATORS`),
mixtures of them (``munge+ctgan``) and ``auto``'s pick."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tabcompress.registry import GENERATORS, NO_GENERATOR, generator_names, generator_parts

if TYPE_CHECKING:
    from tabcompress.config import Settings
    from tabcompress.generators.base import Generator
    from tabcompress.schema import Schema
    from tabcompress.teachers.base import Teacher

def make_generator(name: str, **params: Any) -> "Generator | None":
    """The generator ``name`` built with ``params``; None for ``none``. A mixture (``a+b``) takes no
    parameters: its parts get their defaults and equal shares."""
    from tabcompress.generators.mixture import MixtureGenerator

    parts = generator_parts(name)
    if parts == [NO_GENERATOR]:
        return None
    if len(parts) == 1:
        return GENERATORS.get(parts[0])(**params)
    if params:
        raise TypeError("a mixture of generators takes no parameters; build its parts and MixtureGenerator")
    return MixtureGenerator([GENERATORS.get(p)() for p in parts])


def build_generator(name: str, settings: "Settings", *, device: str = "cpu", teacher: Any = None,
                    time_limit: float | None = None) -> "Generator | None":
    """The generator ``name`` with a run's settings. ``time_limit`` is shared among the parts that take
    one; each gets at least a tenth of a second (one epoch runs anyway)."""
    from tabcompress.generators.mixture import MixtureGenerator

    parts = generator_parts(name)
    if parts == [NO_GENERATOR]:
        return None
    classes = [GENERATORS.get(p) for p in parts]
    if time_limit is not None:
        time_limit = max(0.1, time_limit / (sum(cls.takes_time_limit for cls in classes) or 1))
    built = [cls.from_settings(settings, device=device, teacher=teacher, time_limit=time_limit) for cls in classes]
    return built[0] if len(built) == 1 else MixtureGenerator(built)


def trains(name: str) -> bool:
    """Whether a part of generator ``name`` trains a torch model (so the run needs a torch device)."""
    return any(p != NO_GENERATOR and GENERATORS.get(p).trains for p in generator_parts(name))


def auto_generator(student: str, schema: "Schema | None" = None, teacher: "Teacher | None" = None) -> str:
    """``--generator auto``'s pick for a student on data with ``schema``, distilling ``teacher``.

    * A tree, boosted trees, a linear model and ``--student auto``'s search of them: MUNGE, whose rows
      keep the real rows' distribution that a tree's few splits must follow (CTGAN's do not).
    * A tree, when the teacher's own trees count the training rows at each node (forests, LightGBM,
      CatBoost; :func:`~tabcompress.generators.forest.follows_training_rows`): half MUNGE and half rows
      drawn from those trees, which follow the teacher's training data, which may be far larger than
      the rows at hand. (Boosted trees gained nothing from them at 3,000 rows, and at full size the
      search then more often chose the real rows alone.)
    * An MLP: CTGAN when at least a third of the columns are categorical (MUNGE's nearest neighbours are
      poor when most of the distance is category mismatches); half MUNGE and half CTGAN rows when some
      are (CTGAN covers category combinations MUNGE's rows miss); MUNGE when none are.

    The measurements behind the rule are in docs/measurements.md ("Generators and auto's rule", "Rows
    from the teacher's trees in `auto`").
    """
    if student == "mlp":
        if schema is not None and schema.categorical:
            return "ctgan" if len(schema.categorical) >= len(schema.columns) / 3 else "munge+ctgan"
        return "munge"
    if student == "tree" and teacher is not None:
        from tabcompress.generators.forest import follows_training_rows

        if follows_training_rows(teacher):
            return "munge+forest"
    return "munge"


def resolve_generator(settings: "Settings", schema: "Schema | None" = None, teacher: "Teacher | None" = None) -> str:
    """The generator a run uses: the one set, or ``auto``'s pick (for ``teacher``, when it is known)."""
    if settings.generator.name != "auto":
        return settings.generator.name
    return auto_generator(settings.student_name, schema, teacher)


__all__ = ["GENERATORS", "NO_GENERATOR", "auto_generator", "build_generator", "generator_names", "generator_parts",
           "make_generator", "resolve_generator", "trains"]
