"""What the runtime asks of the daemon when several daemons share one log (docs/scale.md).

With a single daemon (DuckDB, or PostgreSQL without workers) there is no
`Ownership` and the runtime drives every session, as it always did. A daemon
that is one worker among several gives the runtime one: the runtime then
drives only the sessions the worker holds a lease on, offers the others
(`spawn` of a session it does not hold puts it up for any worker to claim),
lets go of the ones that ended, and stops driving one whose append conflicts
(another writer got there: its lease was lost, or a decision was appended
elsewhere). The claiming worker recovers the session from the log exactly as
a restart would (`adopt`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Protocol

from agentctl.protocol import SessionStatus

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from typing import Any

    from agentctl.runtime.journal import Journal
    from agentctl.runtime.sandbox_host import SandboxHost

log = logging.getLogger(__name__)


class Ownership(Protocol):
    def holds(self, sid: str) -> bool:
        """Whether this worker holds the session's lease now."""
        ...

    def lease(self, sid: str) -> str | None:
        """The lease this session's appends must hold in the store (None: not held here)."""
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


class Delivers(Protocol):
    async def deliver(self, child_sid: str) -> None:
        """Give a child's end to its parent, if this process drives the parent."""
        ...


class WorkerHost(Protocol):
    """What adopting and dropping a session needs of the runtime."""

    @property
    def journal(self) -> Journal: ...
    @property
    def sandboxes(self) -> SandboxHost: ...
    @property
    def ownership(self) -> Ownership | None: ...
    @property
    def timers(self) -> Any: ...
    @property
    def delegations(self) -> Delivers: ...

    def spawn(self, sid: str) -> None: ...
    def actor(self, sid: str) -> asyncio.Task[None] | None: ...
    def schedule_expiry(self, sid: str, approval_id: str) -> None: ...
    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None: ...


async def adopt(rt: WorkerHost, sid: str) -> None:
    """Drive a session this worker just claimed, from the log, as a restart would."""
    state = await asyncio.to_thread(functools.partial(rt.journal.refresh, sid, unfence=False))
    if state is None or state.status is None or state.status.ended:
        if rt.ownership is not None:
            rt.ownership.ended(sid)
        return
    rt.journal.fenced.discard(sid)  # ours to write again
    if state.status is SessionStatus.RUNNING:
        rt.spawn(sid)
    elif state.status is SessionStatus.WAITING:
        await rt.sandboxes.hold(state)
        for approval in state.pending_approvals:
            rt.schedule_expiry(sid, approval.approval_id)
        rt.timers.arm(sid)
        if state.delegation.child:  # its child may have ended with nobody to deliver it
            rt.background(rt.delegations.deliver(state.delegation.child), name=f"deliver:{sid}")


def drop(rt: WorkerHost, sid: str) -> None:
    """Stop driving a session whose lease this worker lost (another one drives it now)."""
    rt.journal.fenced.add(sid)  # whatever the actor does on its way out is refused
    task = rt.actor(sid)
    if task is not None and not task.done():
        log.warning("session %s: lease lost, no longer driven here", sid)
        task.cancel()
    rt.background(_forget(rt, sid, task), name=f"forget:{sid}")


async def _forget(rt: WorkerHost, sid: str, task: asyncio.Task[None] | None) -> None:
    """Once the actor is gone, fold the session from the log: it follows the owner's."""
    if task is not None:
        await asyncio.gather(task, return_exceptions=True)
    # Still fenced: an actor that outlived its cancel must not append from the
    # refreshed state. Adoption (a claim) lifts the fence.
    await asyncio.to_thread(functools.partial(rt.journal.refresh, sid, unfence=False))
