"""Commands for people deciding: approvals, approve, deny."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from agentctl.cli.common import client, command, out, print_json
from agentctl.protocol import Decide, default_approver
from agentctl.render import approvals_view


@command
def approvals(
    session: Annotated[str | None, typer.Option(help="Only this session's approvals.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="A JSON list of pending approvals.")
    ] = False,
) -> None:
    """Pending approvals across all sessions, oldest first.

    Pipe them: agentctl approvals --json | jq -r '.[].id' | xargs -n1 agentctl approve
    """
    pending = sorted(client().approvals(session=session), key=lambda a: a.requested_at)
    if as_json:
        print_json([a.model_dump(mode="json") for a in pending])
        return
    if not pending:
        out.print("no pending approvals")
        return
    out.print(approvals_view(pending, datetime.now(UTC)))


def _approver(name: str | None) -> str:
    return name or default_approver()


@command
def approve(
    approval_id: Annotated[
        str, typer.Argument(metavar="ID", help="Approval id (see `agentctl approvals`).")
    ],
    args: Annotated[
        str | None,
        typer.Option(
            "--args", help="Edited arguments as a JSON object; validated against the tool's schema."
        ),
    ] = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    as_: Annotated[
        str | None,
        typer.Option(
            "--as", help="A name recorded beside your OS user, which the daemon verifies."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision event.")] = False,
) -> None:
    """Approve a pending call, optionally with edited arguments."""
    edited = None
    if args is not None:
        try:
            edited = json.loads(args)
        except json.JSONDecodeError as exc:
            raise typer.BadParameter(f"not JSON: {exc}", param_hint="--args") from None
        if not isinstance(edited, dict):
            raise typer.BadParameter("must be a JSON object", param_hint="--args")
    event = client().decide(
        approval_id, Decide(decision="approve", approver=_approver(as_), reason=reason, args=edited)
    )
    if as_json:
        print_json(event)
    else:
        out.print(f"approved {approval_id} ({event.session})")


@command
def deny(
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="Approval id.")],
    reason: Annotated[str, typer.Option(help="Why; the model is told.")],
    as_: Annotated[
        str | None,
        typer.Option(
            "--as", help="A name recorded beside your OS user, which the daemon verifies."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision event.")] = False,
) -> None:
    """Deny a pending call; the model gets the reason as the call's result."""
    event = client().decide(
        approval_id, Decide(decision="deny", approver=_approver(as_), reason=reason)
    )
    if as_json:
        print_json(event)
    else:
        out.print(f"denied {approval_id} ({event.session})")


def register(app: typer.Typer) -> None:
    app.command()(approvals)
    app.command()(approve)
    app.command()(deny)
