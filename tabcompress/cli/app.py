"""The ``tabcompress`` command line: the app, its entry point and the one error handler every command
runs under. The commands live one per module (:mod:`.distill`, :mod:`.score`, :mod:`.condense`,
:mod:`.export`, :mod:`.predict`, :mod:`.evaluate`, :mod:`.inspect`); they parse, call the library and
print, nothing more.

Exit codes: 0 success; 1 unexpected error; 2 bad input or usage; 3 fidelity below ``--min-fidelity``;
130 interrupted (SIGINT); 143 terminated (SIGTERM).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from typing import Annotated, Any, Iterator, Optional

import typer

from tabcompress.errors import SettingError, TabcompressError, first_line

EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

#: when this module was imported: the process's start where the system does not say (see process_started)
_IMPORTED = time.perf_counter()


def process_started() -> float:
    """This process's start on the :func:`time.perf_counter` clock, so that ``--time-budget`` counts the
    interpreter's start and imports as a user timing the command does: from ``/proc/self/stat`` on
    Linux (clock ticks since boot), elsewhere when the command line was imported."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()  # the name, in parentheses, may hold spaces
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError, IndexError):
        return _IMPORTED
    return time.perf_counter() - age if 0 <= age < 3600 else _IMPORTED

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    help="Distil big tabular models (random forests, XGBoost, LightGBM, CatBoost) into small, fast students.",
)


def _show_version(value: bool) -> None:
    if value:
        from tabcompress import __version__

        sys.stdout.write(f"tabcompress {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[Optional[bool], typer.Option(
        "--version", help="Print the version and exit.", callback=_show_version, is_eager=True)] = None) -> None:
    """Distil big tabular models (random forests, XGBoost, LightGBM, CatBoost) into small, fast students."""


def console() -> Any:
    """The console for progress and summaries: stderr, so stdout carries only results."""
    from rich.console import Console

    return Console(stderr=True)


def print_json(report: dict[str, Any]) -> None:
    from tabcompress.report import to_json

    sys.stdout.write(to_json(report))
    sys.stdout.flush()


def _error(message: str) -> None:
    # One line, plain text: CI logs and cron mails read it as is.
    sys.stderr.write(f"tabcompress: error: {message}\n")
    sys.stderr.flush()


def _flags(ctx: typer.Context | None) -> dict[str, str]:
    """The current command's flags by parameter name (``max_depth`` → ``--max-depth``)."""
    if ctx is None:
        return {}
    return {param.name: param.opts[0] for param in ctx.command.params if param.opts and param.opts[0].startswith("-")}


@contextlib.contextmanager
def errors(ctx: typer.Context | None, verbose: bool) -> Iterator[None]:
    """One line on stderr and the documented exit code for every failure of a command. A bad setting
    is named by its flag where the command has one."""
    try:
        yield
    except SettingError as exc:
        flags = _flags(ctx)
        _error(exc.render(lambda name: flags.get(name, name)))
        raise SystemExit(exc.exit_code) from None
    except TabcompressError as exc:
        _error(str(exc))
        if verbose and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__, file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # unexpected: one line unless --verbose
        if verbose:
            traceback.print_exc(file=sys.stderr)
        first = first_line(exc, 300)
        _error(f"unexpected {type(exc).__name__}: {first}" + ("" if verbose else " (run with --verbose for details)"))
        raise SystemExit(1) from None


def _on_sigterm(signum, frame):  # noqa: ARG001
    # Unwind like Ctrl-C, so every `finally` removes its temporary files.
    raise _Terminated()


class _Terminated(BaseException):
    pass


def console_main() -> None:
    """The console script's entry point (and ``python -m tabcompress``'s): :func:`main`, then a quick exit.

    Once a command has finished and its output is flushed, the interpreter's teardown of the modules a run
    imports (torch, scikit-learn, pandas) only costs time: about 1.4 s on 2 cores, after the report is
    written, beyond what ``--time-budget`` can count. Exit handlers still run; only that teardown is skipped,
    and not when a thread that the exit would wait for is still running or the output cannot be flushed.
    """
    try:
        main()
    except SystemExit as done:
        if done.code is not None and not isinstance(done.code, int):
            raise
        code = done.code or 0
    else:  # pragma: no cover - main always ends in SystemExit
        code = 0
    waiting = [t for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive() and not t.daemon]
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if waiting or run_exit_handlers is None or not _flushed():
        raise SystemExit(code)
    run_exit_handlers()
    _flushed()
    os._exit(code)


def _flushed() -> bool:
    """Flush stdout and stderr; False when one cannot be (a closed pipe, say)."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); ends in :class:`SystemExit` with the exit
    code. The tests call it in-process; the console script calls :func:`console_main`."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = app(args=argv, prog_name="tabcompress", standalone_mode=False)
    except _Terminated:
        _error("terminated")
        raise SystemExit(EXIT_TERMINATED) from None
    except KeyboardInterrupt:
        _error("interrupted")
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        # Usage errors come from the click that typer uses (bundled in recent typer versions, a
        # dependency in older ones): recognise them by their interface rather than their module.
        if type(exc).__name__ == "NoArgsIsHelpError" and hasattr(exc, "show"):
            exc.show()
            raise SystemExit(2) from None
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            _error(" ".join(exc.format_message().split()))
            raise SystemExit(2) from None
        if type(exc).__name__ == "Abort":
            _error("interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into an exit code of 130
        _error("interrupted")
    raise SystemExit(code if isinstance(code, int) else 0)
