"""Following a session: stream its events, answer approvals inline, map the end to an exit code.

`run`, `resume`, `fork` and `attach` all end here. In a terminal a pending
approval is asked inline; piped, the command waits for another client's
decision, or exits 3 with `--no-wait`. Ctrl-C detaches: the session goes on
in the daemon and the message says how to re-attach. If the daemon restarts
under us, we reconnect with our cursor, so nothing is missed or shown twice.

Status events older than the moment we started following are history (a
resumed session has an old `completed` in its log); the status the session
had when we started is acted on once the backlog has caught up with it.

In a terminal (and not `--json`) the stream includes the live deltas of a
streamed model response, shown as they arrive (`cli/live.py`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.prompt import Prompt
from rich.syntax import Syntax

from agentctl.cli.common import err, out
from agentctl.cli.live import ENDS_CALL, LiveText
from agentctl.client.follow import Backoff, Link, follow_sync
from agentctl.errors import AgentctlError, ExitCode
from agentctl.protocol import (
    LIVE_DELTA,
    ApprovalView,
    Cursor,
    Decide,
    Envelope,
    SessionStatusChanged,
    SessionSummary,
    StartedSession,
    default_approver,
)
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
MAX_RECONNECTS = 20  # failed tries in a row before the follow gives up (about 10 s)
BACKOFF = Backoff(initial_s=0.25, factor=2.0, maximum_s=0.5)


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
        self.start_seq = 0  # events before it are history
        self.start_status = ""  # the status the session had when the follow began
        self.caught_up = False

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

    def run(
        self,
        cursor: Cursor,
        live: LiveText | None,
        opened: tuple[StartedSession, Iterator[Envelope]] | None,
    ) -> int:
        start: StartedSession | SessionSummary
        first: Iterable[Envelope] | None
        if opened is not None:
            start, first = opened
        else:
            start, first = self.client.session(self.session_id), None
        self.start_seq, self.start_status = start.last_seq, start.status.value
        self.caught_up = cursor.after >= start.last_seq
        if self.caught_up and (code := self.settle(self.start_status)) is not None:
            return code

        def open_stream(after: int) -> Iterable[Envelope]:
            nonlocal first
            stream, first = first, None  # `run`'s own stream first, then the ordinary one
            if stream is not None:
                return stream
            return self.client.events(
                self.session_id, after=after, follow=True, live=live is not None
            )

        events = follow_sync(
            open_stream,
            cursor,
            probe=self.client.health,
            on_link=_say_link,
            backoff=BACKOFF,
            max_attempts=MAX_RECONNECTS,
        )
        with contextlib.closing(events):
            for event in events:
                if event.type == LIVE_DELTA:
                    if live is not None:
                        live.add(event)
                    continue
                self.show(event, live)
                if (code := self.status_after(event)) is not None:
                    return code
        raise AssertionError("a follow ends only by returning or raising")

    def show(self, event: Envelope, live: LiveText | None) -> None:
        if live is not None:
            live.hide()
        show(event, self.as_json)
        if live is not None:
            if event.type in ENDS_CALL:
                live.clear()
            else:
                live.show()

    def status_after(self, event: Envelope) -> int | None:
        """The exit code if following ends at `event`. The status the session had when the
        follow began is acted on once the backlog has caught up with it."""
        if event.seq < self.start_seq:
            return None
        if event.type == SessionStatusChanged.TYPE:
            status = str(event.data["status"])
        elif not self.caught_up:
            status = self.start_status
        else:
            return None
        self.caught_up = True
        return self.settle(status)


def _say_link(link: Link, detail: str) -> None:
    if link is Link.LOST:
        err.print("[dim]lost the daemon; reconnecting …[/]")


def follow(
    client: Client,
    session_id: str,
    *,
    after: int = 0,
    as_json: bool = False,
    wait: bool = True,
    approver: str | None = None,
    opened: tuple[StartedSession, Iterator[Envelope]] | None = None,
) -> int:
    """Stream until the session ends, pauses or (without `wait`) waits. Returns the exit code.

    `opened` is a stream already open (`run`'s create-and-follow) with where
    the session was when it began; reconnects use the ordinary event stream
    (`agentctl.client.follow`: backoff, resumed from the cursor).
    """
    follower = _Follower(
        client, session_id, as_json=as_json, wait=wait, who=approver or default_approver()
    )
    cursor = Cursor(session_id, after)
    live = LiveText() if live_wanted(as_json) else None
    try:
        return follower.run(cursor, live, opened)
    except KeyboardInterrupt:
        if live is not None:
            live.clear()
        err.print(
            f"\ndetached; the session goes on in the daemon. Re-attach with: "
            f"agentctl attach {session_id} --after {cursor.after}"
        )
        raise typer.Exit(ExitCode.INTERRUPTED) from None


def live_wanted(as_json: bool) -> bool:
    """Live deltas are for a person at a terminal; pipes and --json get stored events only."""
    return not as_json and out.is_terminal


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
