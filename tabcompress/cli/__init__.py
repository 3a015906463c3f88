"""The ``tabcompress`` command line."""

from tabcompress.cli.app import app, main

__all__ = ["app", "main"]
