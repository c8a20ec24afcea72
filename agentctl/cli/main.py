"""The `agentctl` command: the typer app, global options, and the error edge.

Exit codes are stable (docs/design.md §10): 0 completed, 1 failed, 2 usage error,
3 waiting for approval, 4 paused, 5 cancelled, 130 interrupted. A usage error
is one line naming the problem; any other error is one readable line too, and
a traceback only with `--debug`.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer._click import exceptions as click  # typer vendors click; its exceptions live here

from agentctl import __version__
from agentctl.cli import (
    agents,
    approvals,
    daemon,
    doctor,
    inspect,
    keys,
    mcp,
    sandbox,
    sessions,
    workspace,
)
from agentctl.cli.common import debug_enabled, err, error_line, set_debug
from agentctl.errors import ExitCode

app = typer.Typer(
    name="agentctl",
    help=(
        "Run AI agents durably on this machine: every model call, tool call, approval and checkpoint "
        "is an event in a local DuckDB log; tools run in a locked-down Docker container per session.\n\n"
        "Exit codes: 0 completed, 1 failed, 2 usage error, 3 waiting for approval, 4 paused, "
        "5 cancelled, 130 interrupted (the session goes on in the daemon)."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
    set_debug(debug)


sessions.register(app)
inspect.register(app)
approvals.register(app)
workspace.register(app)
app.add_typer(agents.app, name="agents")
app.add_typer(daemon.app, name="daemon")
app.add_typer(sandbox.app, name="sandbox")
keys.register(app)
mcp.register(app)
doctor.register(app)


def _register_optional() -> None:
    # Command groups added by later modules register themselves here if present.
    import importlib

    for name in (
        "agentctl.cli.replay",
        "agentctl.cli.tui",
        "agentctl.cli.observe",
        "agentctl.cli.triggers",
    ):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_optional()


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
        error_line(f"{exc.format_message()}{where}")
        sys.exit(ExitCode.USAGE)
    except typer.Abort:
        err.print("aborted")
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        error_line(exc.format_message())
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`agentctl log --json | head -1`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(ExitCode.FAILED)
    except Exception as exc:  # the edge: a bug still gets one line, not a traceback
        if debug_enabled():
            err.print_exception()
        error_line(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        sys.exit(ExitCode.FAILED)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    run()
