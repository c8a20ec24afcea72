"""The triggers' events: each schedule and each webhook is a stream of its own
(`schedule:NAME`, `hook:NAME`); alert deliveries go to the `alerts` stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from agentctl.protocol.base import EventData

Overlap = Literal["skip", "queue", "allow"]


class ScheduleAdded(EventData):
    TYPE: ClassVar[str] = "schedule.added"

    name: str
    cron: str
    tz: str = "UTC"
    overlap: Overlap = "skip"
    run: dict[str, Any]  # the CreateSession of each firing (its task, model, policy...)
    added_by: str = ""
    added_at: datetime  # by the runtime's clock: firings are due after it


class ScheduleChanged(EventData):
    """A schedule paused, resumed or removed: one shape, three types."""

    by: str = ""


class SchedulePaused(ScheduleChanged):
    TYPE: ClassVar[str] = "schedule.paused"


class ScheduleResumed(ScheduleChanged):
    TYPE: ClassVar[str] = "schedule.resumed"


class ScheduleRemoved(ScheduleChanged):
    TYPE: ClassVar[str] = "schedule.removed"


class ScheduleFired(EventData):
    TYPE: ClassVar[str] = "schedule.fired"

    due_at: datetime
    late_s: float = 0.0
    outcome: Literal["started", "skipped", "queued", "failed"]
    session: str | None = None
    manual: bool = False  # `schedule run-now`
    from_queue: bool = False  # a queued firing started when the one before it ended
    missed: int = 0  # earlier firings that fell due while the daemon was down (fired once)
    reason: str = ""


class HookAdded(EventData):
    TYPE: ClassVar[str] = "hook.added"

    name: str
    task_template: str
    run: dict[str, Any]
    secret_sha256: str  # the secret itself is a file (0600) beside the log, never in it
    max_body: int
    added_by: str = ""


class HookRemoved(EventData):
    TYPE: ClassVar[str] = "hook.removed"

    by: str = ""


class HookDelivered(EventData):
    TYPE: ClassVar[str] = "hook.delivered"

    delivery: str
    session: str
    payload: str  # the artifact holding the payload, under the artifacts folder
    sha256: str
    auth: Literal["signature", "token"]


class AlertDelivery(EventData):
    TYPE: ClassVar[str] = "alert.delivery"

    alert_id: str
    kind: str
    session: str
    target: Literal["command", "url"]
    attempt: int
    ok: bool
    error: str = ""
    retry_in_s: float | None = None  # None: no retry after this attempt
