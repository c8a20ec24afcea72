"""Following a session: stream its events, answer approvals inline, map the end to an exit code.

`run`, `resume`, `fork` and `attach` all end here. In a terminal a pending
approval is asked inline; piped, the command waits for another client's
decision, or exits 3 with `--no-wait`. Ctrl-C detaches: the session goes on
in the daemon and the message says how to re-attach. If the daemon restarts
under us, we reconnect with our cursor, so nothing is missed or shown twice.

Status events older than the moment we started following are history (a
resumed session has an old `completed` in its log); the status the session
had when we started is acted on once the backlog has caught up with it.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax

from agentctl.cli.common import err, out
from agentctl.errors import AgentctlError, DaemonError, ExitCode
from agentctl.protocol import ApprovalView, Decide, Envelope, default_approver
from agentctl.render import render_event
from agentctl.terminal import clean, clean_line, exact

if TYPE_CHECKING:
    from agentctl.client import Client

END_CODES = {
    "completed": ExitCode.COMPLETED,
    "failed": ExitCode.FAILED,
    "cancelled": ExitCode.CANCELLED,
    "paused": ExitCode.PAUSED,
}
MAX_RECONNECTS = 20


def interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


class _Follower:
    def __init__(
        self, client: Client, session_id: str, *, as_json: bool, wait: bool, who: str
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.as_json = as_json
        self.wait = wait
        self.who = who
        self.asked: set[str] = set()

    def settle(self, status: str) -> int | None:
        """The exit code when following should stop at `status`, else None (asking inline first)."""
        if status in END_CODES:
            return END_CODES[status]
        if status != "waiting":
            return None
        if interactive() and not self.as_json:
            self.ask_pending()
            return None
        if not self.wait:
            err.print(
                f"waiting for approval; decide with `agentctl approvals` and `agentctl approve ID`, "
                f"then `agentctl attach {self.session_id}`"
            )
            return ExitCode.WAITING
        err.print("[yellow]waiting for a decision from another client …[/]")
        return None

    def ask_pending(self) -> None:
        for approval in self.client.approvals(session=self.session_id):
            if approval.id in self.asked:
                continue
            self.asked.add(approval.id)
            _ask_one(self.client, approval, self.who)


def follow(
    client: Client,
    session_id: str,
    *,
    after: int = 0,
    as_json: bool = False,
    wait: bool = True,
    approver: str | None = None,
) -> int:
    """Stream until the session ends, pauses or (without `wait`) waits. Returns the exit code."""
    follower = _Follower(
        client, session_id, as_json=as_json, wait=wait, who=approver or default_approver()
    )
    cursor = after
    reconnects = 0
    try:
        start = client.session(session_id)
        caught_up = after >= start.last_seq
        if caught_up and (code := follower.settle(start.status.value)) is not None:
            return code
        while True:
            try:
                for event in client.events(session_id, after=cursor, follow=True):
                    cursor = event.seq
                    reconnects = 0
                    show(event, as_json)
                    if event.seq < start.last_seq:
                        continue
                    if event.type == "session.status":
                        caught_up = True
                        status = str(event.data["status"])
                    elif not caught_up:
                        caught_up = True
                        status = start.status.value
                    else:
                        continue
                    if (code := follower.settle(status)) is not None:
                        return code
            except DaemonError:
                reconnects += 1
                if reconnects > MAX_RECONNECTS:
                    raise
                err.print("[dim]lost the daemon; reconnecting …[/]")
                time.sleep(0.5)
                continue
            # the stream ended without an end status (the daemon stopped): reconnect with the cursor
            reconnects += 1
            if reconnects > MAX_RECONNECTS:
                raise DaemonError("the daemon keeps closing the stream")
            time.sleep(0.25)
    except KeyboardInterrupt:
        err.print(
            f"\ndetached; the session goes on in the daemon. Re-attach with: "
            f"agentctl attach {session_id} --after {cursor}"
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def show(event: Envelope, as_json: bool, *, fold: bool = True) -> None:
    """One event on stdout: its NDJSON envelope, flushed, or its Rich rendering."""
    if as_json:
        sys.stdout.write(event.model_dump_json() + "\n")
        sys.stdout.flush()
        return
    renderable = render_event(event, fold=fold)
    if renderable is not None:
        out.print(renderable)


def _ask_one(client: Client, approval: ApprovalView, who: str) -> None:
    ctx = approval.context
    err.print(
        f"\n[bold yellow]approval {approval.id}[/]  tier [bold]{approval.tier}[/]  "
        f"({escape(clean_line(approval.rule))})"
    )
    if ctx.last_message:  # the model's words: no control sequence reaches the terminal
        err.print(f"[dim]agent:[/] {escape(clean(ctx.last_message))}")
    if ctx.reason and ctx.reason != "policy":
        err.print(clean(ctx.reason), style="magenta", markup=False)
    # exactly what is approved: whole, as JSON, every hidden character shown
    err.print(f"{clean_line(approval.tool)} {exact(approval.args)}", style="bold", markup=False)
    if approval.expires_at:
        err.print(f"[dim]expires at {approval.expires_at:%H:%M:%S} UTC[/]")
    while True:
        choice = Prompt.ask(
            r"\[a]pprove, \[d]eny, \[e]dit arguments, \[s]how diff, \[w]ait for another client",
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
                if not isinstance(args, dict):
                    err.print("[red]the arguments must be a JSON object[/]")
                    continue
                client.decide(
                    approval.id,
                    Decide(decision="approve", approver=who, args=args, reason="edited"),
                )
                return
            if choice == "s":
                if ctx.diff:
                    err.print(
                        Syntax(
                            clean(ctx.diff), "diff", theme="ansi_dark", background_color="default"
                        )
                    )
                else:
                    err.print("[dim](no diff for this call)[/]")
                continue
            return  # wait
        except AgentctlError as exc:
            err.print(clean(str(exc)), style="red", markup=False)
            return
