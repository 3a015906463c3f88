"""Progress reporting hooks. The library is silent by default; the CLI passes :class:`RichProgress`."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator


class Progress:
    """Silent progress: subclass and override to show something."""

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        yield

    def advance(self, done: int, total: int) -> None:
        """Called during long stages (e.g. once per generator epoch)."""

    def note(self, message: str) -> None:
        """Something the user should know that is not an error."""


class RichProgress(Progress):
    """Stage lines and an epoch bar on stderr. Bars animate only on a terminal (rich decides), and
    rich honours ``NO_COLOR``."""

    def __init__(self, console):
        self.console = console
        self._bar = None
        self._task = None

    @contextlib.contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        start = time.perf_counter()
        self.console.print(f"[bold]→[/bold] {name}" + (f" [dim]({detail})[/dim]" if detail else ""),
                           highlight=False)
        try:
            yield
        finally:
            self._close_bar()
        self.console.print(f"  [green]done[/green] in {time.perf_counter() - start:.1f} s", highlight=False)

    def advance(self, done: int, total: int) -> None:
        if not self.console.is_terminal:
            return  # no animation in logs; the stage line and its time are enough
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self._bar = Bar("  ", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=self.console, transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=total)
        self._bar.update(self._task, completed=done, total=total)

    def note(self, message: str) -> None:
        self.console.print(f"  [yellow]note:[/yellow] {message}", highlight=False)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar, self._task = None, None


class Stages:
    """Times each stage of a run (``seconds[key]``) and tells the progress reporter about it."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def run(self, key: str, title: str, detail: str = "") -> Iterator[None]:
        with self.progress.stage(title, detail):
            start = time.perf_counter()
            try:
                yield
            finally:
                self.seconds[key] = round(time.perf_counter() - start, 3)
