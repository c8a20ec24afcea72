"""Commands for people deciding: approvals, approve, deny."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from agentctl.cli.common import client, command, out, print_json
from agentctl.protocol import ApprovalView, Decide
from agentctl.render import short_args


def approval_json(a: ApprovalView) -> dict[str, Any]:
    data = a.model_dump(mode="json")
    data["requested_at"] = data["requested_at"]
    return data


@command
def approvals(
    session: Annotated[str | None, typer.Option(help="Only this session's approvals.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list of pending approvals.")] = False,
) -> None:
    """Pending approvals across all sessions."""
    pending = client().approvals(session=session)
    if as_json:
        print_json([approval_json(a) for a in pending])
        return
    if not pending:
        out.print("no pending approvals")
        return
    now = datetime.now(UTC)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("ID", "SESSION", "TOOL", "ARGS", "TIER", "WAITING", "EXPIRES"):
        table.add_column(column, no_wrap=column != "ARGS", overflow="ellipsis")
    for a in pending:
        waited = int((now - a.requested_at).total_seconds())
        expires = f"in {int((a.expires_at - now).total_seconds())}s" if a.expires_at else ""
        table.add_row(a.id, a.session, a.tool, short_args(a.args, 60), a.tier, f"{waited}s", expires)
    out.print(table)


def _approver(name: str | None) -> str:
    from agentctl.runtime import default_approver

    return name or default_approver()


@command
def approve(
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="Approval id (see `agentctl approvals`).")],
    args: Annotated[str | None, typer.Option("--args", help="Edited arguments as a JSON object; validated against the tool's schema.")] = None,
    reason: Annotated[str, typer.Option(help="Why.")] = "",
    as_: Annotated[str | None, typer.Option("--as", help="Approver name (default: OS user).")] = None,
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
    event = client().decide(approval_id, Decide(decision="approve", approver=_approver(as_), reason=reason, args=edited))
    if as_json:
        print_json(event)
    else:
        out.print(f"approved {approval_id} ({event.session})")


@command
def deny(
    approval_id: Annotated[str, typer.Argument(metavar="ID", help="Approval id.")],
    reason: Annotated[str, typer.Option(help="Why; the model is told.")],
    as_: Annotated[str | None, typer.Option("--as", help="Approver name (default: OS user).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision event.")] = False,
) -> None:
    """Deny a pending call; the model gets the reason as the call's result."""
    event = client().decide(approval_id, Decide(decision="deny", approver=_approver(as_), reason=reason))
    if as_json:
        print_json(event)
    else:
        out.print(f"denied {approval_id} ({event.session})")


def register(app: typer.Typer) -> None:
    app.command()(approvals)
    app.command()(approve)
    app.command()(deny)
