"""`agentctl daemon`: run the daemon in the foreground, or start, stop and inspect it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentctl.cli.common import command, err, out, print_json
from agentctl.errors import DaemonError, UsageError

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
        ctx.obj = {"tcp": tcp}  # `daemon --tcp PORT start` starts it with the listener
        if tcp is not None and ctx.invoked_subcommand != "start":
            raise typer.BadParameter(
                f"only the daemon itself or `start` listen; `{ctx.invoked_subcommand}` does not",
                param_hint="--tcp",
            )
        return
    from agentctl.daemon.__main__ import main

    argv = ["--tcp", str(tcp)] if tcp else []
    raise typer.Exit(main(argv))


@app.command()
@command
def start(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Start the daemon in the background (no-op when one runs).

    `agentctl daemon --tcp PORT start` also listens on 127.0.0.1:PORT (needs AGENTCTL_TOKEN).
    """
    from agentctl.daemon import lifecycle

    tcp = (ctx.obj or {}).get("tcp")
    current = lifecycle.status()
    if current is None:
        _not_silent(lifecycle)
        if tcp is not None:
            from agentctl.config import TOKEN_ENV
            from agentctl.daemon.server import configured_token
            from agentctl.paths import get_paths

            if not configured_token(get_paths()):
                raise UsageError(
                    "a TCP listener needs a bearer token",
                    hint=f"set {TOKEN_ENV} or `token` in the [daemon] section of config.toml",
                )
        lifecycle.start_background(tcp_port=tcp)
        current = lifecycle.status()
    elif tcp is not None and current.tcp != f"127.0.0.1:{tcp}":
        raise UsageError(
            f"a daemon is already running (pid {current.pid}) "
            + (f"listening on {current.tcp}" if current.tcp else "without a TCP listener"),
            hint=f"stop it (`agentctl daemon stop`), then `agentctl daemon --tcp {tcp} start`",
        )
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
        silent = lifecycle.silent_daemon()
        if as_json:
            gone = {"running": False}
            print_json(
                gone if silent is None else {"running": True, "answering": False, "pid": silent}
            )
        elif silent is not None:
            err.print(_silent_message(silent), highlight=False)
        else:
            err.print("no daemon running")
        raise typer.Exit(1)
    if as_json:
        print_json(current)
        return
    counts = ", ".join(f"{n} {s}" for s, n in current.sessions.items() if n) or "no sessions"
    out.print(
        f"daemon {current.pid} (agentctl {current.version}) up {current.uptime_s:.0f}s\n"
        f"  socket    {current.socket}\n  database  {current.database}\n  sessions  {counts}",
        highlight=False,
    )
    from rich.markup import escape

    if current.engine is not None:
        out.print(f"  engine    {escape(current.engine)}", highlight=False)
    if current.registry is not None:
        out.print(f"  registry  {escape(current.registry)}", highlight=False)
    if current.worker is not None:
        out.print(f"  worker    {escape(current.worker)}", highlight=False)
        for w in current.workers:
            owned = ", ".join(w.sessions) if w.sessions else "no sessions"
            state = "alive" if w.alive else "silent"
            me = " (this daemon)" if w.id == current.worker else ""
            out.print(
                f"    {escape(w.id)}{me}: {state}, beat {w.heartbeat:%H:%M:%S}, "
                f"owns {len(w.sessions)}: {escape(owned)}",
                highlight=False,
            )


def _silent_message(pid: int) -> str:
    from agentctl.paths import get_paths

    socket = get_paths().socket
    why = "its socket file is missing (removed?)" if not socket.exists() else "it does not answer"
    return (
        f"a daemon runs (pid {pid}) but no client can reach it: {why} at {socket}. "
        "Stop it with `agentctl daemon stop`, then start it again"
    )


def _not_silent(lifecycle: Any) -> None:
    """Refuse to start a second daemon beside one that runs but cannot be reached."""
    silent = lifecycle.silent_daemon()
    if silent is not None:
        raise DaemonError(_silent_message(silent))
