"""`agentctl mcp add|ls|rm` and `agentctl tools ls`: MCP servers as tool sources.

`add` and `rm` edit `mcp.json` in the config folder (0600), as Claude Code's
and Codex's `mcp add` do; a new session uses every configured server unless
its profile names some (`mcp = [...]`). `ls` asks the daemon, which starts
each server briefly to list its tools and says what happened to it last.
Everything a server says (names, descriptions) is untrusted: it is shown
through agentctl.terminal, never raw.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from agentctl.cli.common import client, command, out, print_json
from agentctl.errors import UsageError
from agentctl.mcp.config import ServerConfig, ServerStore, check_name
from agentctl.paths import get_paths
from agentctl.terminal import clean_line

app = typer.Typer(
    help="MCP servers whose tools sessions get, as mcp__SERVER__TOOL (see docs/mcp.md).",
    no_args_is_help=True,
)
tools_app = typer.Typer(help="The tools a session gets: built-in and MCP.", no_args_is_help=True)


def _store() -> ServerStore:
    return ServerStore(get_paths().ensure().config)


def _pairs(values: list[str], sep: str, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, found, rest = value.partition(sep)
        if not found or not key.strip():
            raise UsageError(f"{what} {value!r} is not KEY{sep}VALUE")
        pairs[key.strip()] = rest.strip() if sep == ":" else rest
    return pairs


@app.command(
    "add",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
@command
def add(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Argument(metavar="NAME", help="The server's name: its tools are mcp__NAME__TOOL."),
    ],
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="Where a stdio server runs: sandbox (the session's container, the default) "
            "or host (the daemon's machine, with your rights; see docs/mcp.md).",
        ),
    ] = "sandbox",
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env", "-e", help="K=V for a stdio server; V may be ${key:NAME} (agentctl keys)."
        ),
    ] = None,
    url: Annotated[
        str | None, typer.Option("--url", help="A Streamable HTTP server's endpoint.")
    ] = None,
    header: Annotated[
        list[str] | None,
        typer.Option("--header", "-H", help="K:V for an HTTP server; V may hold ${key:NAME}."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds a call may take (default: the tool timeout)."),
    ] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite a server of the same name.")
    ] = False,
) -> None:
    """Add a server: `mcp add NAME [--scope S] [--env K=V] -- COMMAND ARGS…` or `mcp add NAME --url URL`."""
    check_name(name)
    command_line = list(ctx.args)
    if command_line and scope == "host" and "/" in command_line[0]:
        # A host program is started by the daemon, whose folder is not this one.
        command_line[0] = str(Path(command_line[0]).expanduser().absolute())
    if scope not in ("sandbox", "host"):
        raise UsageError(f"--scope must be sandbox or host, not {scope!r}")
    if url and command_line:
        raise UsageError("give either --url or a command after --, not both")
    if not url and not command_line:
        raise UsageError(
            "no command given", hint=f"agentctl mcp add {name} -- COMMAND ARGS…  or  --url URL"
        )
    try:
        server = ServerConfig(
            name=name,
            command=command_line,
            scope="host" if url else scope,  # type: ignore[arg-type]
            env=_pairs(env or [], "=", "--env"),
            url=url,
            headers=_pairs(header or [], ":", "--header"),
            timeout_s=timeout,
        )
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[-1] if "\n" in str(exc) else str(exc)) from None
    store = _store()
    store.add(server, replace=replace)
    where = server.url or f"{' '.join(server.command)} ({server.where})"
    out.print(f"added MCP server {name}: {where}", markup=False, highlight=False)


@app.command("ls")
@command
def list_servers(
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of servers with their tools.")
    ] = False,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Only the status the daemon has; start no server.")
    ] = False,
) -> None:
    """The configured servers: where they run, their status, their tools."""
    with client() as c:
        views = c.mcp_servers(probe=not no_probe)
    if as_json:
        print_json(views)
        return
    if not views:
        out.print("no MCP servers (agentctl mcp add NAME -- COMMAND …)")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("NAME", "SCOPE", "STATE", "TOOLS", "LAST"):
        table.add_column(column, overflow="fold")
    for v in views:
        tools = ", ".join(t.name.split("__", 2)[-1] for t in v.tools) or "-"
        table.add_row(v.name, v.scope, v.state, clean_line(tools), clean_line(v.line) or "-")
    out.print(table)


@app.command("rm")
@command
def remove(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Remove a server; sessions that listed its tools get an error result when they call one."""
    if not _store().remove(name):
        raise UsageError(f"no MCP server named {name!r}", hint="see `agentctl mcp ls`")
    out.print(f"removed MCP server {name}")


@tools_app.command("ls")
@command
def list_tools(
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of tools.")] = False,
    policy: Annotated[
        str | None,
        typer.Option("--policy", help="The policy to show tiers under (default: yours)."),
    ] = None,
) -> None:
    """Every tool a new session would get, its idempotency and its tier for a call no rule singles out."""
    with client() as c:
        views = c.tools(policy)
    if as_json:
        print_json(views)
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("TOOL", "SOURCE", "IDEMPOTENT", "TIER", "WHY"):
        table.add_column(column, overflow="fold")
    for v in views:
        table.add_row(
            clean_line(v.name),
            v.source,
            "yes" if v.idempotent else "no",
            v.tier,
            clean_line(v.rule),
        )
    out.print(table)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="mcp")
    root.add_typer(tools_app, name="tools")
