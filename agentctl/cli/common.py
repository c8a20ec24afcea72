"""What every command shares: the consoles, the client, JSON output and error handling.

Results go to stdout, progress and diagnostics to stderr (docs/design.md §10), through
the consoles of `agentctl.cli.consoles` (re-exported here).
Domain errors become an exit code and one readable line here, at the edge,
and nowhere else.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.markup import escape

from agentctl.cli.consoles import err as err
from agentctl.cli.consoles import out as out
from agentctl.errors import AgentctlError, ExitCode
from agentctl.terminal import clean_line

if TYPE_CHECKING:
    from agentctl.client import Client

P = ParamSpec("P")
T = TypeVar("T")

_debug = {"on": os.environ.get("AGENTCTL_DEBUG") == "1"}


def set_debug(on: bool) -> None:
    _debug["on"] = on or _debug["on"]


def debug_enabled() -> bool:
    return _debug["on"]


def client() -> Client:
    """A connected client; starts the daemon when none runs."""
    from agentctl.daemon.lifecycle import connect

    return connect()


def error_line(message: str) -> None:
    """The one line an error gets on stderr (a multi-line message is joined)."""
    line = "; ".join(part.strip() for part in message.splitlines() if part.strip())
    # an error may quote what a model or a tool said: no control sequence gets through
    err.print(f"[bold red]error:[/] {escape(clean_line(line))}", markup=True, highlight=False)


def fail(message: str, code: int = ExitCode.FAILED) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn an AgentctlError (or a sandbox error) into one line on stderr and its exit code."""
    try:
        yield
    except AgentctlError as exc:
        if debug_enabled():
            err.print_exception()
        error_line(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except ValidationError as exc:  # a request the CLI built from bad input (a 2 MB task)
        if debug_enabled():
            err.print_exception()
        error_line(_invalid(exc))
        raise typer.Exit(ExitCode.USAGE) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "sandboxes":
            raise
        # The generic sandbox layer has its own family (it imports nothing of agentctl).
        if debug_enabled():
            err.print_exception()
        error_line(str(exc))
        raise typer.Exit(ExitCode.FAILED) from None


def _invalid(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "input"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return f"invalid {exc.title}: " + "; ".join(problems)


def print_json(value: Any) -> None:
    """One JSON document (or NDJSON line) on stdout, flushed."""
    if isinstance(value, BaseModel):
        text = value.model_dump_json()
    elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
        text = "[" + ",".join(v.model_dump_json() for v in value) + "]"
    else:
        text = json.dumps(value, default=str)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def command(fn: Callable[P, T]) -> Callable[P, T]:
    """Wrap a command body so domain errors exit cleanly."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with errors_to_exit():
            return fn(*args, **kwargs)

    return wrapper
