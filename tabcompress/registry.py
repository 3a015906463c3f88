"""Components by name: each student and each generator is a small class registered under the name the
command line uses (``--student tree``, ``--generator munge``).

A registry maps names to classes and imports a class only when it is first asked for, so listing the
names — for ``--help``, or to check a setting — imports neither scikit-learn nor torch. Everything
else about a component (what it needs, what it costs) is a trait on its class.
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
