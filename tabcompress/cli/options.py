"""Option definitions the commands share, and the one place a setting becomes a flag.

A setting's flag, help text, default and help panel all come from :mod:`tabcompress.config`, so the
command line and the library cannot drift apart (tests/test_cli_options.py checks it). Choices that a
registry knows are listed in ``--help``.
"""

from __future__ import annotations

from typing import Any, Literal

import typer

from tabcompress.config import option_field

#: what ``--generator`` takes, shown in help (a mix joins names with +)
GENERATOR_METAVAR = "<name>"


def flag_of(option: str) -> str:
    """The command line's flag for a setting: ``max_depth`` → ``--max-depth``."""
    return "--" + option.replace("_", "-")


_CONFIG_PANEL = object()  # setting()'s default: the panel tabcompress.config gives the setting


def setting(option: str, *flags: str, panel: Any = _CONFIG_PANEL, **extra: Any) -> Any:
    """The ``typer.Option`` of setting ``option``: its flag (or ``flags``), help text, how help shows its
    default and, for ``distill``, its help panel (other commands pass ``panel=None``)."""
    metadata = option_field(option).metadata
    shown = metadata["shown"]
    extra.setdefault("show_default", shown if shown is not None else True)
    return typer.Option(*(flags or (flag_of(option),)), help=metadata["help"],
                        rich_help_panel=metadata["panel"] if panel is _CONFIG_PANEL else panel, **extra)


def choices(option: str) -> Any:
    """A ``Literal`` of a setting's choices, so that help lists them and typer refuses others."""
    return Literal[tuple(option_field(option).metadata["constraint"].values())]  # type: ignore[misc]


# -- options several commands take -----------------------------------------------------------------
def teacher_argument() -> Any:
    return typer.Argument(help="Fitted teacher: .pkl/.pickle/.joblib, .skops, or XGBoost .json/.ubj.",
                          show_default=False)


def json_option(panel: str | None = None) -> Any:
    return typer.Option("--json", help="Print the report to stdout as one JSON document.", rich_help_panel=panel)


def quiet_option(panel: str | None = None) -> Any:
    return typer.Option("--quiet", "-q", help="No progress or summary on stderr.", rich_help_panel=panel)


def verbose_option(panel: str | None = None) -> Any:
    return typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.", rich_help_panel=panel)


def safe_option(panel: Any = _CONFIG_PANEL) -> Any:
    return setting("safe", "--safe", panel=panel, envvar="TABCOMPRESS_SAFE")
