"""The `agentctl` command: the typer app, global options, and the error edge.

Exit codes are stable (docs/design.md §10): 0 completed, 1 failed, 2 usage error,
3 waiting for approval, 4 paused, 5 cancelled, 130 interrupted. A usage error
is one line naming the problem; any other error is one readable line too, and
a traceback only with `--debug`.

The commands are imported when they run, not before: `COMMANDS`
(agentctl/cli/table.py, where a new command goes) names the module of each
and the first paragraph of its help, which is all the top-level `--help`
prints. `agentctl --help` and `--version` do not even come here: the entry
(agentctl/cli/entry.py) answers them from the table without typer, and
`ls`, `show` and `approvals` go through agentctl/cli/quick.py first
(tests/cli/test_lazy_imports.py checks that the table matches the commands,
that the quick help is this one's, and that the heavy modules stay out).
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
from agentctl.cli.table import COMMANDS as COMMANDS
from agentctl.cli.table import HELP
from agentctl.errors import ExitCode

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter


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
    help=HELP,
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
