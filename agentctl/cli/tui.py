"""`agentctl tui [SESSION]`: open the Textual app on the daemon (started when none runs)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentctl.cli.common import command


@command
def tui(
    session: Annotated[
        str | None, typer.Argument(help="Open with this session selected (default: the newest).")
    ] = None,
    as_: Annotated[
        str | None, typer.Option("--as", help="Approver name for decisions (default: OS user).")
    ] = None,
) -> None:
    """Sessions, the selected session's timeline, and the approval queue; decide, fork, cancel."""
    from agentctl.client import AsyncClient, Client
    from agentctl.paths import get_paths
    from tui.app import AgentctlApp

    paths = get_paths()
    Client.connect(paths).close()  # start the daemon now, with a clear error if it cannot start

    async def connect() -> AsyncClient:
        return AsyncClient(paths.socket)

    AgentctlApp(client_factory=connect, session=session, approver=as_).run()


def register(app: typer.Typer) -> None:
    app.command()(tui)
