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
import gc
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Header, Input, Static

from agentctl.client.follow import Backoff, Link
from agentctl.protocol import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    ApprovalView,
    Cursor,
    SessionStatusChanged,
    default_approver,
)
from agentctl.terminal import clean_line
from tui.actions import Actions
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
from tui.network import Sleep, StartDaemon
from tui.widgets.approvals import ApprovalsPane, Clock
from tui.widgets.keys import KeysBar
from tui.widgets.sessions import SessionsPane, short_id
from tui.widgets.timeline import Timeline

DEBOUNCE_S = 0.15
# With `freeze_gc`: a full collection runs once no key or click came for
# GC_IDLE_S, and on its own only after GC_FULL_EVERY collections of the middle
# generation (Python's default is 10).
GC_IDLE_S = 2.0
GC_FULL_EVERY = 100
# Events that change the approval queue: a new request, a decision, an interrupted call.
QUEUE_EVENTS = frozenset(
    {
        ApprovalRequested.TYPE,
        ApprovalDecided.TYPE,
        ApprovalEscalated.TYPE,
        SessionStatusChanged.TYPE,
    }
)
TRIGGER_EVENTS = frozenset({"schedule", "hook", "alert"})  # streams that are not sessions
MIN_SIZE = (60, 16)  # below it the panes cannot show a row each: a message says so
EMPTY_HOME = (
    "no sessions yet — press ctrl+n to start a run here, "
    "or run `agentctl run TASK` in a shell (`agentctl run --help` for the options)"
)


# How an error reads when it carries internals (a socket path, an HTTP status line).
INTERNAL_PREFIXES = ("no agentctl daemon answers on", "the daemon answered ", "Traceback")


def utc_now() -> datetime:
    return datetime.now(UTC)


class MainScreen(Screen[None]):
    """The app's first screen: a focus move repaints what it changed, not the screen.

    Textual's `Screen.focused` repaints the whole screen when it changes (a
    full update, 20-40 ms here, each time a pane key moved the focus); the
    panes whose look depends on the focus repaint themselves as their styles
    change, and the key bar as the bindings do.
    """

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)


class AgentctlApp(Actions):
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
        freeze_gc: bool = False,
    ) -> None:
        """`freeze_gc` (the program sets it; a process that makes many apps does not):
        at mount, what exists then is kept out of the garbage collector's walks."""
        super().__init__()
        self.freeze_gc = freeze_gc
        self._last_input = 0.0  # time.monotonic() of the last key or click
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
                # Each pane in a box of its own: Textual repaints the whole of every
                # widget whose clip meets a changed region, and a pane's clip is its
                # container's. Boxed, a live timeline does not repaint the sessions.
                with Container(id="sessions-box"):
                    yield self.sessions
                with Container(id="timeline-box"):
                    yield self.timeline
                yield self.prompt
            with Container(id="approvals-box"):
                yield self.approvals
        yield self.too_small
        yield self.link_bar
        yield KeysBar()

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(id="_default")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's commands, then every action of the app by name (`tui.bindings`)."""
        yield from super().get_system_commands(screen)
        for key in PALETTE:
            yield SystemCommand(key.palette, key.help, getattr(self, f"action_{key.action}"))

    def on_mount(self) -> None:
        self.sub_title = f"deciding as {self.approver}"
        self.prompt.display = False
        self._fit(self.size.width, self.size.height)
        if self.freeze_gc:
            # What exists now (the modules of textual, rich, pydantic, httpx and
            # the screen) lives as long as the program: out of the collector's
            # way. A full collection walked all of it, 40-100 ms a time while
            # events arrived, and a key pressed then waited for it. The full
            # collections left wait for a pause in the typing.
            gc.freeze()
            young, middle, _ = gc.get_threshold()
            gc.set_threshold(young, middle, GC_FULL_EVERY)
            self.set_interval(GC_IDLE_S, self._collect_when_idle)
        self.follow_all()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def _collect_when_idle(self) -> None:
        """A full collection, if anything was allocated since the last and no key came for a while."""
        if gc.get_count()[2] and time.monotonic() - self._last_input >= GC_IDLE_S:
            gc.collect()

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
