"""The app's network side: workers that follow the daemon and fetch from it, posting typed
messages back (`tui.messages`); and the link bar that says whether the daemon answers.

Two follows run at once, both reconnecting from their cursor when the daemon
restarts (`agentctl.client.follow`): the global one (a global offset) keeps the
sessions pane and the queue live, the timeline one (a seq) backfills the
selected session, then goes on live.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from textual import work
from textual.app import App
from textual.widgets import Input, Static

from agentctl.client.follow import Backoff, Link, Reconnect, follow
from agentctl.errors import AgentctlError, DaemonError
from agentctl.protocol import Cursor
from tui.api import ClientFactory, DaemonAPI
from tui.messages import (
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
from tui.widgets.approvals import ApprovalsPane
from tui.widgets.event_text import found_in
from tui.widgets.session_log import PAGE
from tui.widgets.sessions import SessionsPane
from tui.widgets.timeline import Timeline

StartDaemon = Callable[[], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


class Network(App[None]):
    """The workers of `AgentctlApp` (a base class of it)."""

    # What the app holds (made in `AgentctlApp.__init__` and `compose`).
    client_factory: ClientFactory
    client: DaemonAPI | None
    approver: str
    backoff: Backoff
    sleep: Sleep
    start_daemon: StartDaemon | None
    offset: Cursor
    links: dict[str, Link]
    sessions: SessionsPane
    timeline: Timeline
    approvals: ApprovalsPane
    link_bar: Static
    prompt: Input
    _dirty: set[str]
    _queue_dirty: bool
    _refresh_lock: asyncio.Lock
    _link_state: str
    _select_when_seen: str | None
    _prompt_mode: str
    _prompt_back: str | None
    _last_search: str

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
                    self.offset.after = (await client.status()).last_offset
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
                self.offset.after = (await client.status()).last_offset
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
        cursor = Cursor(session_id, after)
        events = follow(
            lambda a: client.events(session_id, a, follow=True, live=True),
            cursor,
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
