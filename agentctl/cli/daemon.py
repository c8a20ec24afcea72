"""`agentctl daemon`: run the daemon in the foreground, or start, stop and inspect it."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl.cli.common import command, err, out, print_json

app = typer.Typer(
    help="Run, start, stop and inspect the daemon.",
    invoke_without_command=True,
    no_args_is_help=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object.")]


@app.callback()
def foreground(
    ctx: typer.Context,
    tcp: Annotated[
        int | None, typer.Option(help="Also listen on 127.0.0.1:PORT (needs AGENTCTL_TOKEN).")
    ] = None,
) -> None:
    """Without a subcommand: run the daemon in the foreground."""
    if ctx.invoked_subcommand is not None:
        return
    from agentctl.daemon.__main__ import main

    argv = ["--tcp", str(tcp)] if tcp else []
    raise typer.Exit(main(argv))


@app.command()
@command
def start(as_json: JsonOpt = False) -> None:
    """Start the daemon in the background (no-op when one runs)."""
    from agentctl.daemon import lifecycle

    current = lifecycle.status()
    if current is None:
        lifecycle.start_background()
        current = lifecycle.status()
    if as_json:
        print_json(current)
    elif current is not None:
        out.print(f"daemon running, pid {current.pid}, socket {current.socket}")


@app.command()
@command
def stop(as_json: JsonOpt = False) -> None:
    """Stop the daemon gracefully (SIGTERM; in-flight steps reach a durable point)."""
    from agentctl.daemon import lifecycle

    pid = lifecycle.stop()
    if as_json:
        print_json({"stopped": pid})
    elif pid is None:
        err.print("no daemon running")
    else:
        out.print(f"stopped daemon {pid}")


@app.command()
@command
def status(as_json: JsonOpt = False) -> None:
    """Whether a daemon runs: pid, socket, database, uptime, sessions by status. Exit 1 when none runs."""
    from agentctl.daemon import lifecycle

    current = lifecycle.status()
    if current is None:
        if as_json:
            print_json({"running": False})
        else:
            err.print("no daemon running")
        raise typer.Exit(1)
    if as_json:
        print_json(current)
        return
    counts = ", ".join(f"{n} {s}" for s, n in current.sessions.items() if n) or "no sessions"
    out.print(
        f"daemon {current.pid} (agentctl {current.version}) up {current.uptime_s:.0f}s\n"
        f"  socket    {current.socket}\n  database  {current.database}\n  sessions  {counts}"
    )
