"""Option definitions the commands share, and the one place a setting becomes a flag.

A setting's flag, type, help text, default and help panel all come from :mod:`tabcompress.config`:
:func:`with_settings` gives a command one option per setting, so the command line and the library
cannot drift apart (tests/test_settings.py checks it). Choices that a registry knows are listed in
``--help``.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, Literal, Optional, Sequence

import typer

from tabcompress.config import OPTIONS, PANELS, Flag, Names, Number, OneOf, Whole, Widths, default, option_field

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


#: what a setting's option needs beyond what tabcompress.config says of it
_EXTRA: dict[str, dict[str, Any]] = {
    "generator": {"metavar": GENERATOR_METAVAR},
    "student": {"metavar": "<family>"},
    "max_size": {"metavar": "<size>"},  # the families are listed in the help text, which wraps where a metavar cannot
    "safe": {"envvar": "TABCOMPRESS_SAFE"},
    "cache_dir": {"envvar": "TABCOMPRESS_CACHE_DIR"},
    "dask": {"envvar": "TABCOMPRESS_DASK", "metavar": "ADDRESS"},
}


def setting_parameter(option: str) -> inspect.Parameter:
    """Setting ``option`` as a keyword parameter of a command: its type on the command line (names and
    layer widths are comma-separated text), a pair of flags for a switch, and the library's default."""
    constraint = option_field(option).metadata["constraint"]
    value = default(option)
    flags: tuple[str, ...] = ()
    if isinstance(constraint, Flag):
        kind: Any = bool
        flags = (f"{flag_of(option)}/--no-{flag_of(option)[2:]}",)
    elif isinstance(constraint, Whole):
        kind = int
    elif isinstance(constraint, Number):
        kind = float
    elif isinstance(constraint, OneOf):
        kind = choices(option)
    else:
        kind = str
    if isinstance(constraint, (Names, Widths)):
        value = ",".join(map(str, value)) or None
    if value is None or getattr(constraint, "none", False):
        kind = Optional[kind]
    extra = dict(_EXTRA.get(option, {}))
    if value is None and option_field(option).metadata["shown"] is None:
        extra["show_default"] = False
    return inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=value,
                             annotation=Annotated[kind, setting(option, *flags, **extra)])


def with_settings(first: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a command taking ``**settings`` one option per setting. Help shows the options named in
    ``first`` first (the command's own keyword parameters may be among them), then the other settings
    panel by panel, in :mod:`tabcompress.config`'s order."""
    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(command, eval_str=True)
        own = [p for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        keywords = {p.name: p for p in own if p.kind is p.KEYWORD_ONLY}
        settings = {option: setting_parameter(option) for option in OPTIONS}
        named = {**keywords, **settings}
        ordered = [named.pop(name) for name in first]
        if set(named) - set(settings):
            raise TypeError(f"place these options with first=: {sorted(set(named) - set(settings))}")
        ordered += sorted(named.values(), key=lambda p: PANELS.index(option_field(p.name).metadata["panel"]))
        command.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[p for p in own if p.kind is not p.KEYWORD_ONLY] + ordered)
        return command
    return decorate


# -- options several commands take -----------------------------------------------------------------
def teacher_argument() -> Any:
    return typer.Argument(help="Fitted teacher: .pkl/.pickle/.joblib, .skops, or a library's own model "
                          "file: XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm/.json, ONNX .onnx.",
                          show_default=False)


def json_option(panel: str | None = None) -> Any:
    return typer.Option("--json", help="Print the report to stdout as one JSON document.", rich_help_panel=panel)


def quiet_option(panel: str | None = None) -> Any:
    return typer.Option("--quiet", "-q", help="No progress or summary on stderr.", rich_help_panel=panel)


def verbose_option(panel: str | None = None) -> Any:
    return typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.", rich_help_panel=panel)


def safe_option(panel: Any = _CONFIG_PANEL) -> Any:
    return setting("safe", "--safe", panel=panel, **_EXTRA["safe"])


# -- options of the commands that take a student ---------------------------------------------------
def student_argument() -> Any:
    return typer.Argument(help="Student file that distill wrote: student.joblib, or student.skops (read without "
                          "running stored code).", show_default=False)


def safe_student_option() -> Any:
    return typer.Option("--safe", envvar="TABCOMPRESS_SAFE", help="Refuse a pickle/joblib student (loading one "
                        "runs its code): read .skops students only.")


def chunk_rows_option() -> Any:
    return typer.Option(help="Rows read and scored at a time: memory stays flat however long the file.")
