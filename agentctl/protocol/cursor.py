"""Where a follower is in the log: one type for the daemon's streams and the clients' follows.

A cursor names a session (positions are its `seq`) or none (positions are
the global `offset`), and the position after which events are wanted. The
daemon reads and streams from one (`agentctl.daemon.stream`); a client's
reconnecting follow (`agentctl.client.follow`) moves one past each event it
passes on, and opens the next stream from where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Positioned(Protocol):
    """An event as stored (`store.StoredEvent`) or as sent (`Envelope`)."""

    @property
    def seq(self) -> int: ...

    @property
    def offset(self) -> int: ...


@dataclass
class Cursor:
    """After `after` in session `session` (by seq), or in every session (by offset)."""

    session: str | None = None
    after: int = 0

    def position(self, event: Positioned) -> int:
        return event.seq if self.session is not None else event.offset

    def holds(self, stream: str) -> bool:
        """Whether events of `stream` are on this cursor's way."""
        return self.session is None or stream == self.session

    def advance(self, event: Positioned) -> bool:
        """Move past `event`; False (and stay) for one at or before the cursor (a resent one)."""
        position = self.position(event)
        if position <= self.after:
            return False
        self.after = position
        return True
