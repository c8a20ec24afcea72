"""What the runtime asks of the daemon when several daemons share one log (docs/scale.md).

With a single daemon (DuckDB, or PostgreSQL without workers) there is no
`Ownership` and the runtime drives every session, as it always did. A daemon
that is one worker among several gives the runtime one: the runtime then
drives only the sessions the worker holds a lease on, offers the others
(`spawn` of a session it does not hold puts it up for any worker to claim),
lets go of the ones that ended, and stops driving one whose append conflicts
(another writer got there: its lease was lost, or a decision was appended
elsewhere). The claiming worker recovers the session from the log exactly as
a restart would (`Runtime.adopt`).
"""

from __future__ import annotations

from typing import Protocol


class Ownership(Protocol):
    def holds(self, sid: str) -> bool:
        """Whether this worker holds the session's lease now."""
        ...

    def offer(self, sid: str) -> None:
        """Put the session up for any worker to claim (not blocking)."""
        ...

    def ended(self, sid: str) -> None:
        """The session ended: let go of its lease (not blocking)."""
        ...

    def lost(self, sid: str) -> None:
        """An append conflicted: stop counting the session as held and offer it again."""
        ...
