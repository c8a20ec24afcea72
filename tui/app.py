"""The agentctl TUI: sessions, the selected session's timeline, the approval queue.

One app factory for the CLI and the tests: `AgentctlApp(client_factory=...,
session=...)`. The app talks to the daemon only through the `DaemonAPI` the
factory returns (an `agentctl.client.AsyncClient`), always from workers that
post typed messages back (`tui.messages`). Two follows run at once, both
reconnecting from their cursor when the daemon restarts (`agentctl.client.follow`):

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
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Header, Input, Static

from agentctl.client.follow import Backoff, Cursor, Link, Reconnect, by_offset, by_seq, follow
from agentctl.errors import AgentctlError, DaemonError
from agentctl.protocol import (
    ApprovalView,
    Budget,
    CreateSession,
    Decide,
    Envelope,
    ForkSession,
    ResumeSession,
    SessionStatus,
    default_approver,
)
from agentctl.terminal import clean_line
from tui.api import ClientFactory, DaemonAPI
from tui.bindings import KEYS, PALETTE
from tui.messages import (
    ActionDone,
    ActionFailed,
    ApprovalsLoaded,
    GlobalEvent,
    LinkChanged,
    SessionChanged,
    SessionsLoaded,
    TimelineEvent,
    TimelineFound,
    TimelinePage,
)
from tui.screens.dialogs import (
    ConfirmDialog,
    DenyDialog,
    EditArgsDialog,
    ForkDialog,
    HelpScreen,
    ResumeDialog,
    RunDialog,
)
from tui.screens.diff import DiffScreen
from tui.screens.info import DetailScreen, TraceScreen
from tui.widgets.approvals import ApprovalsPane, Clock
from tui.widgets.sessions import SessionsPane, short_id
from tui.widgets.timeline import PAGE, Timeline, found_in

DEBOUNCE_S = 0.15
# Events that change the approval queue: a new request, a decision, an interrupted call.
DECISIVE_ACTIONS = frozenset({"approve", "deny", "edit", "fork", "cancel_session"})
QUEUE_EVENTS = frozenset(
    {"approval.requested", "approval.decided", "approval.escalated", "session.status"}
)
TRIGGER_EVENTS = frozenset({"schedule", "hook", "alert"})  # streams that are not sessions
MIN_SIZE = (60, 16)  # below it the panes cannot show a row each: a message says so
EMPTY_HOME = (
    "no sessions yet — press ctrl+n to start a run here, "
    "or run `agentctl run TASK` in a shell (`agentctl run --help` for the options)"
)
PROMPTS = {
    "filter": "filter sessions: words of the task, id, label, profile or status (enter keeps it)",
    "search": "search the timeline (enter; then n / N for the next / previous match)",
    "seq": "go to seq (a number)",
}
StartDaemon = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


# How an error reads when it carries internals (a socket path, an HTTP status line).
INTERNAL_PREFIXES = ("no agentctl daemon answers on", "the daemon answered ", "Traceback")


def utc_now() -> datetime:
    return datetime.now(UTC)


class AgentctlApp(App[None]):
    """Watch sessions, read timelines, decide approvals, fork and cancel."""

    CSS_PATH = "app.tcss"
    TITLE = "agentctl"
    BINDINGS: ClassVar[list[BindingType]] = [key.binding() for key in KEYS]

    def __init__(
        self,
        client_factory: ClientFactory,
        session: str | None = None,
        *,
        approver: str | None = None,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
        debounce_s: float = DEBOUNCE_S,
        bell: bool = True,
        start_daemon: StartDaemon | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__()
        self.bell_on_approval = bell
        self.bells = 0  # rung for new approvals (the bell itself is silent when headless)
        self.start_daemon = start_daemon
        self._queue_seen = False  # the first queue is what was there, not news
        self._prompt_mode = ""
        self._prompt_back: str | None = None  # the filter to restore on escape
        self._last_search = ""
        self._link_state = ""
        self.client_factory = client_factory
        self.initial_session = session
        self.approver = approver or default_approver()
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.sleep = sleep  # every wait between tries goes through it (a test's clock)
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
        self.sessions = SessionsPane(clock=self.clock, id="sessions")
        self.timeline = Timeline(id="timeline")
        self.approvals = ApprovalsPane(self.clock, id="approvals")
        self.link_bar = Static("connecting to the daemon…", id="link")
        self.prompt = Input(id="prompt")
        self.too_small = Static(id="too-small")
        yield Header(show_clock=False)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.sessions
                yield self.timeline
                yield self.prompt
            yield self.approvals
        yield self.too_small
        yield self.link_bar
        yield Footer()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, then every action of the app by name (`tui.bindings`)."""
        yield from super().get_system_commands(screen)
        for key in PALETTE:
            yield SystemCommand(key.palette, key.help, getattr(self, f"action_{key.action}"))

    def on_mount(self) -> None:
        self.sub_title = f"deciding as {self.approver}"
        self.prompt.display = False
        self._fit(self.size.width, self.size.height)
        self.follow_all()

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        """Below `MIN_SIZE` the panes give way to a message saying so."""
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.too_small.update(
            f"The terminal is too small ({width}x{height}): agentctl needs at least "
            f"{MIN_SIZE[0]}x{MIN_SIZE[1]}. Make it larger, or press q to quit."
        )
        self.too_small.display = small
        self.query_one("#main").display = not small

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.aclose()

    # --- workers: the network side ------------------------------------------------

    @work(exclusive=True, group="global")
    async def follow_all(self) -> None:
        """Load sessions and approvals, then follow every event after the global offset."""
        self.client = client = await self.client_factory()
        await self._first_load(client)
        self._update_link()
        while True:
            events = follow(
                lambda after: client.all_events(after, follow=True),
                self.offset,
                key=by_offset,
                probe=self._resync,
                on_link=lambda link, detail: self._link("global", link, detail),
                backoff=self.backoff,
                sleep=self.sleep,
            )
            try:
                async for event in events:
                    self.post_message(GlobalEvent(event))
            except AgentctlError as exc:
                # Not a lost connection: the daemon refused the cursor (its log was
                # replaced). Start over from its end, with everything fetched again.
                self.post_message(ActionFailed("following the daemon", str(exc)))
                await self.sleep(self.backoff.maximum_s)
                with contextlib.suppress(AgentctlError):  # unreachable now: the follow retries
                    self.offset.value = (await client.status()).last_offset
                    await self._resync()

    async def _first_load(self, client: DaemonAPI) -> None:
        """The global offset, the sessions and the queue; retried, with the follow's
        backoff, until the daemon answers."""
        policy = Reconnect(
            self.offset,
            on_link=lambda link, detail: self._link("global", link, detail),
            backoff=self.backoff,
        )
        while True:
            try:
                self.offset.value = (await client.status()).last_offset
                await self._resync()
                policy.restored()
                return
            except DaemonError as exc:
                await self.sleep(policy.failed(exc))
            except AgentctlError as exc:  # a daemon that answers, but not as expected
                self.post_message(ActionFailed("loading the sessions", str(exc)))
                await self.sleep(self.backoff.maximum_s)

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
            sleep=self.sleep,
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

    @work(exclusive=True, group="search")
    async def search_timeline(self, session_id: str, query: str, here: int, step: int) -> None:
        """The next (step 1) or previous (-1) event after `here` whose words hold `query`.

        The whole log is searched, not only the pages the timeline holds: forward
        as one stream read until the first match, backward page by page.
        """
        client = self.client
        if client is None:
            return
        messages_only = self.timeline.messages_only
        found: int | None = None
        try:
            if step > 0:
                async for event in client.events(session_id, after=here):
                    if found_in(event, query, messages_only):
                        found = event.seq
                        break
            else:
                page = (here - 2) // PAGE
                while found is None and page >= 0 and here > 1:
                    chunk = [
                        e async for e in client.events(session_id, after=page * PAGE, limit=PAGE)
                    ]
                    for event in reversed(chunk):
                        if event.seq < here and found_in(event, query, messages_only):
                            found = event.seq
                            break
                    page -= 1
        except AgentctlError as exc:
            self.post_message(ActionFailed("the search", str(exc)))
            return
        self.post_message(TimelineFound(session_id, query, found))

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
        if not message.sessions:
            self.timeline.empty_hint = Text(EMPTY_HOME, style="dim")
            self.timeline.refresh_view()
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
        new = self.approvals.load(message.approvals, session=self.timeline.session)
        if self._queue_seen and new:
            self._announce(new)
        self._queue_seen = True
        self._update_target()

    def _announce(self, new: list[ApprovalView]) -> None:
        """A new approval: a notice naming it, and the terminal bell (`[tui] bell`)."""
        for approval in new:
            self.notify(
                f"{clean_line(approval.tool)} in {short_id(approval.session)} waits for a decision",
                title="approval requested",
                severity="warning",
                markup=False,
            )
        if self.bell_on_approval:
            self.bells += 1
            self.bell()

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

    @on(TimelineFound)
    def _timeline_found(self, message: TimelineFound) -> None:
        if message.session_id != self.timeline.session:
            return
        if message.seq is None:
            self.notify(f"no more matches for {clean_line(message.query)!r}", markup=False)
            return
        self.timeline.highlight_seq(message.seq)

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
            hint = "; press D to start it" if self.start_daemon else ""
            self.notify(
                f"the daemon does not answer; reconnecting{hint}",
                title="daemon unreachable",
                severity="warning",
            )
        elif message.link is Link.RESTORED and message.stream == "global":
            self.notify(
                "nothing was missed: the views go on from where they were",
                title="reconnected to the daemon",
            )
            if self.timeline.session is not None:
                self.timeline.mark_restart()
        self._update_link()
        self.refresh_bindings()

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.text)

    @on(ActionFailed)
    def _action_failed(self, message: ActionFailed) -> None:
        error = clean_line(message.error)  # the daemon's message may quote the model's words
        if error.startswith(INTERNAL_PREFIXES):  # a socket path, an HTTP status: not for people
            error = "the daemon could not do it; `agentctl daemon status` and its log say why"
        self.notify(
            error, title=f"{message.title} failed", severity="error", timeout=10, markup=False
        )

    def _timeline_seq(self) -> int:
        log = self.timeline.session_log
        return log.cursor if log else 0

    def _update_link(self) -> None:
        bar = self.link_bar
        lost = Link.LOST in self.links.values()
        if lost:
            state = "○ reconnecting… the daemon does not answer"
            if self.start_daemon is not None:
                state += " · D starts it"
        else:
            state = "● connected"
        if state != self._link_state:  # an update lays the screen out again: only on a change
            self._link_state = state
            bar.update(state)
        bar.set_class(lost, "lost")

    # --- actions --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Under a dialog a stray key must not decide or cancel anything behind it.
        if action in DECISIVE_ACTIONS and isinstance(self.screen, ModalScreen):
            return False
        if action in ("approve", "deny", "edit") and self.decision_target is None:
            return None  # shown dimmed: nothing of the session on screen to decide
        if action == "start_daemon":
            return self.start_daemon is not None and Link.LOST in self.links.values()
        if action == "resume":
            return None if self._selected_status() is not SessionStatus.PAUSED else True
        if action in ("fork", "cancel_session", "diff", "detail", "trace", "copy_id"):
            return None if self.sessions.selected is None else True
        if action == "find_next":
            return None if not self._last_search else True
        return True

    def _selected_status(self) -> SessionStatus | None:
        summary = self.sessions.summaries.get(self.sessions.selected or "")
        return summary.status if summary else None

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
            ForkDialog(event, lambda at, message, model: self._fork(event, at, message, model)),
            self._outcome,
        )

    async def _fork(self, event: Envelope, at: int, message: str | None, model: str | None) -> str:
        assert self.client is not None
        forked = await self.client.fork(
            event.session, ForkSession(at=at, message=message, model=model)
        )
        self._select_when_seen = forked.id
        self.post_message(SessionChanged(forked))
        return f"forked {event.session} at seq {at}: {forked.id}"

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

    # --- finding --------------------------------------------------------------------

    def action_find(self) -> None:
        """`/`: search the timeline when it has the focus, else filter the sessions."""
        self._open_prompt("search" if self.focused is self.timeline else "filter")

    def action_goto_seq(self) -> None:
        self._open_prompt("seq")

    def _open_prompt(self, mode: str) -> None:
        self._prompt_mode = mode
        self._prompt_back = self.sessions.query_text
        prompt = self.prompt
        prompt.placeholder = PROMPTS[mode]
        prompt.value = {"filter": self.sessions.query_text, "search": self._last_search}.get(
            mode, ""
        )
        prompt.display = True
        prompt.focus()

    @on(Input.Changed, "#prompt")
    def _prompt_changed(self, message: Input.Changed) -> None:
        if self._prompt_mode == "filter":
            self.sessions.set_filter(message.value)

    @on(Input.Submitted, "#prompt")
    def _prompt_submitted(self, message: Input.Submitted) -> None:
        mode, value = self._prompt_mode, message.value.strip()
        self._close_prompt(self.sessions if mode == "filter" else self.timeline)
        if mode == "search" and value:
            self._last_search = value
            self.action_find_next(1)
        elif mode == "seq":
            if not value.isdigit():
                self.notify(f"{clean_line(value)!r} is not a seq", severity="warning", markup=False)
                return
            self.timeline.highlight_seq(int(value))

    def _close_prompt(self, focus: Widget) -> None:
        self.prompt.display = False
        self._prompt_mode = ""
        focus.focus()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.prompt.has_focus:
            event.stop()
            if self._prompt_mode == "filter":
                self.sessions.set_filter(self._prompt_back or "")
            self._close_prompt(self.sessions if self._prompt_mode == "filter" else self.timeline)

    def action_find_next(self, step: int) -> None:
        session_id = self.timeline.session
        if session_id is None or not self._last_search:
            return
        here = self.timeline.selected_event
        self.search_timeline(session_id, self._last_search, here.seq if here else 0, step)

    def action_sort(self) -> None:
        self.notify(f"sessions by {self.sessions.next_sort()}, waiting ones first")

    def action_pane(self, name: str) -> None:
        {"sessions": self.sessions, "timeline": self.timeline}.get(
            name, self.approvals.table
        ).focus()

    # --- more actions -----------------------------------------------------------------

    def action_copy_id(self) -> None:
        session_id = self.sessions.selected
        if session_id is None:
            return
        self.copy_to_clipboard(session_id)  # OSC 52: the terminal puts it on the clipboard
        self.notify(f"copied {session_id}", title="to the clipboard")

    def action_resume(self) -> None:
        summary = self.sessions.summaries.get(self.sessions.selected or "")
        if summary is None or summary.status is not SessionStatus.PAUSED:
            self.notify("select a paused session to resume", severity="warning")
            return
        self.push_screen(
            ResumeDialog(summary, lambda budget, text: self._resume(summary.id, budget, text)),
            self._outcome,
        )

    async def _resume(self, session_id: str, budget: Budget | None, message: str | None) -> str:
        assert self.client is not None
        await self.client.resume(session_id, ResumeSession(message=message, budget=budget))
        return f"resumed {session_id}"

    def action_run(self) -> None:
        self.push_screen(RunDialog(self._run), self._outcome)

    async def _run(self, req: CreateSession) -> str:
        assert self.client is not None
        started = await self.client.create_session(req)
        self._select_when_seen = started.id
        self.post_message(SessionChanged(started))
        return f"started {started.id}"

    def action_detail(self) -> None:
        session_id = self.sessions.selected
        if session_id is not None:
            self.show_detail(session_id)

    @work(exclusive=True, group="detail")
    async def show_detail(self, session_id: str) -> None:
        """`agentctl show`, fetched fresh."""
        assert self.client is not None
        try:
            summary = await self.client.session(session_id)
            pending = await self.client.approvals(session=session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"detail of {session_id}", str(exc)))
            return
        self.push_screen(DetailScreen(summary, pending))

    def action_trace(self) -> None:
        session_id = self.sessions.selected
        if session_id is not None:
            self.show_trace(session_id)

    @work(exclusive=True, group="trace")
    async def show_trace(self, session_id: str) -> None:
        """`agentctl trace`: where the session's time went."""
        assert self.client is not None
        try:
            trace = await self.client.trace(session_id)
        except AgentctlError as exc:
            self.post_message(ActionFailed(f"trace of {session_id}", str(exc)))
            return
        self.push_screen(TraceScreen(trace))

    def action_start_daemon(self) -> None:
        if self.start_daemon is not None:
            self.notify("starting the daemon…")
            self.run_worker(self._start_daemon(), group="daemon", exclusive=True)

    async def _start_daemon(self) -> None:
        assert self.start_daemon is not None
        try:
            await self.start_daemon()
        except AgentctlError as exc:
            self.post_message(ActionFailed("starting the daemon", str(exc)))

    def run_action_worker(self, title: str, call: Awaitable[str]) -> None:
        self.run_worker(self._run_action(title, call), group="actions")

    async def _run_action(self, title: str, call: Awaitable[str]) -> None:
        try:
            self.post_message(ActionDone(await call))
        except AgentctlError as exc:
            self.post_message(ActionFailed(title, str(exc)))
