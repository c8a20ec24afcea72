"""The agentctl TUI: sessions, the selected session's timeline, the approval queue.

One app factory for the CLI and the tests: `AgentctlApp(client_factory=...,
session=...)`. The app talks to the daemon only through the `DaemonAPI` the
factory returns (an `agentctl.client.AsyncClient`), always from workers that
post typed messages back (`tui.messages`). Two follows run at once, both
reconnecting from their cursor when the daemon restarts (`tui.follow`):

- the global follow (a global offset) keeps the sessions pane and the
  approval queue live: an event marks its session dirty, and the summaries of
  dirty sessions (and the queue) are fetched again after a short debounce;
- the timeline follow (a seq) backfills the selected session from the log,
  then goes on live. Selecting another session cancels it (exclusive worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static

from agentctl.errors import AgentctlError, DaemonError
from agentctl.protocol import ApprovalView, Decide, Envelope, ForkSession, default_approver
from agentctl.terminal import clean_line
from tui.api import ClientFactory, DaemonAPI
from tui.commands import AgentctlCommands
from tui.follow import Backoff, Cursor, Link, by_offset, by_seq, follow
from tui.messages import (
    ActionDone,
    ActionFailed,
    ApprovalsLoaded,
    GlobalEvent,
    LinkChanged,
    SessionChanged,
    SessionsLoaded,
    TimelineEvent,
    TimelinePage,
)
from tui.screens.dialogs import ConfirmDialog, DenyDialog, EditArgsDialog, ForkDialog, HelpScreen
from tui.screens.diff import DiffScreen
from tui.widgets.approvals import ApprovalsPane, Clock
from tui.widgets.sessions import SessionsPane, short_id
from tui.widgets.timeline import PAGE, Timeline

DEBOUNCE_S = 0.15
# Events that change the approval queue: a new request, a decision, an interrupted call.
DECISIVE_ACTIONS = frozenset({"approve", "deny", "edit", "fork", "cancel_session"})
QUEUE_EVENTS = frozenset(
    {"approval.requested", "approval.decided", "approval.escalated", "session.status"}
)
TRIGGER_EVENTS = frozenset({"schedule", "hook", "alert"})  # streams that are not sessions


def utc_now() -> datetime:
    return datetime.now(UTC)


class AgentctlApp(App[None]):
    """Watch sessions, read timelines, decide approvals, fork and cancel."""

    CSS_PATH = "app.tcss"
    TITLE = "agentctl"
    COMMANDS = App.COMMANDS | {AgentctlCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "approve", "Approve"),
        Binding("d", "deny", "Deny"),
        Binding("e", "edit", "Edit+approve"),
        Binding("f", "fork", "Fork here"),
        Binding("c", "cancel_session", "Cancel session"),
        Binding("v", "diff", "Diff", show=False),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        client_factory: ClientFactory,
        session: str | None = None,
        *,
        approver: str | None = None,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
        debounce_s: float = DEBOUNCE_S,
    ) -> None:
        super().__init__()
        self.client_factory = client_factory
        self.initial_session = session
        self.approver = approver or default_approver()
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.debounce_s = debounce_s
        self.client: DaemonAPI | None = None
        self.offset = Cursor()  # the global follow's cursor
        self.links: dict[str, Link] = {}
        self._dirty: set[str] = set()
        self._queue_dirty = False
        self._flush_timer: Timer | None = None
        self._refresh_lock = asyncio.Lock()
        self._select_when_seen: str | None = session

    def compose(self) -> ComposeResult:
        # Kept as attributes: a handler may run while a dialog is the current screen,
        # where a query would not find them.
        self.sessions = SessionsPane(id="sessions")
        self.timeline = Timeline(id="timeline")
        self.approvals = ApprovalsPane(self.clock, id="approvals")
        self.link_bar = Static("connecting…", id="link")
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.sessions
                yield self.timeline
            yield self.approvals
        yield self.link_bar
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"deciding as {self.approver}"
        self.follow_all()

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # --- workers: the network side ------------------------------------------------

    @work(exclusive=True, group="global")
    async def follow_all(self) -> None:
        """Load sessions and approvals, then follow every event after the global offset."""
        self.client = client = await self.client_factory()
        while True:  # the first load, retried like a reconnect until the daemon answers
            try:
                self.offset.value = (await client.status()).last_offset
                await self._resync()
                break
            except DaemonError as exc:
                self._link("global", Link.LOST, exc.message)
                await asyncio.sleep(self.backoff.maximum_s)
        self._update_link()
        while True:
            events = follow(
                lambda after: client.all_events(after, follow=True),
                self.offset,
                key=by_offset,
                probe=self._resync,
                on_link=lambda link, detail: self._link("global", link, detail),
                backoff=self.backoff,
            )
            try:
                async for event in events:
                    self.post_message(GlobalEvent(event))
            except AgentctlError as exc:
                # Not a lost connection: the daemon refused the cursor (its log was
                # replaced). Start over from its end, with everything fetched again.
                self.post_message(ActionFailed("following the daemon", str(exc)))
                await asyncio.sleep(self.backoff.maximum_s)
                with contextlib.suppress(AgentctlError):  # unreachable now: the follow retries
                    self.offset.value = (await client.status()).last_offset
                    await self._resync()

    async def _resync(self) -> None:
        """Fetch the session list and the queue whole (at start and after a reconnect)."""
        assert self.client is not None
        sessions = await self.client.sessions()
        approvals = await self.client.approvals()
        self.post_message(SessionsLoaded(sessions))
        self.post_message(ApprovalsLoaded(approvals))

    @work(exclusive=True, group="timeline")
    async def follow_timeline(self, session_id: str, after: int) -> None:
        """Backfill a session's events after `after`, then follow them live."""
        client = self.client
        if client is None:
            return
        cursor = Cursor(after)
        events = follow(
            lambda a: client.events(session_id, a, follow=True, live=True),
            cursor,
            key=by_seq,
            probe=client.health,
            on_link=lambda link, detail: self._link("timeline", link, detail),
            backoff=self.backoff,
        )
        try:
            async for event in events:
                self.post_message(TimelineEvent(event))
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"timeline of {session_id}", str(exc)))

    @work(group="pages")
    async def fetch_page(self, session_id: str, page: int) -> None:
        """One page of a session's log, for the timeline (it asks as the view reaches it)."""
        client = self.client
        if client is None:
            return
        try:
            events = [e async for e in client.events(session_id, after=page * PAGE, limit=PAGE)]
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"timeline of {session_id}", str(exc)))
            events = []
        self.post_message(TimelinePage(session_id, page, events))

    @work(group="refresh")
    async def refresh_dirty(self) -> None:
        """Fetch the summaries of sessions whose events arrived, and the queue if it changed."""
        client = self.client
        if client is None:
            return
        async with self._refresh_lock:
            dirty, self._dirty = self._dirty, set()
            queue, self._queue_dirty = self._queue_dirty, False
            try:
                for session_id in sorted(dirty):
                    self.post_message(SessionChanged(await client.session(session_id)))
                if queue:
                    self.post_message(ApprovalsLoaded(await client.approvals()))
            except DaemonError:
                self._dirty |= dirty  # the reconnect's resync fetches everything again
                self._queue_dirty |= queue
            except AgentctlError as exc:
                self.post_message(ActionFailed("refresh", str(exc)))

    def _link(self, stream: str, link: Link, detail: str) -> None:
        self.post_message(LinkChanged(stream, link, detail))

    # --- messages: the UI side ----------------------------------------------------

    @on(SessionsLoaded)
    def _sessions_loaded(self, message: SessionsLoaded) -> None:
        self.sessions.load(message.sessions)
        wanted = self._select_when_seen or self.timeline.session
        if wanted and self.sessions.select(wanted):
            self._select_when_seen = None
        elif self.timeline.session is None and message.sessions:
            self.sessions.select(message.sessions[-1].id)

    @on(SessionChanged)
    def _session_changed(self, message: SessionChanged) -> None:
        self.sessions.upsert(message.summary)
        if message.summary.id == self._select_when_seen:
            self._select_when_seen = None
            self.sessions.select(message.summary.id)

    @on(ApprovalsLoaded)
    def _approvals_loaded(self, message: ApprovalsLoaded) -> None:
        self.approvals.load(message.approvals, session=self.timeline.session)
        self._update_target()

    @on(ApprovalsPane.Highlighted)
    def _approval_highlighted(self, message: ApprovalsPane.Highlighted) -> None:
        """Keep the queue and the session on screen together, whichever moved."""
        shown = self.timeline.session
        if message.approval.session != shown:
            if message.by_person:
                self.sessions.select(message.approval.session)  # its timeline follows
            elif shown is not None:
                self.approvals.select_session(shown)
        self._update_target()

    @on(GlobalEvent)
    def _global_event(self, message: GlobalEvent) -> None:
        event = message.event
        if (
            event.type.partition(".")[0] in TRIGGER_EVENTS
        ):  # a schedule's, a hook's, an alert's stream
            return
        self._dirty.add(event.session)
        if event.type in QUEUE_EVENTS:
            self._queue_dirty = True
        if self._flush_timer is None:
            self._flush_timer = self.set_timer(self.debounce_s, self._flush_dirty)
        self._update_link()

    def _flush_dirty(self) -> None:
        self._flush_timer = None
        self.refresh_dirty()

    @on(TimelineEvent)
    def _timeline_event(self, message: TimelineEvent) -> None:
        self.timeline.add(message.event)

    @on(Timeline.PageWanted)
    def _page_wanted(self, message: Timeline.PageWanted) -> None:
        self.fetch_page(message.session_id, message.page)

    @on(TimelinePage)
    def _timeline_page(self, message: TimelinePage) -> None:
        self.timeline.add_page(message.session_id, message.page, message.events)

    @on(SessionsPane.Selected)
    def _session_selected(self, message: SessionsPane.Selected) -> None:
        if message.session_id == self.timeline.session:
            return
        summary = self.sessions.summaries.get(message.session_id)
        after = self.timeline.show(message.session_id, summary.last_seq if summary else 0)
        self.follow_timeline(message.session_id, after)
        self.approvals.select_session(message.session_id)
        self._update_target()

    @on(LinkChanged)
    def _link_changed(self, message: LinkChanged) -> None:
        self.links[message.stream] = message.link
        if message.link is Link.LOST and message.stream == "global":
            self.notify(
                f"{message.detail}; retrying, will resume after offset {self.offset.value}",
                title="daemon unreachable",
                severity="warning",
            )
        elif message.link is Link.RESTORED and message.stream == "global":
            self.notify(
                f"resumed after offset {self.offset.value}, timeline after seq {self._timeline_seq()}",
                title="reconnected to the daemon",
            )
        self._update_link()

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.text)

    @on(ActionFailed)
    def _action_failed(self, message: ActionFailed) -> None:
        error = clean_line(message.error)  # the daemon's message may quote the model's words
        self.notify(
            error, title=f"{message.title} failed", severity="error", timeout=10, markup=False
        )

    def _timeline_seq(self) -> int:
        log = self.timeline.session_log
        return log.cursor if log else 0

    def _update_link(self) -> None:
        bar = self.link_bar
        lost = Link.LOST in self.links.values()
        state = "○ daemon unreachable, reconnecting" if lost else "● connected"
        if self.links and not lost:
            state = "● reconnected"
        bar.update(f"{state} · offset {self.offset.value} · timeline seq {self._timeline_seq()}")
        bar.set_class(lost, "lost")

    # --- actions --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog a stray key must not decide or cancel anything behind it.
        if action in DECISIVE_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action in ("approve", "deny", "edit") and self.decision_target is None:
            return None  # shown dimmed: nothing of the session on screen to decide
        return True

    @property
    def decision_target(self) -> ApprovalView | None:
        """The approval `a`/`d`/`e` decide: always one of the session on screen.

        The queue's highlighted row when it is that session's, else the
        session's first pending approval; None when the session on screen has
        none, whatever else the queue holds.
        """
        shown = self.timeline.session
        selected = self.approvals.selected
        if selected is not None and selected.session == shown:
            return selected
        mine = self.approvals.of_session(shown)
        return mine[0] if mine else None

    def _update_target(self) -> None:
        """Name the target in the footer: `a Approve edit_file @…8RGN9CC`."""
        target = self.decision_target
        where = f" {clean_line(target.tool)} @{short_id(target.session)}" if target else ""
        for key, verb in (("a", "Approve"), ("d", "Deny"), ("e", "Edit+approve")):
            bindings = self._bindings.key_to_bindings.get(key, [])
            self._bindings.key_to_bindings[key] = [
                dataclasses.replace(b, description=verb + (where if key == "a" else ""))
                for b in bindings
            ]
        if self.screen_stack:  # a queue may arrive before the first screen, or after the last
            self.refresh_bindings()

    def _approval(self) -> ApprovalView | None:
        approval = self.decision_target
        if approval is None:
            self.notify(
                "the session on screen has no pending approval; select a waiting session",
                severity="warning",
            )
        return approval

    async def _decide(
        self,
        approval: ApprovalView,
        decision: str,
        *,
        reason: str = "",
        args: dict[str, Any] | None = None,
    ) -> str:
        assert self.client is not None
        body = Decide.model_validate(
            {"decision": decision, "approver": self.approver, "reason": reason, "args": args}
        )
        await self.client.decide(approval.id, body)
        verb = "approved" if decision == "approve" else "denied"
        return f"{verb} {clean_line(approval.tool)} ({approval.id})"

    def _outcome(self, outcome: str | None) -> None:
        if outcome:
            self.notify(outcome, markup=False)

    def action_approve(self) -> None:
        approval = self._approval()
        if approval is not None:
            self.run_action_worker("approve", self._decide(approval, "approve"))

    def action_deny(self) -> None:
        approval = self._approval()
        if approval is not None:
            dialog = DenyDialog(
                approval, lambda reason: self._decide(approval, "deny", reason=reason)
            )
            self.push_screen(dialog, self._outcome)

    def action_edit(self) -> None:
        approval = self._approval()
        if approval is not None:
            dialog = EditArgsDialog(
                approval, lambda args: self._decide(approval, "approve", args=args)
            )
            self.push_screen(dialog, self._outcome)

    def action_fork(self) -> None:
        event = self.timeline.selected_event
        if event is None:
            self.notify("select an event in the timeline to fork at", severity="warning")
            return
        self.push_screen(
            ForkDialog(event, lambda message, model: self._fork(event, message, model)),
            self._outcome,
        )

    async def _fork(self, event: Envelope, message: str | None, model: str | None) -> str:
        assert self.client is not None
        forked = await self.client.fork(
            event.session, ForkSession(at=event.seq, message=message, model=model)
        )
        self._select_when_seen = forked.id
        self.post_message(SessionChanged(forked))
        return f"forked {event.session} at seq {event.seq}: {forked.id}"

    def action_cancel_session(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            self.notify("no session selected", severity="warning")
            return
        question = (
            f"Cancel session {session_id}? Its pending approvals are dropped; it cannot be resumed."
        )
        self.push_screen(ConfirmDialog(question, lambda: self._cancel(session_id)), self._outcome)

    async def _cancel(self, session_id: str) -> str:
        assert self.client is not None
        await self.client.cancel(session_id, f"cancelled from the TUI by {self.approver}")
        return f"cancelled {session_id}"

    def action_diff(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            self.notify("no session selected", severity="warning")
            return
        self.show_diff(session_id)

    @work(exclusive=True, group="diff")
    async def show_diff(self, session_id: str) -> None:
        """Fetch the session's workspace diff, then show it (an error is a notification)."""
        assert self.client is not None
        try:
            diff = await self.client.diff(session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"diff of {session_id}", str(exc)))
            return
        self.push_screen(DiffScreen(diff))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def run_action_worker(self, title: str, call: Awaitable[str]) -> None:
        self.run_worker(self._run_action(title, call), group="actions")

    async def _run_action(self, title: str, call: Awaitable[str]) -> None:
        try:
            self.post_message(ActionDone(await call))
        except AgentctlError as exc:
            self.post_message(ActionFailed(title, str(exc)))
