"""The CLI imports a command's module only when it runs: `--help` and `--version` stay light.

The top-level help is printed from `COMMANDS` (agentctl/cli/table.py: each
command's module and first help paragraph) so that listing the commands
imports none of them, and without typer (agentctl/cli/quick.py formats it as
click does; tests/cli/test_quick.py keeps the two the same text); these tests
keep that table equal to the commands themselves and keep the heavy modules
out of the light paths, in a real interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer._click import Context

from agentctl.cli import main

HEAVY = ("textual", "duckdb", "docker", "httpx", "pydantic", "rich", "agentctl.protocol", "store")
# `--help` and `--version` do not build the typer app either (agentctl/cli/quick.py);
# `ls`, `show` and `approvals` with a daemon: tests/cli/test_quick.py.
LIGHTEST = (*HEAVY, "typer", "httpcore", "http", "email", "ssl", "agentctl.cli.main")


def imported_by(*args: str) -> tuple[set[str], str]:
    """The modules `agentctl ARGS` had imported when it exited, and what it printed."""
    probe = (
        "import atexit, json, sys\n"
        "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
        f"sys.argv = ['agentctl', *{list(args)!r}]\n"
        "from agentctl.cli.entry import run\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1])), done.stdout


def eager_root() -> typer.core.TyperGroup:
    app = typer.Typer(name="agentctl", add_completion=False, rich_markup_mode=None)
    main.load_all(app)
    root = typer.main.get_command(app)
    assert isinstance(root, typer.core.TyperGroup)
    return root


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]])
def test_the_light_paths_import_nothing_heavy(args: list[str]) -> None:
    modules, printed = imported_by(*args)
    assert printed.strip()
    heavy = sorted(m for m in modules if m.split(".")[0] in LIGHTEST or m in LIGHTEST)
    assert heavy == []


def test_a_command_imports_its_own_module_and_not_the_others() -> None:
    modules, printed = imported_by("sql", "--help")
    assert "agentctl.cli.observe" in modules
    assert "Run a read-only SQL query" in printed
    for other in ("agentctl.cli.sessions", "agentctl.cli.workspace", "agentctl.cli.tui", "textual"):
        assert other not in modules


def test_the_table_names_every_command_in_order_with_its_help() -> None:
    root = eager_root()
    ctx = Context(root, info_name="agentctl")
    names = root.list_commands(ctx)
    assert names == list(main.COMMANDS)
    for name in names:
        command = root.get_command(ctx, name)
        assert command is not None
        first = (command.help or "").split("\n\n")[0].strip()
        assert main.COMMANDS[name][1] == first, f"update COMMANDS[{name!r}] to {first!r}"


def test_the_lazy_help_is_the_eager_help() -> None:
    lazy = typer.main.get_command(main.app)
    assert isinstance(lazy, typer.core.TyperGroup)
    ctx_lazy = Context(lazy, info_name="agentctl", terminal_width=100, max_content_width=100)
    eager = eager_root()
    eager.params = lazy.params  # the same global options (--debug, --version)
    eager.help = lazy.help
    ctx_eager = Context(eager, info_name="agentctl", terminal_width=100, max_content_width=100)
    assert lazy.get_help(ctx_lazy) == eager.get_help(ctx_eager)
    for name in main.COMMANDS:
        sub = lazy.get_command(ctx_lazy, name)
        eager_sub = eager.get_command(ctx_eager, name)
        assert sub is not None and eager_sub is not None
        assert sub.get_help(Context(sub, info_name=name, parent=ctx_lazy)) == eager_sub.get_help(
            Context(eager_sub, info_name=name, parent=ctx_eager)
        )
