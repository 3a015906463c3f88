"""The options reference, written from the command line itself.

``python -m tabcompress.cli.reference > docs/options.md`` (``make docs``) rewrites it; tests/test_docs.py
fails when docs/options.md no longer matches what this prints, so the reference cannot drift.
"""

from __future__ import annotations

from typing import Any

HEADER = """# Options reference

Every command and option of `tabcompress`, generated from the command line itself by
`python -m tabcompress.cli.reference` (`make docs`); do not edit by hand. `tabcompress COMMAND --help`
shows the same, grouped the same way. Settings can also come from a TOML file (`distill --config`):
see the README's "Repeated runs".
"""


def reference() -> str:
    """The reference as Markdown: the root options, then each command's arguments and options by panel."""
    import typer
    import typer.main

    from tabcompress.cli import app

    group = typer.main.get_command(app)
    parts = [HEADER, "## `tabcompress`", "", _text(group.help), "", *_table(typer.Context(group), group.params)]
    for name in sorted(group.commands):
        command = group.commands[name]
        ctx = typer.Context(command, info_name=name, parent=typer.Context(group, info_name="tabcompress"))
        arguments = [p for p in command.params if not p.opts[0].startswith("-")]
        usage = " ".join(p.name.upper() if p.required else f"[{p.name.upper()}]" for p in arguments)
        parts += ["", f"## `tabcompress {name}`", "", _text(command.help), "",
                  f"Usage: `tabcompress {name} [OPTIONS] {usage}`", "", "| argument | meaning |", "|---|---|"]
        parts += [f"| `{p.name.upper()}` | {_text(p.help)}{'' if p.required else ' (optional)'} |" for p in arguments]
        panels: dict[str, list[Any]] = {}
        for param in command.params:
            if param.opts[0].startswith("-"):
                panels.setdefault(param.rich_help_panel or "Options", []).append(param)
        for panel, params in panels.items():
            parts += ["", f"### {panel}", "", *_table(ctx, params)]
    return "\n".join(parts) + "\n"


def _table(ctx: Any, params: list[Any]) -> list[str]:
    rows = ["| option | value | default | meaning |", "|---|---|---|---|"]
    for param in params:
        if param.hidden:
            continue
        flags = " / ".join(f"`{flag}`" for flag in [*param.opts, *param.secondary_opts])
        value = "" if param.is_flag else f"`{param.display_type_rich(ctx)}`".replace("|", "\\|")
        meaning = _text(param.help)
        if param.envvar:
            meaning += f" Environment: `{param.envvar}`."
        rows.append(f"| {flags} | {value} | {_default(param)} | {meaning} |")
    return rows


def _default(param: Any) -> str:
    if isinstance(param.show_default, str):
        return param.show_default
    if not param.show_default or param.default is None:
        return ""
    if param.is_flag and param.secondary_opts:  # a pair of flags: the one that is on by default
        return f"`{param.opts[0] if param.default else param.secondary_opts[0]}`"
    if param.is_flag:
        return ""
    if isinstance(param.default, (tuple, list)):
        return f"`{','.join(map(str, param.default))}`"
    return f"`{param.default}`"


def _text(text: str | None) -> str:
    """Help text on one line, with the table's column separator escaped."""
    return " ".join((text or "").split()).replace("|", "\\|")


if __name__ == "__main__":
    import sys

    sys.stdout.write(reference())
