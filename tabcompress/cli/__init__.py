"""The ``tabcompress`` command line: :mod:`.app` (the app, the entry point, the error handler),
:mod:`.options` (shared option definitions) and one module per command."""

# each registers its command
from tabcompress.cli import condense, distill, evaluate, export, inspect, predict, score  # noqa: E402,F401
from tabcompress.cli.app import app, main

__all__ = ["app", "main"]
