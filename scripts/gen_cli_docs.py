"""Print docs/cli.md: the `--help` of every agentctl command, walked from the typer app.

`make docs` writes it, `make docs-check` fails when the file is stale (CI).
The output must not depend on the terminal it runs in: the width is fixed,
colour is off, and commands come in the order the app lists them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

WIDTH = 100

os.environ["COLUMNS"] = str(WIDTH)  # before typer/click read the terminal size
os.environ["NO_COLOR"] = "1"
os.environ.pop("FORCE_COLOR", None)
os.environ["TERM"] = "dumb"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer  # noqa: E402
from typer._click import Command, Context  # noqa: E402
from typer.core import TyperGroup  # noqa: E402

from agentctl.cli.main import app  # noqa: E402

HEADER = """\
# agentctl command reference

Generated from `--help` by `scripts/gen_cli_docs.py` (`make docs`); `make docs-check` fails
when this file is stale. Do not edit it by hand.

Exit codes, for every command that follows a session: 0 completed, 1 failed, 2 usage error,
3 waiting for approval (`--no-wait`), 4 paused, 5 cancelled, 130 interrupted (the session goes
on in the daemon).
"""


def walk(command: Command, ctx: Context) -> Iterator[tuple[Context, Command]]:
    yield ctx, command
    if isinstance(command, TyperGroup):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from walk(
                sub,
                Context(
                    sub, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH
                ),
            )


def render() -> str:
    root = typer.main.get_command(app)
    top = Context(
        root,
        info_name="agentctl",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        **root.context_settings,
    )
    parts = [HEADER]
    contents = []
    sections = []
    for ctx, command in walk(root, top):
        path = ctx.command_path
        anchor = path.replace(" ", "-")
        contents.append(f"- [`{path}`](#{anchor})")
        help_text = command.get_help(ctx).rstrip()
        sections.append(f'<a id="{anchor}"></a>\n\n## `{path}`\n\n```text\n{help_text}\n```\n')
    parts.append("\n".join(contents) + "\n")
    parts.extend(sections)
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
