"""The `agentctl` command: the typer app, global options, and the error edge.

Exit codes are stable (docs/design.md §10): 0 completed, 1 failed, 2 usage error,
3 waiting for approval, 4 paused, 5 cancelled, 130 interrupted. A usage error
is one line naming the problem; any other error is one readable line too, and
a traceback only with `--debug`.

The commands are imported when they run, not before: `COMMANDS` names the
module of each and the first paragraph of its help, which is all the
top-level `--help` prints, so `agentctl --help` and `--version` import typer
and nothing of the rest (tests/cli/test_lazy_imports.py checks that the
table matches the commands and that the heavy modules stay out).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click import exceptions as click  # typer vendors click; its exceptions live here
from typer.core import TyperGroup

from agentctl import __version__
from agentctl.errors import ExitCode

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

# name -> (module, first paragraph of its help), in the order `--help` lists them
# (typer lists plain commands before groups). A module either has `register(app)`
# or, for a group, a typer `app` (see `_load`).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("agentctl.cli.sessions", "Start a session and follow it until it ends (or detach)."),
    "resume": (
        "agentctl.cli.sessions",
        "Continue a paused or completed session, optionally with a new message or a raised budget.",
    ),
    "fork": (
        "agentctl.cli.sessions",
        "Branch a session at a checkpoint: conversation and sandbox files together.",
    ),
    "attach": (
        "agentctl.cli.sessions",
        "Stream a session's events (backfill, then live) until it ends, pauses or waits.",
    ),
    "cancel": (
        "agentctl.cli.sessions",
        "Cancel a session: pending approvals are denied, its container removed.",
    ),
    "ls": (
        "agentctl.cli.inspect",
        "List sessions: id, status, age, steps, cost, pending approvals, parent.",
    ),
    "show": ("agentctl.cli.inspect", "A summary of one session."),
    "log": (
        "agentctl.cli.inspect",
        "The session's events so far (NDJSON envelopes with --json); `attach` follows live ones.",
    ),
    "tree": (
        "agentctl.cli.inspect",
        "The family of a session: parents, forks (the seq each branched at), delegated children, status.",
    ),
    "approvals": ("agentctl.cli.approvals", "Pending approvals across all sessions, oldest first."),
    "approve": (
        "agentctl.cli.approvals",
        "Approve a pending call, optionally with edited arguments.",
    ),
    "deny": (
        "agentctl.cli.approvals",
        "Deny a pending call; the model gets the reason as the call's result.",
    ),
    "diff": (
        "agentctl.cli.workspace",
        "Show what a session changed in /workspace, as a unified diff (git's format).",
    ),
    "apply": (
        "agentctl.cli.workspace",
        "Apply a session's changes to the host folder its workspace was copied from.",
    ),
    "cp": (
        "agentctl.cli.workspace",
        "Copy files out of a session's /workspace, or into one that is not running.",
    ),
    "doctor": (
        "agentctl.cli.doctor",
        "Check the Docker engine, the sandbox image, the daemon, its database, the plugins it\n"
        "loaded, the configuration and the model providers' keys, and say what to do about each.",
    ),
    "record": (
        "agentctl.cli.replay",
        "Write a session's recording (JSONL of its model responses) for `--model replay:FILE`.",
    ),
    "replay": (
        "agentctl.cli.replay",
        "Re-run a session on its recorded model responses in a fresh sandbox; "
        "report the first divergence.",
    ),
    "tui": (
        "agentctl.cli.tui",
        "Sessions, the selected session's timeline, and the approval queue; decide, fork, cancel,\n"
        "resume, start runs (`?` in the app lists every key).",
    ),
    "trace": (
        "agentctl.cli.observe",
        "Where the session's time went: a waterfall of model calls, tool calls, approval waits.",
    ),
    "stats": (
        "agentctl.cli.observe",
        "Sessions by status, cost per model and tool, tool failure rates, approval waits, retries.",
    ),
    "sql": ("agentctl.cli.observe", "Run a read-only SQL query (DuckDB) over the event log."),
    "export": (
        "agentctl.cli.observe",
        "Export events: JSONL envelopes (as `log --json`) or Parquet (the events table's columns).",
    ),
    "gc": (
        "agentctl.cli.observe",
        "Remove the checkpoint images and artifacts of sessions that ended long ago.",
    ),
    "eval": (
        "agentctl.cli.evals",
        "Run an eval suite (cases of task, model and graders, as sessions) and report pass rates;\n"
        "add a session to one as a regression case.",
    ),
    "agents": (
        "agentctl.cli.agents",
        "Agent profiles: agents/NAME.toml in the config folder, "
        ".agentctl/agents/NAME.toml in a workspace.",
    ),
    "daemon": ("agentctl.cli.daemon", "Run, start, stop and inspect the daemon."),
    "sandbox": ("agentctl.cli.sandbox", "Build the sandbox image; list and prune checkpoints."),
    "keys": (
        "agentctl.cli.keys",
        "API keys by name (a 0600 file in the config folder; the environment overrides it).",
    ),
    "mcp": (
        "agentctl.cli.mcp",
        "MCP servers whose tools sessions get, as mcp__SERVER__TOOL (see docs/mcp.md).",
    ),
    "tools": ("agentctl.cli.mcp", "The tools a session gets: built-in and MCP."),
    "schedule": ("agentctl.cli.triggers", "Start sessions on a cron schedule."),
    "hook": ("agentctl.cli.triggers", "Start sessions from webhooks (GitHub-style signed POSTs)."),
}


def _settings() -> dict[str, Any]:
    return {"pretty_exceptions_enable": False, "rich_markup_mode": None}


def _load(name: str) -> Command | None:
    """The click command `name`, made from its module as the whole app would make it."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    module = importlib.import_module(entry[0])
    holder = typer.Typer(add_completion=False, **_settings())
    if hasattr(module, "register"):
        module.register(holder)
    else:
        holder.add_typer(module.app, name=name)
    built = typer.main.get_command(holder)
    if isinstance(built, TyperGroup):
        return built.commands.get(name)
    return built if built.name == name else None


class LazyGroup(TyperGroup):
    """The top-level group: a command's module is imported when that command is needed."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        command = self.commands.get(cmd_name)
        if command is None:
            command = _load(cmd_name)
            if command is not None:
                self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        # As TyperGroup does it, from the table: listing imports no command.
        from typer.core import TyperCommand

        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, TyperCommand(name, help=text).get_short_help_str(limit))
            for name, (_, text) in COMMANDS.items()
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.UsageError as exc:
            from difflib import get_close_matches

            matches = get_close_matches(args[0], list(COMMANDS)) if args else []
            if matches:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


def load_all(app: typer.Typer) -> None:
    """Register every command on `app` eagerly, as the lazy group would one by one (tests)."""
    done: set[str] = set()
    for name, (module_name, _) in COMMANDS.items():
        module = importlib.import_module(module_name)
        if not hasattr(module, "register"):
            app.add_typer(module.app, name=name)
        elif module_name not in done:
            module.register(app)
        done.add(module_name)


app = typer.Typer(
    cls=LazyGroup,
    name="agentctl",
    help=(
        "Run AI agents durably on this machine: every model call, tool call, approval and checkpoint "
        "is an event in a local DuckDB log; tools run in a locked-down Docker container per session.\n\n"
        "Exit codes: 0 completed, 1 failed, 2 usage error, 3 waiting for approval, 4 paused, "
        "5 cancelled, 130 interrupted (the session goes on in the daemon)."
    ),
    no_args_is_help=True,
    **_settings(),
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"agentctl {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    if debug:
        from agentctl.cli.common import set_debug

        set_debug(debug)


def _common() -> Any:
    """The consoles and the error line (rich): imported on the paths that print through them."""
    from agentctl.cli import common

    return common


def run() -> None:
    """Console-script entry: exit codes and one-line errors, never a traceback by accident."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="agentctl", standalone_mode=False)
    except click.NoArgsIsHelpError as exc:
        exc.show()  # a group called without a command: its help, on stderr
        sys.exit(ExitCode.USAGE)
    except click.UsageError as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _common().error_line(f"{exc.format_message()}{where}")
        sys.exit(ExitCode.USAGE)
    except typer.Abort:
        _common().err.print("aborted")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        _common().error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`agentctl log --json | head -1`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.FAILED)
    except Exception as exc:  # the edge: a bug still gets one line, not a traceback
        common = _common()
        if common.debug_enabled():
            common.err.print_exception()
        common.error_line(
            f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
        )
        sys.exit(ExitCode.FAILED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
