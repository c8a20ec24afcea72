"""What every part of the protocol shares: its version, the envelope, the two base models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

PROTOCOL_VERSION = 1
LIVE_DELTA = "model.delta"  # the one live-only type: in streams that ask for it, never in the log


class SessionStatus(StrEnum):
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def ended(self) -> bool:
        return self in (SessionStatus.COMPLETED, SessionStatus.FAILED, SessionStatus.CANCELLED)


class Envelope(BaseModel):
    """One event as stored and as sent (NDJSON, one per line)."""

    model_config = ConfigDict(frozen=True)

    v: int = PROTOCOL_VERSION
    session: str
    seq: int
    offset: int
    ts: datetime
    type: str
    data: dict[str, Any]


class _Data(BaseModel):
    """Event data (and what it nests): unknown fields are ignored, so a newer log reads."""

    model_config = ConfigDict(extra="ignore")


class _Request(BaseModel):
    """A request body: unknown fields are refused, so a client's typo is a 422."""

    model_config = ConfigDict(extra="forbid")


class EventData(_Data):
    """The data of one type of event; `TYPE` is the type name it is stored under."""

    TYPE: ClassVar[str]
