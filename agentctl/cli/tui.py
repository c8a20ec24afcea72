"""`agentctl tui [SESSION]`: open the Textual app on the daemon (started when none runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl.cli.common import command


@command
def tui(
    session: Annotated[
        str | None,
        typer.Argument(
            help="Open with this session selected (default: the newest); "
            "one that does not exist exits 2."
        ),
    ] = None,
    as_: Annotated[
        str | None, typer.Option("--as", help="Approver name for decisions (default: OS user).")
    ] = None,
) -> None:
    """Sessions, the selected session's timeline, and the approval queue; decide, fork, cancel,
    resume, start runs (`?` in the app lists every key)."""
    from agentctl.client import AsyncClient
    from agentctl.config import load_config
    from agentctl.daemon import lifecycle
    from agentctl.errors import NotFoundError, UsageError
    from agentctl.paths import get_paths
    from tui.app import AgentctlApp

    paths = get_paths()
    config = load_config(paths.config_file)  # a bad config.toml is said before the screen opens
    with lifecycle.connect(paths) as c:  # start the daemon now, with a clear error if it cannot
        if session is not None:
            try:
                c.session(session)
            except NotFoundError:
                # a usage error (exit 2): the argument names nothing, nothing opens
                raise UsageError(
                    f"no session {session!r}", hint="`agentctl ls` lists the sessions"
                ) from None

    async def connect() -> AsyncClient:
        return AsyncClient(paths.socket)

    async def start_daemon() -> None:
        await (await lifecycle.connect_async(paths, autostart=True)).aclose()

    AgentctlApp(
        client_factory=connect,
        session=session,
        approver=as_,
        bell=config.tui.bell,
        start_daemon=start_daemon,
        freeze_gc=True,
    ).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
