"""What every command shares: the consoles, the client, JSON output and error handling.

Results go to stdout, progress and diagnostics to stderr (DESIGN §10). Rich
turns colour off by itself when `NO_COLOR` is set or the stream is not a
terminal. Domain errors become an exit code and one readable line here, at
the edge, and nowhere else.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from agentctl.errors import AgentctlError, ExitCode

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

T = TypeVar("T")

_debug = {"on": os.environ.get("AGENTCTL_DEBUG") == "1"}


def set_debug(on: bool) -> None:
    _debug["on"] = on or _debug["on"]


def debug_enabled() -> bool:
    return _debug["on"]


def client() -> Any:
    """A connected client; starts the daemon when none runs."""
    from agentctl.client import Client

    return Client.connect()


def fail(message: str, code: int = ExitCode.FAILED) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn an AgentctlError into one line on stderr and its exit code."""
    try:
        yield
    except AgentctlError as exc:
        if debug_enabled():
            err.print_exception()
        err.print(f"[bold red]error:[/] {_escape(str(exc))}")
        raise typer.Exit(exc.exit_code) from None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


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


def command(fn: Callable[..., T]) -> Callable[..., T]:
    """Wrap a command body so domain errors exit cleanly."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with errors_to_exit():
            return fn(*args, **kwargs)

    return wrapper
