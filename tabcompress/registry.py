"""Components by name: each student, generator and family of teachers is a small class registered here
under its name (``--student tree``, ``--generator munge``).

A registry maps names to classes and imports a class only when it is first asked for, so listing the
names — for ``--help``, or to check a setting — imports neither scikit-learn nor torch. Everything
else about a component (what it needs, what it costs) is a trait on its class. A new component is a
class with a ``name`` and one line here; tests/test_contract.py then runs every registered student and
generator through the same checks. :mod:`tabcompress.students.registry` and
:mod:`tabcompress.generators.registry` build them.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tabcompress.errors import SettingError


class Registry:
    """Name → class, for one kind of component.

    ``option`` is the setting that names a component (``student``): an unknown name is a
    :class:`SettingError` about it. ``entries`` maps each name to ``"module:Class"``.
    """

    def __init__(self, option: str, entries: dict[str, str]):
        self.option = option
        self._entries = dict(entries)
        self._loaded: dict[str, type] = {}

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> type[Any]:
        """The class registered as ``name``."""
        if name not in self._entries:
            raise SettingError(self.option, f"must be one of {', '.join(self._entries)}, got {name!r}")
        if name not in self._loaded:
            module, _, attribute = self._entries[name].partition(":")
            cls = getattr(import_module(module), attribute)
            if getattr(cls, "name", None) != name:  # a class answers to the name it is registered under
                raise RuntimeError(f"{cls.__qualname__}.name is {getattr(cls, 'name', None)!r}, registered as {name!r}")
            self._loaded[name] = cls
        return self._loaded[name]

    def classes(self) -> dict[str, type[Any]]:
        """Every registered class, by name (imports them all)."""
        return {name: self.get(name) for name in self._entries}


STUDENTS = Registry("student", {
    "tree": "tabcompress.students.tree:TreeStudent",
    "mlp": "tabcompress.students.mlp:MLPStudent",
    "gbdt": "tabcompress.students.gbdt:GBDTStudent",
    "linear": "tabcompress.students.linear:LinearStudent",
})
GENERATORS = Registry("generator", {
    "ctgan": "tabcompress.generators.ctgan:CTGANGenerator",
    "tvae": "tabcompress.generators.tvae:TVAEGenerator",
    "copula": "tabcompress.generators.copula:CopulaGenerator",
    "munge": "tabcompress.generators.munge:MUNGEGenerator",
    "forest": "tabcompress.generators.forest:TeacherTreesGenerator",
})
#: the model families a teacher may be, in the order :meth:`tabcompress.teachers.Teacher.from_model` tries
TEACHERS = Registry("teacher", {
    "sklearn": "tabcompress.teachers.sklearn:SklearnTeacher",
    "xgboost": "tabcompress.teachers.xgboost:XGBoostTeacher",
    "lightgbm": "tabcompress.teachers.lightgbm:LightGBMTeacher",
    "catboost": "tabcompress.teachers.catboost:CatBoostTeacher",
    "onnx": "tabcompress.teachers.onnx:OnnxTeacher",
    "model": "tabcompress.teachers.model:AnyModelTeacher",
})
#: ``--generator none``: the student learns from the real rows only
NO_GENERATOR = "none"


def generator_names() -> tuple[str, ...]:
    """What ``--generator`` takes, besides ``auto`` and mixtures."""
    return (*GENERATORS.names(), NO_GENERATOR)


def generator_parts(name: str) -> list[str]:
    """The parts of a generator name (``munge+ctgan`` → two parts); a :class:`SettingError` about
    ``generator`` when a part is unknown, repeated, or ``none`` inside a mix."""
    parts = [p.strip() for p in str(name).split("+")]
    for part in parts:
        if part not in GENERATORS and (part != NO_GENERATOR or len(parts) > 1):
            raise SettingError("generator", f"must be one of {', '.join(generator_names())}, or several joined "
                                            f"with + (e.g. munge+ctgan), got {part!r}")
    if len(set(parts)) != len(parts):
        raise SettingError("generator", f"names a generator twice: {name!r}")
    return parts
