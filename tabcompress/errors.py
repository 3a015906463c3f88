"""Exceptions that carry the CLI's exit codes.

Library code raises these; the CLI turns them into one line on stderr and the matching exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable


class TabcompressError(Exception):
    """Base class for errors tabcompress reports to the user.

    The message is kept to one line: control characters that reach it from the user's data (a column
    name with a line break, say) are written as escapes.
    """

    exit_code = 1

    def __init__(self, message: str = "", *args: Any):
        super().__init__(one_line(str(message)), *args)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message, at most ``limit`` characters ("" when it has none):
    what a one-line error quotes of another library's error."""
    lines = str(exc).strip().splitlines()
    return lines[0][:limit] if lines else ""


def one_line(text: str) -> str:
    """``text`` with line breaks, tabs and other control characters written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


class InputError(TabcompressError, ValueError):
    """Bad input or usage: a file, column or option the user can fix. Exit code 2."""

    exit_code = 2


class SettingError(InputError):
    """A setting (or a component's parameter) with a value it cannot take. Exit code 2.

    ``setting`` is its option name (``max_depth``) and ``problem`` the rest of the sentence (``must be a
    whole number from 1 to 2147483647, got 0``). The message joins them; the command line puts the flag
    (``--max-depth``) where a setting has one. Other settings the problem names are written
    ``{eval_data}`` in it and listed in ``mentions``, so that they too become flags there.
    """

    def __init__(self, setting: str, problem: str, *, mentions: tuple[str, ...] = ()):
        self.setting, self.problem, self.mentions = setting, problem, mentions
        super().__init__(self.render(lambda name: name))

    def render(self, name_of: Callable[[str], str]) -> str:
        """The message with each setting written as ``name_of(setting)``."""
        problem = self.problem
        for name in self.mentions:
            problem = problem.replace("{" + name + "}", name_of(name))
        return f"{name_of(self.setting)} {problem}"


class FidelityGateError(TabcompressError):
    """The student's fidelity is below ``--min-fidelity``. Exit code 3.

    Raised after the outputs are written; ``result`` holds the finished run.
    """

    exit_code = 3

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


def require_file(path: Path, where: str, expected: str) -> None:
    """Raise :class:`InputError` unless ``path`` is a non-empty regular file.

    ``where`` names it in the message ("data file x.csv"); ``expected`` says what it should be.
    """
    if not path.exists():
        raise InputError(f"{where}: no such file")
    if path.is_dir():
        raise InputError(f"{where}: is a directory, expected {expected}")
    if path.stat().st_size == 0:
        raise InputError(f"{where}: is empty")
