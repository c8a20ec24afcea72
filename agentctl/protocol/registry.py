"""Every stored event type with its model, and the two ways between a model and its stored form.

On disk and on the wire an event is an `Envelope` (docs/design.md §3): its
`type` is the model's `TYPE` and its `data` the model dumped to JSON. Code
submits model instances (`event_data` is the one way to the stored form) and
reads them back with `parse_event`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentctl.protocol.base import EventData
from agentctl.protocol.events import (
    ApprovalDecided,
    ApprovalEscalated,
    ApprovalRequested,
    BudgetExceeded,
    CheckpointCreated,
    ContextCompacted,
    DelegateEnded,
    DelegateRejected,
    McpListed,
    ModelFailed,
    ModelRequested,
    ModelResponded,
    SandboxCreated,
    SandboxRestored,
    SessionCreated,
    SessionHalted,
    SessionStatusChanged,
    TimerFired,
    TimerSet,
    ToolFinished,
    ToolInterrupted,
    ToolProposed,
    ToolStarted,
    UserMessage,
    WorkspaceCopied,
)
from agentctl.protocol.triggers import (
    AlertDelivery,
    HookAdded,
    HookDelivered,
    HookRemoved,
    ScheduleAdded,
    ScheduleFired,
    SchedulePaused,
    ScheduleRemoved,
    ScheduleResumed,
)

# The stored types, each with its model (in the catalogue's order; docs/design.md §3).
EVENT_MODELS: tuple[type[EventData], ...] = (
    SessionCreated,
    SessionStatusChanged,
    UserMessage,
    ModelRequested,
    ModelResponded,
    ModelFailed,
    ToolProposed,
    ApprovalRequested,
    ApprovalDecided,
    ToolStarted,
    ToolFinished,
    ToolInterrupted,
    CheckpointCreated,
    SandboxCreated,
    SandboxRestored,
    BudgetExceeded,
    ApprovalEscalated,
    TimerSet,
    TimerFired,
    SessionHalted,
    ScheduleAdded,
    SchedulePaused,
    ScheduleResumed,
    ScheduleRemoved,
    ScheduleFired,
    HookAdded,
    HookRemoved,
    HookDelivered,
    AlertDelivery,
    WorkspaceCopied,
    McpListed,
    ContextCompacted,
    DelegateRejected,
    DelegateEnded,
)
EVENT_DATA: dict[str, type[EventData]] = {model.TYPE: model for model in EVENT_MODELS}
EVENT_TYPES: tuple[str, ...] = tuple(EVENT_DATA)


def event_data(event: EventData) -> dict[str, Any]:
    """The JSON-ready `data` of an event as it is stored (its type is `event.TYPE`).

    Only the registered models are events: a subclass or a stray model is
    refused, so nothing reaches the log under a type the catalogue lacks.
    """
    model = type(event)
    registered = EVENT_DATA.get(getattr(model, "TYPE", ""))
    if registered is not model:
        raise TypeError(
            f"{model.__name__} is not an event of the protocol "
            f"(the stored event models are agentctl.protocol.EVENT_MODELS)"
        )
    return event.model_dump(mode="json", exclude_none=False)


def parse_event(type_: str, data: Mapping[str, Any]) -> EventData | None:
    """A stored event's data as its model; None for a type this version does not know."""
    model = EVENT_DATA.get(type_)
    return None if model is None else model.model_validate(data)
