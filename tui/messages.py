"""Messages the app's workers post back to the UI.

Workers do the network work (through `DaemonAPI`) and never touch widgets;
they post one of these and the app routes it to the widget that owns the
data. Each carries what its handler needs and nothing it has to look up.
"""

from __future__ import annotations

from textual.message import Message

from agentctl.client.follow import Link
from agentctl.protocol import ApprovalView, Envelope, SessionSummary


class SessionsLoaded(Message):
    """The whole session list (at start, and after a reconnect)."""

    def __init__(self, sessions: list[SessionSummary]) -> None:
        super().__init__()
        self.sessions = sessions


class SessionChanged(Message):
    """A fresh summary of one session whose events arrived."""

    def __init__(self, summary: SessionSummary) -> None:
        super().__init__()
        self.summary = summary


class ApprovalsLoaded(Message):
    """The pending approvals across all sessions."""

    def __init__(self, approvals: list[ApprovalView]) -> None:
        super().__init__()
        self.approvals = approvals


class GlobalEvent(Message):
    """One event of any session, from the global follow (offset cursor)."""

    def __init__(self, event: Envelope) -> None:
        super().__init__()
        self.event = event


class TimelineEvent(Message):
    """One event of the session whose timeline is followed (seq cursor)."""

    def __init__(self, event: Envelope) -> None:
        super().__init__()
        self.event = event


class TimelinePage(Message):
    """A page of a session's log the timeline asked for (empty when the fetch failed)."""

    def __init__(self, session_id: str, page: int, events: list[Envelope]) -> None:
        super().__init__()
        self.session_id = session_id
        self.page = page
        self.events = events


class TimelineFound(Message):
    """Where a timeline search landed (`seq` None: no match that way)."""

    def __init__(self, session_id: str, query: str, seq: int | None) -> None:
        super().__init__()
        self.session_id = session_id
        self.query = query
        self.seq = seq


class LinkChanged(Message):
    """A follow lost or regained the daemon."""

    def __init__(self, stream: str, link: Link, detail: str) -> None:
        super().__init__()
        self.stream = stream
        self.link = link
        self.detail = detail


class ActionDone(Message):
    """A decision, fork or cancel went through; `text` says what happened."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class ActionFailed(Message):
    """A call to the daemon failed; `title` says which, `error` why (the daemon's message)."""

    def __init__(self, title: str, error: str) -> None:
        super().__init__()
        self.title = title
        self.error = error
