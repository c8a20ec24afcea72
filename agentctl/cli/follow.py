"""Following a session: stream its events, answer approvals inline, map the end to an exit code.

`run`, `resume`, `fork` and `attach` all end here. In a terminal a pending
approval is asked inline; piped, the command waits for another client's
decision, or exits 3 with `--no-wait`. Ctrl-C detaches: the session goes on
in the daemon and the message says how to re-attach. If the daemon restarts
under us, we reconnect with our cursor, so nothing is missed or shown twice.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.prompt import Prompt
from rich.syntax import Syntax

from agentctl.cli.common import err, out
from agentctl.errors import AgentctlError, DaemonError, ExitCode
from agentctl.protocol import Decide, Envelope
from agentctl.render import render_event

END_CODES = {
    "completed": ExitCode.COMPLETED,
    "failed": ExitCode.FAILED,
    "cancelled": ExitCode.CANCELLED,
    "paused": ExitCode.PAUSED,
}


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def follow(
    client: Any,
    session_id: str,
    *,
    after: int = 0,
    as_json: bool = False,
    wait: bool = True,
    approver: str | None = None,
) -> int:
    """Stream until the session ends, pauses or (without `wait`) waits. Returns the exit code."""
    from agentctl.runtime import default_approver

    who = approver or default_approver()
    cursor = after
    settled_from = client.session(session_id).last_seq  # status events before this are history
    asked: set[str] = set()
    reconnects = 0
    try:
        while True:
            try:
                for event in client.events(session_id, after=cursor, follow=True):
                    cursor = event.seq
                    reconnects = 0
                    _show(event, as_json)
                    if event.type != "session.status" or event.seq < settled_from:
                        continue
                    status = event.data["status"]
                    if status in END_CODES:
                        return END_CODES[status]
                    if status == "waiting":
                        if interactive() and not as_json:
                            _ask_pending(client, session_id, who, asked)
                        elif not wait:
                            err.print(
                                f"waiting for approval; decide with `agentctl approvals` / `agentctl approve ID`, "
                                f"then `agentctl attach {session_id}`"
                            )
                            return ExitCode.WAITING
                        else:
                            err.print("[yellow]waiting for a decision from another client …[/]")
            except DaemonError:
                reconnects += 1
                if reconnects > 20:
                    raise
                err.print("[dim]lost the daemon; reconnecting …[/]")
                time.sleep(0.5)
                continue
            # the stream ended without an end status (daemon stopped): reconnect with the cursor
            reconnects += 1
            if reconnects > 20:
                raise DaemonError("the daemon keeps closing the stream")
            time.sleep(0.25)
    except KeyboardInterrupt:
        err.print(
            f"\ndetached; the session goes on in the daemon. Re-attach with: "
            f"agentctl attach {session_id} --after {cursor}"
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def _show(event: Envelope, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(event.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    renderable = render_event(event)
    if renderable is not None:
        out.print(renderable)


def _ask_pending(client: Any, session_id: str, who: str, asked: set[str]) -> None:
    for approval in client.approvals(session=session_id):
        if approval.id in asked:
            continue
        asked.add(approval.id)
        _ask_one(client, approval, who)


def _ask_one(client: Any, approval: Any, who: str) -> None:
    ctx = approval.context
    err.print(f"\n[bold yellow]approval {approval.id}[/]  tier [bold]{approval.tier}[/]  ({approval.rule})")
    if ctx.last_message:
        err.print(f"[dim]agent:[/] {ctx.last_message}")
    if ctx.reason and ctx.reason != "policy":
        err.print(f"[magenta]{ctx.reason}[/]")
    err.print(f"[bold]{approval.tool}[/] {json.dumps(approval.args, ensure_ascii=False)}")
    if approval.expires_at:
        err.print(f"[dim]expires at {approval.expires_at:%H:%M:%S} UTC[/]")
    while True:
        choice = Prompt.ask(
            "[a]pprove, [d]eny, [e]dit arguments, [s]how diff, [w]ait for another client",
            choices=["a", "d", "e", "s", "w"],
            default="a",
            console=err,
        )
        try:
            if choice == "a":
                client.decide(approval.id, Decide(decision="approve", approver=who))
                return
            if choice == "d":
                reason = Prompt.ask("reason", default="denied at the prompt", console=err)
                client.decide(approval.id, Decide(decision="deny", approver=who, reason=reason))
                return
            if choice == "e":
                raw = Prompt.ask("arguments (JSON)", default=json.dumps(approval.args), console=err)
                try:
                    args = json.loads(raw)
                except json.JSONDecodeError as exc:
                    err.print(f"[red]not JSON: {exc}[/]")
                    continue
                client.decide(approval.id, Decide(decision="approve", approver=who, args=args, reason="edited"))
                return
            if choice == "s":
                if ctx.diff:
                    err.print(Syntax(ctx.diff, "diff", theme="ansi_dark", background_color="default"))
                else:
                    err.print("[dim](no diff for this call)[/]")
                continue
            return  # wait
        except AgentctlError as exc:
            err.print(f"[red]{exc}[/]")
            return
